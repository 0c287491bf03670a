from pathlib import Path

import pytest

from helpers import run_cli
from pacgan_cli.cli.app import COMPLETION_SHELLS
from pacgan_cli.core.errors import InputError

COMPLETIONS = Path(__file__).parents[2] / "completions"
COMMANDS = [
    "import",
    "slices",
    "match",
    "split",
    "pyramid",
    "scale",
    "train",
    "generate",
    "classify",
    "evaluate",
]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["evaluate", "--fake", "synth.nii.gz"],
            "error: Missing option '--real' (see `pacgan evaluate --help`)\n",
        ),
        (["evaluate", "--bogus"], "error: No such option: --bogus (see `pacgan evaluate --help`)\n"),
        (["gen"], "error: No such command 'gen' (see `pacgan --help`)\n"),
        (
            ["train", "--epochs", "many"],
            "error: Invalid value for '--epochs': Input should be a valid integer",
        ),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(args: list[str], message: str, capsys) -> None:
    code, stdout, stderr = run_cli(args, capsys)
    assert code == 2 and stdout == "" and stderr.count("\n") == 1
    assert stderr.startswith(message)


@pytest.mark.parametrize("command", [[], *([name] for name in COMMANDS)])
def test_help_fits_80_columns_and_flags_show_no_type(command: list[str], capsys) -> None:
    code, stdout, _ = run_cli([*command, "--help"], capsys)
    assert code == 0 and stdout.startswith(f"Usage: pacgan {' '.join(command)}".rstrip())
    assert "<bool>" not in stdout and "╭" not in stdout
    assert max(len(line) for line in stdout.splitlines()) <= 80


def test_no_arguments_show_the_help(capsys) -> None:
    code, stdout, _ = run_cli([], capsys)
    assert code == 0 and "Commands:" in stdout and "scale" in stdout


def test_debug_is_accepted_after_the_command(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no data/ADNI here: the dry run's data check fails
    code, _, stderr = run_cli(["train", "--dry-run"], capsys)
    assert code == 1 and stderr.startswith("error: data/ADNI/ADNI_train: data folder not found")
    with pytest.raises(InputError, match="data folder not found"):  # the traceback instead of one line
        run_cli(["train", "--dry-run", "--debug"], capsys)


@pytest.mark.parametrize("shell", COMPLETION_SHELLS)
def test_completion_scripts_are_generated_from_the_app_and_up_to_date(shell: str, capsys) -> None:
    code, stdout, _ = run_cli(["--show-completion", shell], capsys)
    assert code == 0
    marker = {"bash": "complete -o default -F", "zsh": "#compdef pacgan", "fish": "complete --command pacgan"}
    assert marker[shell] in stdout and "_PACGAN_COMPLETE=complete_" in stdout
    assert (COMPLETIONS / f"pacgan.{shell}").read_text() == stdout, "run `make completions`"
    assert run_cli([f"--show-completion={shell}"], capsys)[1] == stdout


def test_an_unknown_shell_is_one_line(capsys) -> None:
    code, _, stderr = run_cli(["--show-completion", "tcsh"], capsys)
    assert code == 2 and stderr == "error: no completion for 'tcsh'; choose bash, zsh, fish\n"
