"""The `pacgan` command: one Typer app, one command per module, user errors as one line."""

from __future__ import annotations

import sys

import typer

from pacgan_cli import __version__
from pacgan_cli.cli import classify, evaluate, generate, match, pyramid, slices, split, train
from pacgan_cli.core.errors import PacganError

app = typer.Typer(
    name="pacgan",
    help="Class-conditional synthetic medical images and a classifier trained with them (PACGAN).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"pacgan {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks instead of one-line errors."),
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Progressive auxiliary-classifier GAN: prepare cohorts, train, generate, classify, evaluate."""


app.command("slices")(slices.slices_command)
app.command("match")(match.match_command)
app.command("split")(split.split_command)
app.command("pyramid")(pyramid.pyramid_command)
app.command("train")(train.train_command)
app.command("generate")(generate.generate_command)
app.command("classify")(classify.classify_command)
app.command("evaluate")(evaluate.evaluate_command)


def main() -> None:
    """Entry point: run the app; a PacganError becomes `error: <message>` and its exit code."""
    debug = "--debug" in sys.argv[1:]
    try:
        app()
    except PacganError as error:
        if debug:
            raise
        for line in str(error).splitlines() or [type(error).__name__]:
            print(f"error: {line}", file=sys.stderr)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as error:
        if debug:
            raise
        print(
            f"error: unexpected {type(error).__name__}: {error} (run with --debug for details)",
            file=sys.stderr,
        )
        sys.exit(1)
