"""`pacgan pyramid`: every smaller power-of-two size of a stack, for users who bring their own split."""

from __future__ import annotations

from pathlib import Path

import typer

from pacgan_cli.cli.options import ForceOption, QuietOption


def pyramid_command(
    stack: Path = typer.Argument(..., help="Image stack, e.g. data/train/Real256x256.nii.gz."),
    output_dir: Path | None = typer.Option(
        None, "--output-dir", "-o", help="Folder for Real{S}x{S}.nii.gz (default: beside the stack)."
    ),
    min_size: int = typer.Option(4, "--min-size", help="Smallest size to write."),
    force: bool = ForceOption,
    quiet: bool = QuietOption,
) -> None:
    """Write Real{S}x{S}.nii.gz for every size from the stack's down to 4 (bilinear, as published)."""
    from pacgan_cli.cli.progress import progress_reporter
    from pacgan_cli.core.cohort.pyramid import build_pyramid

    with progress_reporter(quiet) as reporter:
        result = build_pyramid(stack, output_dir, min_size=min_size, force=force, reporter=reporter)
    for line in result.summary_lines():
        typer.echo(line)
