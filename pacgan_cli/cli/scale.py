"""`pacgan scale`: the published per-image scaling to [-1, 1], for new scans that did not go through `split`."""

from __future__ import annotations

from pathlib import Path

import typer

from pacgan_cli.cli.options import ForceOption


def scale_command(
    stack: Path = typer.Argument(
        ..., help="Image stack (.nii.gz, [W, H, C, N]), or one 2D NIfTI image, with raw intensities."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="The scaled stack to write (.nii.gz)."),
    force: bool = ForceOption,
) -> None:
    """Scale each image to [-1, 1] by its own maximum m, x -> (x - m/2) / (m/2), as the training data were."""
    from pacgan_cli.core.io.intensity import scale_stack

    for line in scale_stack(stack, output, force=force).summary_lines():
        typer.echo(line)
