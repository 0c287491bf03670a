"""Option types shared by several commands, so each means the same everywhere."""

from __future__ import annotations

import typer

ForceOption = typer.Option(False, "--force", help="Overwrite existing results.")
SeedOption = typer.Option(None, "--seed", help="Random seed; the same seed gives the same results.")
DeviceOption = typer.Option("auto", "--device", help="auto, cpu or cuda.")
QuietOption = typer.Option(False, "--quiet", "-q", help="Plain log lines instead of progress bars.")
