"""The layers keep to their places: the core never imports the command line, and commands that need no
network never import torch. The core's import statements are read from its files; what a command imports is
checked in a fresh interpreter."""

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).parents[1] / "pacgan_cli" / "core"


def core_imports() -> list[tuple[str, str]]:
    """(file name, module name) for every import statement under pacgan_cli/core, read without importing."""
    found = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [(path.name, name) for name in names]
    return found


def test_core_never_imports_the_command_line_libraries() -> None:
    offenders = [
        f"{file}: {name}" for file, name in core_imports() if name.split(".")[0] in ("typer", "rich")
    ]
    assert offenders == []
    # Importing the whole core must not pull in typer (rich may come in through scikit-learn's own optional hooks).
    script = (
        "import sys, pkgutil, importlib, pacgan_cli.core as core\n"
        "for m in pkgutil.walk_packages(core.__path__, 'pacgan_cli.core.'): importlib.import_module(m.name)\n"
        "print('typer' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_cohort_commands_do_not_import_torch() -> None:
    code = "import sys, pacgan_cli.core.cohort.split, pacgan_cli.core.config; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_the_core_never_imports_the_command_layer() -> None:
    offenders = [f"{file}: {name}" for file, name in core_imports() if name.startswith("pacgan_cli.cli")]
    assert offenders == []


def test_pacgan_help_does_not_import_torch() -> None:
    script = (
        "import sys\n"
        "from pacgan_cli.cli.app import main\n"
        "sys.argv = ['pacgan', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('torch' in sys.modules, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert "Usage: pacgan" in result.stdout and result.stderr.strip() == "False"


# The core's floors, lowest first: a module may import its own floor and those below, never one above (a
# lazy import inside a function counts too). The README's Architecture section describes the same order.
FLOORS = [
    {"errors", "stages", "classes", "progress", "published_config"},
    {"io", "models", "config", "config_rules", "presets", "runtime", "folds"},
    {"metrics", "figures"},
    {"cohort", "inference"},
    {"evaluation"},
    {"training"},
]


def floor_of(area: str) -> int:
    return next(index for index, areas in enumerate(FLOORS) if area in areas)


def test_no_core_module_imports_from_a_higher_floor() -> None:
    offenders = []
    for path in CORE.rglob("*.py"):
        area = path.relative_to(CORE).parts[0].removesuffix(".py")
        if area == "__init__":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("pacgan_cli.core"):
                continue
            parts = node.module.split(".")  # `from pacgan_cli.core import figures` names the module itself
            targets = [parts[2]] if len(parts) > 2 else [alias.name for alias in node.names]
            offenders += [
                f"{path.relative_to(CORE)} imports {node.module} ({target})"
                for target in targets
                if floor_of(target) > floor_of(area)
            ]
    assert offenders == []
