"""The published `config.json`'s values, read without executing anything (a security boundary).

The published `main.py` passes most settings to `eval()`, so its config.json holds strings such as
`"[1, 1, 1/2]"`, `"[100] * len(factors)"`, `"L_cls1/2"` or `"'cpu'"`. This reader understands exactly what
those need: numbers, quoted text, lists, arithmetic, `len()`, True/False/None, the names `main.py` defines
before a key is read (`PUBLISHED_VARIABLES`) and the published device expression. Anything else is refused
with one line, and sizes are bounded so that a few characters cannot take gigabytes.
"""

from __future__ import annotations

import ast
import math
import operator
import re
import reprlib
from typing import Any, ClassVar

from pacgan_cli.core.errors import ConfigError

# Bounds on what a configuration may make the reader build, so a few characters cannot take gigabytes.
MAX_ELEMENTS = 10_000  # list entries in one setting, nested lists counted in full
MAX_DEPTH = 20  # nesting of one expression
MAX_INTEGER = 2**63 - 1


# The variable names the published main.py gives each setting, which config.json expressions may use
# (each one only in the keys read after it, as in main.py). `device` is left out: the published value is
# decided by the machine ('cuda' or 'cpu'), ours may be 'auto'.
PUBLISHED_VARIABLES = {
    "img_channels": "image_channels",
    "class_size": "class_size",
    "in_channels": "in_channels",
    "factors": "factors",
    "lr": "learning_rate",
    "bs": "batch_sizes",
    "embedding_dim": "embedding_dim",
    "z_dim": "z_dim",
    "critic_iterations": "critic_iterations",
    "L_GP": "lambda_gp",
    "L_cls1": "lambda_cls_1",
    "L_cls2": "lambda_cls_2",
    "prog_epochs": "progressive_epochs",
    "disp_every_n_epochs": "disp_every_n_epochs",
    "validate": "validate",
    "perc": "start_check_at",
    "testing": "testing",
    "use_best_model": "test_using_best_model",
    "generate": "generate",
    "gen_n_images": "n_images_generated",
    "gpus": "gpus_n",
}


def evaluate_expression(text: str, names: dict[str, Any] | None = None) -> Any:
    """Evaluate a published config expression without executing anything.

    Understands numbers, strings, lists, list[a:b] and list[i], + - * / // % **, unary minus, `not`,
    len(x), True/False/None, the names in `names`, torch.device('x') (-> 'x') and
    `'cuda' if torch.cuda.is_available() else 'cpu'` (which becomes 'auto'; with 'cuda:N', 'auto:N').
    """
    if len(text) > 1000:
        raise ConfigError(f"expression too long ({len(text)} characters)")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ConfigError(f"cannot read {shown(text)} ({error.msg})") from error
    except (ValueError, RecursionError, MemoryError) as error:  # null bytes; nesting Python cannot parse
        raise ConfigError(f"cannot read {shown(text)} (not an expression pacgan reads)") from error
    return _ExpressionReader(text, names or {}).visit(tree.body)


class _CudaAvailable:
    """Stands for `torch.cuda.is_available()`, which is decided when training starts, not when reading."""


class _ExpressionReader:
    OPERATORS: ClassVar[dict[type, Any]] = {
        ast.Add: operator.add,
        ast.Sub: operator.sub,
        ast.Mult: operator.mul,
        ast.Div: operator.truediv,
        ast.FloorDiv: operator.floordiv,
        ast.Mod: operator.mod,
        ast.Pow: operator.pow,
    }
    TOO_MANY: ClassVar[str] = (
        f"lists are limited to {MAX_ELEMENTS} entries in all, nested lists counted in full"
    )

    def __init__(self, text: str, names: dict[str, Any]) -> None:
        self.text = text
        self.names = names
        self.depth = 0

    def refuse(self, what: str) -> ConfigError:
        return ConfigError(
            f"{shown(self.text)} is not allowed ({what}); only numbers, lists, arithmetic, len(), "
            "True/False and the published device expression are understood"
        )

    def visit(self, node: ast.AST) -> Any:
        """The value of `node`, refusing expressions nested more than `MAX_DEPTH` deep."""
        if self.depth >= MAX_DEPTH:
            raise self.refuse(f"nested more than {MAX_DEPTH} levels deep")
        self.depth += 1
        try:
            return self.value_of(node)
        finally:
            self.depth -= 1

    def value_of(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, bool | str | type(None)):
            return node.value
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return self.bounded(node.value)
        if isinstance(node, ast.List | ast.Tuple):
            return self.sized([self.visit(item) for item in node.elts])
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            value = self.number(self.visit(node.operand))
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            value = self.visit(node.operand)
            if not isinstance(value, bool):
                raise self.refuse("`not` works on True/False only")
            return not value
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.BinOp) and type(node.op) in self.OPERATORS:
            return self.binary(node)
        if isinstance(node, ast.Name):
            if node.id in ("True", "False", "None"):
                return {"True": True, "False": False, "None": None}[node.id]
            if node.id in self.names:
                return self.names[node.id]
            raise self.refuse(f"unknown name {node.id!r}")
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.IfExp):
            return self.device_choice(node)
        raise self.refuse(f"{type(node).__name__} expressions")

    def binary(self, node: ast.BinOp) -> Any:
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, ast.Mult) and isinstance(left, list) != isinstance(right, list):
            items, count = (left, right) if isinstance(left, list) else (right, left)
            if not isinstance(count, int) or isinstance(count, bool):
                raise self.refuse("a list can only be repeated a whole number of times")
            if element_count(items, MAX_ELEMENTS) * max(count, 0) > MAX_ELEMENTS:
                raise self.refuse(self.TOO_MANY)
            return items * count
        if isinstance(node.op, ast.Add) and isinstance(left, list) and isinstance(right, list):
            return self.sized(left + right)
        left, right = self.number(left), self.number(right)
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 1e6):
            raise self.refuse("powers are limited to small numbers")
        try:
            result = self.OPERATORS[type(node.op)](left, right)
        except ZeroDivisionError as error:
            raise self.refuse("division by zero") from error
        except OverflowError as error:
            raise self.refuse("the number overflows") from error
        if not isinstance(result, int | float):
            raise self.refuse("the result is not a real number")
        return self.bounded(result)

    def sized(self, items: list[Any]) -> list[Any]:
        if element_count(items, MAX_ELEMENTS) > MAX_ELEMENTS:
            raise self.refuse(self.TOO_MANY)
        return items

    def bounded(self, value: int | float) -> int | float:
        """A finite float, or an int that fits in 64 bits: `1e400` and `10**30` are errors, not inf or huge."""
        if (isinstance(value, float) and not math.isfinite(value)) or (
            isinstance(value, int) and abs(value) > MAX_INTEGER
        ):
            raise self.refuse("the number overflows")
        return value

    def subscript(self, node: ast.Subscript) -> Any:
        """`[32, 32, 16][:len(factors)]` or `bs[0]`: whole-number indices and slices of a list."""
        items = self.visit(node.value)
        if not isinstance(items, list):
            raise self.refuse("only lists can be indexed")
        if isinstance(node.slice, ast.Slice):
            if node.slice.step is not None:
                raise self.refuse("slices take a start and an end only")
            bounds = [
                None if part is None else self.index(part) for part in (node.slice.lower, node.slice.upper)
            ]
            return items[bounds[0] : bounds[1]]
        try:
            return items[self.index(node.slice)]
        except IndexError as error:
            raise self.refuse("index out of range") from error

    def index(self, node: ast.AST) -> int:
        value = self.visit(node)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.refuse("indices must be whole numbers")
        return value

    def number(self, value: Any) -> float | int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.refuse("arithmetic works on numbers only")
        return value

    def call(self, node: ast.Call) -> Any:
        if _dotted_name(node.func) == "torch.cuda.is_available" and not node.args and not node.keywords:
            return _CudaAvailable()
        if _dotted_name(node.func) == "torch.device" and len(node.args) == 1 and not node.keywords:
            value = self.visit(node.args[0])
            if not isinstance(value, str):
                raise self.refuse("torch.device() takes a device name")
            return value
        if _dotted_name(node.func) == "len" and len(node.args) == 1 and not node.keywords:
            value = self.visit(node.args[0])
            if not isinstance(value, list | str):
                raise self.refuse("len() takes a list")
            return len(value)
        raise self.refuse(f"calling {_dotted_name(node.func) or 'a function'}")

    def device_choice(self, node: ast.IfExp) -> str:
        """`'cuda' if torch.cuda.is_available() else 'cpu'` -> 'auto', `'cuda:N' if ...` -> 'auto:N': the
        machine decides when the run starts, as it did for the published code."""
        test, body, orelse = self.visit(node.test), self.visit(node.body), self.visit(node.orelse)
        if (
            isinstance(test, _CudaAvailable)
            and isinstance(body, str)
            and re.fullmatch(r"cuda(:\d+)?", body)
            and orelse == "cpu"
        ):
            return "auto" + body.removeprefix("cuda")
        raise self.refuse(
            "the only conditional understood is 'cuda' (or 'cuda:N') if torch.cuda.is_available() else 'cpu'"
        )


def _dotted_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        prefix = _dotted_name(node.value)
        return f"{prefix}.{node.attr}" if prefix else ""
    return ""


def element_count(value: Any, limit: int) -> int:
    """Entries of `value` and of every list or mapping inside it (one repeated by reference counts each time),
    counted only until `limit` is passed, so measuring a huge nested value costs almost nothing."""
    count, pending = 0, [value]
    while pending and count <= limit:
        item = pending.pop()
        if isinstance(item, list | tuple | dict):
            entries = list(item.values()) if isinstance(item, dict) else item
            count += len(entries)
            if count <= limit:
                pending.extend(entries)
    return count


def shown(value: Any) -> str:
    """`repr(value)`, shortened (a few entries, levels and characters): an error line never echoes a huge
    value, and shortening one costs nothing however large it is."""
    short = reprlib.Repr()
    short.maxlevel, short.maxlist, short.maxtuple, short.maxdict = 3, 6, 6, 6
    short.maxstring, short.maxother, short.maxlong = 60, 60, 40
    return short.repr(value)


def clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
