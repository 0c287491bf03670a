"""The `pacgan` command: one Typer app, one command per module, user errors as one line.

Help is click's plain layout (`rich_markup_mode=None`): it fits 80 columns and shows no `<bool>` after
flags. Usage errors are caught here and printed as one `error:` line, like every other error.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import typer

from pacgan_cli import __version__
from pacgan_cli.cli import (
    classify,
    evaluate,
    generate,
    import_images,
    match,
    pyramid,
    scale,
    slices,
    split,
    train,
)
from pacgan_cli.cli.options import spread_option_values
from pacgan_cli.core.errors import PacganError, storage_error

PROGRAM = "pacgan"
COMPLETION_VARIABLE = "_PACGAN_COMPLETE"
COMPLETION_SHELLS = ("bash", "zsh", "fish")

app = typer.Typer(
    name=PROGRAM,
    help="Class-conditional synthetic medical images and a classifier trained with them (PACGAN).",
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"pacgan {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    debug: bool = typer.Option(
        False, "--debug", help="Show full tracebacks instead of one-line errors (also after the command)."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Progressive auxiliary-classifier GAN: prepare cohorts, train, generate, classify, evaluate."""


# One line each in `pacgan --help`, in pipeline order.
app.command("import", short_help="2D images (PNG, TIFF, DICOM, ...) -> one stack + labels.")(
    import_images.import_command
)
app.command("slices", short_help="3D volumes -> one stack of 2D axial slices.")(slices.slices_command)
app.command("match", short_help="Age/sex matching of patients and controls.")(match.match_command)
app.command("split", short_help="Subject-grouped train/test split, scaled, all sizes.")(split.split_command)
app.command("pyramid", short_help="Every smaller size of a stack (4, 8, ...).")(pyramid.pyramid_command)
app.command("scale", short_help="Scale a stack to [-1, 1] per image, as published.")(scale.scale_command)
app.command("train", short_help="Progressive training, one stage per size.")(train.train_command)
app.command(
    "generate", short_help="Synthetic images per class from a generator.", cls=generate.GenerateCommand
)(generate.generate_command)
app.command("classify", short_help="Class probabilities from a discriminator.")(classify.classify_command)
app.command("evaluate", short_help="Synthetic vs real images: a verdict and every metric.")(
    evaluate.evaluate_command
)


def main() -> None:
    """Entry point: run the app; a PacganError or a usage error becomes one `error:` line and its exit code."""
    # Idle OpenMP threads sleep instead of spinning: with other work on the cores, spinning made a two-thread
    # training step 33x slower (BENCHMARKS.md, Threads). Read once, when torch loads; a user's value wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    arguments, debug = _arguments(sys.argv[1:])
    shell = _completion_shell(arguments)
    if shell is not None:
        _show_completion(shell)
    try:
        exit_code = app(args=arguments, prog_name=PROGRAM, standalone_mode=False)
    except typer.TyperException as error:  # usage errors: an unknown option, a missing value, ...
        if debug:
            raise
        context = getattr(error, "ctx", None)
        hint = f" (see `{context.command_path} --help`)" if context is not None else ""
        print(f"error: {error.format_message().rstrip('.')}{hint}", file=sys.stderr)
        sys.exit(error.exit_code)
    except PacganError as error:
        if debug:
            raise
        _exit_with(error)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as error:
        if debug:
            raise
        if isinstance(error, OSError) and (refused := storage_error(error)) is not None:
            _exit_with(refused)  # a full disk, a file-size limit, a read-only folder, no permission
        print(
            f"error: unexpected {type(error).__name__}: {error} (run with --debug for details)",
            file=sys.stderr,
        )
        sys.exit(1)
    if isinstance(exit_code, int) and exit_code:  # typer hands back the code of an interrupted command (130)
        sys.exit(exit_code)


def _exit_with(error: PacganError) -> NoReturn:
    for line in str(error).splitlines() or [type(error).__name__]:
        print(f"error: {line}", file=sys.stderr)
    sys.exit(error.exit_code)


def _arguments(arguments: list[str]) -> tuple[list[str], bool]:
    """`--debug` is accepted anywhere before `--`; it is moved to the front, where the root option reads it.
    Multi-value options are spread (`spread_option_values`). No arguments at all show the help."""
    if not arguments:
        return ["--help"], False
    end = arguments.index("--") if "--" in arguments else len(arguments)
    head = [argument for argument in arguments[:end] if argument != "--debug"]
    debug = len(head) < end
    return (["--debug"] if debug else []) + spread_option_values(head) + arguments[end:], debug


def _completion_shell(arguments: list[str]) -> str | None:
    """The shell of `pacgan --show-completion SHELL` (or `=SHELL`); typer's own flag only detects the shell."""
    if arguments[:1] == ["--show-completion"] and len(arguments) == 2:
        shell = arguments[1]
    elif len(arguments) == 1 and arguments[0].startswith("--show-completion="):
        shell = arguments[0].partition("=")[2]
    else:
        return None
    if shell not in COMPLETION_SHELLS:
        print(f"error: no completion for {shell!r}; choose {', '.join(COMPLETION_SHELLS)}", file=sys.stderr)
        sys.exit(2)
    return shell


def _show_completion(shell: str) -> None:
    """Print the completion script through typer's own `source` instruction, then exit."""
    os.environ[COMPLETION_VARIABLE] = f"source_{shell}"
    try:
        app(args=[], prog_name=PROGRAM)
    finally:
        del os.environ[COMPLETION_VARIABLE]
