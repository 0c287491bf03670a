"""Option types shared by several commands, so each means the same everywhere."""

from __future__ import annotations

from pathlib import Path

import typer

ConfigOption = typer.Option(
    None, "--config", "-c", help="YAML config, or the published config.json as it is.", exists=False
)
ForceOption = typer.Option(False, "--force", help="Overwrite existing results.")
SeedOption = typer.Option(None, "--seed", help="Random seed; the same seed gives the same results.")
DeviceOption = typer.Option("auto", "--device", help="auto, cpu or cuda.")
QuietOption = typer.Option(False, "--quiet", "-q", help="Plain log lines instead of progress bars.")


def output_path(path: Path | None) -> Path | None:
    """Normalise an optional output path."""
    return path.expanduser() if path is not None else None
