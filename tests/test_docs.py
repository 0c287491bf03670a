"""Every `pacgan ...` command in the README and docs/ names commands and options that exist, the full ones in
code blocks parse as written, the ones that need no data run, and each that needs the Inception weights says so."""

import re
import shlex
from pathlib import Path

import pytest
import typer

from helpers import run_cli
from pacgan_cli.cli.app import COMPLETION_SHELLS, app
from pacgan_cli.cli.options import spread_option_values
from pacgan_cli.core.evaluation.registry import METRIC_NAMES, NEEDS_INCEPTION, load_metric

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GROUP = typer.main.get_command(app)
INLINE = re.compile(r"`([^`\n]+)`")
RUNS_WITHOUT_DATA = {"--help", "-h", "--version", "--show-completion"}  # train --dry-run checks the data


def documented_commands() -> list[tuple[str, str, bool]]:
    """(file:line, command line with its comment, whether it is a whole line of a code block), each once."""
    found: dict[tuple[str, bool], str] = {}
    for document in DOCUMENTS:
        in_block = False
        for number, line in enumerate(document.read_text().splitlines(), 1):
            if line.startswith("```"):
                in_block = not in_block
            elif in_block and is_pacgan(line):
                found.setdefault((line.strip(), True), f"{document.name}:{number}")
            elif not in_block:
                for span in INLINE.findall(line):
                    if is_pacgan(span):
                        found.setdefault((span.strip(), False), f"{document.name}:{number}")
    return [(where, line, whole) for (line, whole), where in found.items()]


def is_pacgan(line: str) -> bool:
    words = line.split()
    return bool(words) and (words[0] == "pacgan" or words[0].endswith("/pacgan"))


def split_command(line: str) -> tuple[list[str], str]:
    """The arguments after `pacgan` (before any shell redirection) and the line's `# comment`."""
    command, _, comment = line.partition(" #")
    words = shlex.split(re.split(r"\s[>|&]", command)[0])
    return spread_option_values(words[1:]), comment


COMMANDS = documented_commands()


def test_the_docs_hold_commands_to_check() -> None:
    in_blocks = {split_command(line)[0][0] for _, line, whole in COMMANDS if whole and split_command(line)[0]}
    assert set(GROUP.commands) <= in_blocks  # every command appears in a code block somewhere


@pytest.mark.parametrize(("where", "line", "whole"), COMMANDS, ids=[where for where, _, _ in COMMANDS])
def test_documented_command_uses_existing_commands_and_options(where: str, line: str, whole: bool) -> None:
    arguments, _ = split_command(line)
    while arguments and arguments[0].startswith("-"):  # options of `pacgan` itself
        option = arguments.pop(0)
        assert option in {name for parameter in GROUP.params for name in parameter.opts} | {"-h", "--help"}
        if option == "--show-completion":
            assert arguments.pop(0) in COMPLETION_SHELLS
    if not arguments:
        return
    name, *rest = arguments
    assert name in GROUP.commands, f"{where}: no command {name!r}"
    command = GROUP.commands[name]
    known = {opt for parameter in command.params for opt in (*parameter.opts, *parameter.secondary_opts)}
    for word in rest:
        if word.startswith("-") and not re.fullmatch(r"-\d.*", word):
            assert word.partition("=")[0] in known | {"-h", "--help"}, f"{where}: {name} has no {word}"
    if whole:  # a whole command line must parse as written: required options given, values of the right type
        context = GROUP.make_context("pacgan", [name], resilient_parsing=True)
        command.make_context(name, list(rest), parent=context)


NEED_NO_DATA = [
    (where, line) for where, line, _ in COMMANDS if RUNS_WITHOUT_DATA & set(split_command(line)[0])
]
EVALUATIONS = [(where, line) for where, line, whole in COMMANDS if whole and "evaluate" in line.split()]


@pytest.mark.parametrize(("where", "line"), NEED_NO_DATA, ids=[where for where, _ in NEED_NO_DATA])
def test_documented_commands_that_need_no_data_run_on_a_fresh_clone(
    where: str, line: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    code, _, err = run_cli(split_command(line)[0], capsys)
    assert code == 0, f"{where}: {err}"


@pytest.mark.parametrize(("where", "line"), EVALUATIONS, ids=[where for where, _ in EVALUATIONS])
def test_documented_evaluations_skip_fid_and_kid_or_say_they_need_the_weights(where: str, line: str) -> None:
    arguments, comment = split_command(line)
    metrics = arguments[arguments.index("--metrics") + 1].split(",") if "--metrics" in arguments else ["fid"]
    inception = {name for name in METRIC_NAMES if NEEDS_INCEPTION in load_metric(name).needs}
    needs_weights = "--skip-unavailable" not in arguments and bool(inception & set(metrics))
    assert not needs_weights or "inception" in comment.lower(), (
        f"{where}: say that FID/KID/prdc need the weights"
    )
