"""Training configuration: one frozen dataclass holding every published setting plus ours.

Names are the published UPPER_CASE names in lower_snake_case (`BATCH_SIZES` -> `batch_sizes`). The
published `config.json` is read as it is: its string values such as `"[1, 1, 1/2]"`, `"[100] * len(factors)"`
or `"L_cls1/2"` are understood by a small expression reader that only knows numbers, lists, arithmetic,
`len()`, True/False, quoted text (`"'cpu'"`) and the published device expression; nothing from a file is
ever executed. Every key the published `main.py` passes to `eval()` is read this way, with the variables
its earlier lines define (`factors`, `L_cls1`, `bs`, ...).
Precedence: defaults < config file < explicit command-line options (`resolve_config`).
"""

from __future__ import annotations

import ast
import difflib
import json
import math
import operator
import os
import re
import reprlib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, ClassVar

import yaml

from pacgan_cli.core.classes import check_class_names
from pacgan_cli.core.errors import ConfigError
from pacgan_cli.core.stages import is_stage_size, size_to_stage, stage_size

DEFAULT_FACTORS = (1.0, 1.0, 1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32)
DEFAULT_BATCH_SIZES = (32, 32, 32, 16, 16, 16, 16)
DEFAULT_CRITIC_ITERATIONS = (1, 1, 1, 1, 1, 2, 2)
DEFAULT_EPOCHS = 100
PER_STAGE_KEYS = ("batch_sizes", "critic_iterations", "progressive_epochs")
# The published code reads these per stage and never looks past the last one (extra entries are unused);
# progressive_epochs decides how many stages it runs, so there a longer list stays an error.
UNREAD_BEYOND_LAST_STAGE = ("batch_sizes", "critic_iterations")
STAGE_HANDOVERS = ("last", "best")
PRECISIONS = ("fp32", "bf16")
GENERATOR_PADDINGS = ("zeros", "replicate")  # zeros: published; replicate: no bright corner pixels
AUGMENT_MODES = ("none", "diffaugment", "ada")  # none: published; see core/training/augment.py
AUGMENT_TRANSFORMS = ("translation", "cutout", "brightness", "contrast", "saturation")
COLOUR_TRANSFORMS = ("saturation",)
# Bounds on what a configuration may make the reader build, so a few characters cannot take gigabytes.
MAX_CONFIG_BYTES = 2**20  # a configuration is a few kilobytes
MAX_ELEMENTS = 10_000  # list entries in one setting, nested lists counted in full
MAX_DEPTH = 20  # nesting of one expression
MAX_INTEGER = 2**63 - 1


@dataclass(frozen=True)
class TrainingConfig:
    """Every training setting with its published default (ours are marked in the YAML template)."""

    data_train_directory: str = "data/ADNI/ADNI_train"
    label_train_directory: str = "data/ADNI/ADNI_train/labels.csv"
    data_test_directory: str = "data/ADNI/ADNI_test"
    label_test_directory: str = "data/ADNI/ADNI_test/labels.csv"
    image_directory: str = "saved_images/PACGAN"
    model_directory: str = "saved_models/PACGAN"
    image_channels: int = 1
    class_size: int = 2
    device: str = "auto"
    gpus_n: tuple[int, ...] = (0,)
    in_channels: int = 512
    factors: tuple[float, ...] = DEFAULT_FACTORS
    learning_rate: float = 1e-3
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES
    embedding_dim: int = 3
    z_dim: int = 512
    critic_iterations: tuple[int, ...] = DEFAULT_CRITIC_ITERATIONS
    lambda_gp: float = 10.0
    lambda_cls_1: float = 4.0
    lambda_cls_2: float = 2.0
    progressive_epochs: tuple[int, ...] = (DEFAULT_EPOCHS,) * 7
    disp_every_n_epochs: int = 50
    validate: bool = True
    start_check_at: float = 0.6
    testing: bool = False
    test_using_best_model: bool = True
    generate: bool = True
    n_images_generated: tuple[int, ...] = (200,)
    load_model: bool = False
    start_train_at_img_size: int = 4
    seed: int = 8
    stage_handover: str = "last"
    adam_betas: tuple[float, ...] = (0.5, 0.999)
    drift_weight: float = 0.001
    validation_folds: int = 5
    best_epochs_from: str | None = None
    ema: bool = False
    ema_decay: float = 0.999
    samples_per_class: int = 8
    class_names: tuple[str, ...] = ()
    generator_padding: str = "zeros"
    precision: str = "fp32"
    compile: bool = False
    checkpoint_every_epochs: int = 1
    checkpoint_every_minutes: float = 10.0
    tensorboard: bool = False
    augment: str = "none"
    augment_transforms: tuple[str, ...] = ("translation", "cutout", "brightness", "contrast")
    ada_target: float = 0.6
    ada_step: float = 0.05

    @property
    def num_stages(self) -> int:
        return len(self.factors)

    @property
    def max_size(self) -> int:
        return stage_size(self.num_stages - 1)

    @property
    def start_stage(self) -> int:
        return size_to_stage(self.start_train_at_img_size) if self.load_model else 0


FIELD_TYPES = {f.name: f.type for f in fields(TrainingConfig)}
DEFAULT_CONFIG = TrainingConfig()
KNOWN_KEYS = tuple(FIELD_TYPES)

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
BARE_DEVICE = re.compile(r"[\w:]+")  # cpu, cuda, cuda:1, auto: taken as they are, not as expressions
# auto (CUDA when there is a GPU, else the CPU), auto:N (GPU N when there is one, else the CPU), cpu,
# cuda (the GPUs of gpus_n), cuda:N (GPU N alone).
DEVICE_NAME = re.compile(r"cpu|(auto|cuda)(:\d+)?")


def resolve_config(
    path: str | os.PathLike[str] | None, overrides: dict[str, Any] | None = None
) -> TrainingConfig:
    """Defaults < file (YAML, or the published config.json) < explicit overrides; validated."""
    raw = read_config_file(path) if path is not None else {}
    raw.update({key: value for key, value in (overrides or {}).items() if value is not None})
    return build_config(raw, source=str(path) if path else "options")


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML file or a published config.json into a dict of lower-case keys (values not yet checked)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path}: {path.stat().st_size} bytes is too large for a configuration file (at most {MAX_CONFIG_BYTES})"
        )
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {error.start} cannot be decoded); save the file as UTF-8"
        ) from error
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except RecursionError as error:
        raise ConfigError(f"{path}: cannot be parsed (values nested too deeply)") from error
    except (ValueError, yaml.YAMLError) as error:  # ValueError: JSON errors, integers of thousands of digits
        raise ConfigError(f"{path}: cannot be parsed ({_clip(str(error).splitlines()[0], 200)})") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of setting names to values")
    for key, value in data.items():
        if _element_count(value, MAX_ELEMENTS) > MAX_ELEMENTS:
            raise ConfigError(
                f"{path}: `{_clip(str(key))}` holds more than {MAX_ELEMENTS} values (nested lists counted in full)"
            )
    return {str(key).lower(): value for key, value in data.items() if not str(key).startswith("//")}


def build_config(raw: dict[str, Any], source: str = "config") -> TrainingConfig:
    """Turn raw values (numbers, lists, published expression strings) into a validated TrainingConfig."""
    unknown = [key for key in raw if key not in FIELD_TYPES]
    if unknown:
        raise ConfigError("\n".join(_unknown_key_message(key, source) for key in unknown))
    values: dict[str, Any] = {}
    names: dict[str, Any] = {}
    problems: list[str] = []
    for key in KNOWN_KEYS:
        if key in raw:
            try:
                values[key] = _coerce(key, raw[key], names)
            except ConfigError as error:
                problems.append(str(error))
                continue
            value = values[key]
        elif key in PER_STAGE_KEYS:  # a later expression sees the default a missing key will get
            value = _default_per_stage(key, len(names.get("factors", DEFAULT_FACTORS)))
        else:
            value = getattr(DEFAULT_CONFIG, key)
        for variable, field_name in PUBLISHED_VARIABLES.items():
            if field_name == key:
                names[variable] = list(value) if isinstance(value, tuple) else value
    if problems:
        raise ConfigError("\n".join(problems))
    factors = values.get("factors", DEFAULT_FACTORS)
    for key in PER_STAGE_KEYS:
        if key not in values:
            values[key] = _default_per_stage(key, len(factors))
        elif isinstance(raw[key], int) and not isinstance(raw[key], bool):
            values[key] = values[key] * len(factors)
    for key in UNREAD_BEYOND_LAST_STAGE:  # so a config.json with fewer FACTORS but the 7 defaults runs
        values[key] = values[key][: len(factors)]
    if "lambda_cls_1" in values and "lambda_cls_2" not in values:
        values["lambda_cls_2"] = values["lambda_cls_1"] / 2
    config = TrainingConfig(**values)
    validate_config(config)
    return config


def validate_config(config: TrainingConfig) -> None:
    """Raise one ConfigError listing every problem, one line each."""
    problems: list[str] = []
    stages = config.num_stages

    def check(condition: bool, message: str) -> None:
        if not condition:
            problems.append(message)

    check(stages >= 1, "`factors` needs at least one entry (one per stage)")
    check(all(f > 0 for f in config.factors), "`factors` must all be positive")
    check(
        all(int(config.in_channels * f) >= 1 for f in config.factors),
        "`in_channels` x each factor must give at least 1 channel",
    )
    for key in PER_STAGE_KEYS:
        entries = getattr(config, key)
        check(
            len(entries) == stages,
            f"`{key}` needs {stages} entries, one per stage (sizes 4..{config.max_size}); got {len(entries)}",
        )
    check(
        all(b >= 2 for b in config.batch_sizes), "`batch_sizes` must be at least 2 (minibatch stddev needs 2)"
    )
    check(all(c >= 1 for c in config.critic_iterations), "`critic_iterations` must be at least 1")
    check(all(e >= 1 for e in config.progressive_epochs), "`progressive_epochs` must be at least 1")
    check(config.class_size >= 2, f"`class_size` must be at least 2; got {config.class_size}")
    try:
        check_class_names(config.class_names, config.class_size, "`class_names`")
    except ConfigError as error:
        problems.append(str(error))
    check(
        config.image_channels in (1, 3),
        f"`image_channels` must be 1 (grey) or 3 (RGB); got {config.image_channels}",
    )
    for key in ("in_channels", "z_dim", "embedding_dim", "disp_every_n_epochs", "samples_per_class"):
        check(getattr(config, key) >= 1, f"`{key}` must be at least 1; got {getattr(config, key)}")
    check(
        config.validation_folds >= 2, f"`validation_folds` must be at least 2; got {config.validation_folds}"
    )
    check(config.learning_rate > 0, f"`learning_rate` must be positive; got {config.learning_rate}")
    for key in ("lambda_gp", "lambda_cls_1", "lambda_cls_2", "drift_weight"):
        check(getattr(config, key) >= 0, f"`{key}` must not be negative; got {getattr(config, key)}")
    check(
        0 <= config.start_check_at <= 1,
        f"`start_check_at` is a fraction of the epochs (0..1); got {config.start_check_at}",
    )
    check(0 <= config.ema_decay < 1, f"`ema_decay` must be in [0, 1); got {config.ema_decay}")
    check(
        len(config.adam_betas) == 2 and all(0 <= b < 1 for b in config.adam_betas),
        "`adam_betas` needs two values in [0, 1)",
    )
    check(
        len(config.gpus_n) > 0 and all(g >= 0 for g in config.gpus_n),
        f"`gpus_n` lists GPU ids (0, 1, ...); got {_shown(list(config.gpus_n))}",
    )
    size = config.start_train_at_img_size
    check(
        is_stage_size(size),
        f"`start_train_at_img_size` must be a power of two (4, 8, 16, ...); got {size}",
    )
    check(
        size <= config.max_size,
        f"`start_train_at_img_size` {size} is beyond the largest size {config.max_size} that `factors` allows",
    )
    check(
        DEVICE_NAME.fullmatch(config.device) is not None,
        f"`device` must be auto, auto:N, cpu, cuda or cuda:N; got {_shown(config.device)}",
    )
    check(
        config.checkpoint_every_epochs >= 1,
        f"`checkpoint_every_epochs` must be at least 1; got {config.checkpoint_every_epochs}",
    )
    check(
        config.checkpoint_every_minutes > 0,
        f"`checkpoint_every_minutes` must be positive; got {config.checkpoint_every_minutes}",
    )
    check(config.precision in PRECISIONS, f"`precision` must be fp32 or bf16; got {_shown(config.precision)}")
    check(
        config.generator_padding in GENERATOR_PADDINGS,
        f"`generator_padding` must be zeros (published) or replicate; got {_shown(config.generator_padding)}",
    )
    problems.extend(_augment_problems(config))
    check(
        config.stage_handover in STAGE_HANDOVERS,
        f"`stage_handover` must be last or best; got {_shown(config.stage_handover)}",
    )
    counts = config.n_images_generated
    check(
        len(counts) in (1, config.class_size) and all(c >= 0 for c in counts),
        f"`n_images_generated` needs one total or {config.class_size} per-class counts, none negative; got {_shown(list(counts))}",
    )
    if problems:
        raise ConfigError("\n".join(problems))


def _augment_problems(config: TrainingConfig) -> list[str]:
    """Unknown augmentation or transform names (with the closest valid one), and lists that cannot work."""
    problems = []
    if config.augment not in AUGMENT_MODES:
        problems.append(
            f"`augment` must be none, diffaugment or ada; got {_shown(config.augment)}"
            + _did_you_mean(config.augment, AUGMENT_MODES)
        )
    for name in config.augment_transforms:
        if name not in AUGMENT_TRANSFORMS:
            problems.append(
                f"`augment_transforms`: unknown transform {_shown(name)}"
                + _did_you_mean(name, AUGMENT_TRANSFORMS)
                + f" (choose from {', '.join(AUGMENT_TRANSFORMS)})"
            )
        elif name in COLOUR_TRANSFORMS and config.image_channels == 1:
            problems.append(
                f"`augment_transforms`: {name} changes colours, which grey images (image_channels 1) lack; "
                "remove it"
            )
    if config.augment != "none" and not config.augment_transforms:
        problems.append("`augment_transforms` is empty; list at least one transform or set augment: none")
    if not 0 < config.ada_target < 1:
        problems.append(f"`ada_target` must be between 0 and 1; got {config.ada_target}")
    if not 0 < config.ada_step <= 1:
        problems.append(f"`ada_step` (change of p per epoch) must be in (0, 1]; got {config.ada_step}")
    return problems


def _did_you_mean(name: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name.lower(), choices, n=1, cutoff=0.5)
    return f"; did you mean {close[0]}?" if close else ""


def config_to_data(config: TrainingConfig) -> dict[str, Any]:
    """Plain data (lists, numbers, strings) for YAML, JSON and checkpoints."""
    return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(config).items()}


def config_to_yaml(config: TrainingConfig) -> str:
    return yaml.safe_dump(config_to_data(config), sort_keys=False)


def with_overrides(config: TrainingConfig, **changes: Any) -> TrainingConfig:
    """A validated copy with some settings changed."""
    changed = replace(config, **changes)
    validate_config(changed)
    return changed


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
        raise ConfigError(f"cannot read {_shown(text)} ({error.msg})") from error
    except (ValueError, RecursionError, MemoryError) as error:  # null bytes; nesting Python cannot parse
        raise ConfigError(f"cannot read {_shown(text)} (not an expression pacgan reads)") from error
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
            f"{_shown(self.text)} is not allowed ({what}); only numbers, lists, arithmetic, len(), "
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
            if _element_count(items, MAX_ELEMENTS) * max(count, 0) > MAX_ELEMENTS:
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
        if _element_count(items, MAX_ELEMENTS) > MAX_ELEMENTS:
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


def _coerce(key: str, value: Any, names: dict[str, Any]) -> Any:
    """Convert one raw value to its field's type, reading expression strings where the field is not a string."""
    kind = FIELD_TYPES[key]
    if kind == "tuple[str, ...]" and isinstance(value, str) and not value.lstrip().startswith(("[", "(")):
        value = value.replace(",", " ").split()  # `CN, AD` or `CN AD`, as on the command line
    is_expression = isinstance(value, str) and (
        kind not in ("str", "str | None", "bool")
        or (kind == "bool" and (not value.isidentifier() or value in names))
        or (key == "device" and not BARE_DEVICE.fullmatch(value))
    )
    try:
        if is_expression:
            text, value = value, evaluate_expression(value, names)
            if kind == "bool" and isinstance(value, str):
                raise ConfigError(
                    f"{text!r} is quoted text, which the published code reads as true whatever it says; "
                    "write True or False without quotes"
                )
        return _convert(kind, value)
    except ConfigError as error:
        raise ConfigError(f"`{key}`: {error}") from None
    except (TypeError, ValueError) as error:
        raise ConfigError(f"`{key}`: {error}") from None


def _convert(kind: str, value: Any) -> Any:
    if kind == "str":
        if not isinstance(value, str):
            raise TypeError(f"expected text; got {_shown(value)}")
        return value
    if kind == "str | None":
        return None if value is None else str(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):  # published: eval("1") is a true value
            return bool(value)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise TypeError(f"expected True or False; got {_shown(value)}")
    if kind == "int":
        return _whole_number(value)
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"expected a number; got {_shown(value)}")
        try:
            number = float(value)
        except OverflowError:  # an integer beyond the float range
            number = math.inf
        if not math.isfinite(number):
            raise TypeError(f"expected a finite number; got {_shown(value)}")
        return number
    if kind.startswith("tuple["):
        items = value if isinstance(value, list | tuple) else [value]
        if "str" in kind:
            return tuple(_convert("str", item) for item in items)
        if "int" in kind:
            return tuple(_whole_number(item) for item in items)
        return tuple(_convert("float", item) for item in items)
    raise TypeError(f"unsupported setting type {kind}")


def _whole_number(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected a whole number; got {_shown(value)}")
    if abs(value) > MAX_INTEGER:
        raise TypeError(f"{_shown(value)} is too large (the number overflows)")
    return value


def _element_count(value: Any, limit: int) -> int:
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


def _shown(value: Any) -> str:
    """`repr(value)`, shortened (a few entries, levels and characters): an error line never echoes a huge
    value, and shortening one costs nothing however large it is."""
    short = reprlib.Repr()
    short.maxlevel, short.maxlist, short.maxtuple, short.maxdict = 3, 6, 6, 6
    short.maxstring, short.maxother, short.maxlong = 60, 60, 40
    return short.repr(value)


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _default_per_stage(key: str, stages: int) -> tuple[int, ...]:
    """Published defaults, cut or extended (with the last value) to the number of stages."""
    published = {
        "batch_sizes": DEFAULT_BATCH_SIZES,
        "critic_iterations": DEFAULT_CRITIC_ITERATIONS,
        "progressive_epochs": (DEFAULT_EPOCHS,) * 7,
    }[key]
    return tuple(published[min(i, len(published) - 1)] for i in range(stages))


def _unknown_key_message(key: str, source: str) -> str:
    close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
    hint = f"; did you mean `{close[0]}`?" if close else f"; valid keys: {', '.join(KNOWN_KEYS)}"
    return f"{source}: unknown setting `{_clip(key)}`{hint}"
