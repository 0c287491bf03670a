"""The CPU-only install is opt-in: the default install (and CI) asks PyPI only."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def planned_install(*variables: str, target: str = "install") -> list[str]:
    """The commands `make TARGET` would run (dry run, as if nothing were installed yet)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    result = subprocess.run(
        ["make", "--dry-run", "--always-make", target, *variables],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()


def test_default_install_uses_pypi_only() -> None:
    commands = planned_install()
    assert not any("--index-url" in line for line in commands)
    assert any("pip install --quiet -e '.[test,demo]'" in line for line in commands)


def test_cpu_only_install_takes_torch_from_the_cpu_index_first() -> None:
    commands = planned_install("CPU_ONLY=1")
    torch_line = next(i for i, line in enumerate(commands) if f"--index-url {CPU_INDEX}" in line)
    project_line = next(i for i, line in enumerate(commands) if "-e '.[test,demo]'" in line)
    assert "pip install --quiet torch torchvision" in commands[torch_line]
    assert torch_line < project_line
    assert any(
        "--index-url https://example.org/x" in line
        for line in planned_install("TORCH_INDEX=https://example.org/x")
    )


def test_readme_documents_the_cpu_only_install() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make install CPU_ONLY=1" in readme
    assert f"pip install torch torchvision --index-url {CPU_INDEX}" in readme


def test_the_readmes_first_lines_tell_a_machine_without_a_gpu_what_to_run() -> None:
    first_block = (ROOT / "README.md").read_text().split("```")[1].splitlines()
    assert first_block[1].startswith("make demo ") and first_block[2].startswith("make test ")
    assert "`make demo CPU_ONLY=1`" in first_block[3] and "GPU" in first_block[3]
    commands = planned_install("CPU_ONLY=1", target="demo")
    torch_line = next(i for i, line in enumerate(commands) if f"--index-url {CPU_INDEX}" in line)
    demo_line = next(i for i, line in enumerate(commands) if "pacgan_cli.demo" in line)
    assert torch_line < demo_line
