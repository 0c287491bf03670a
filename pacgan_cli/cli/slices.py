"""`pacgan slices`: registered 3D volumes -> one stack of axial 2D slices plus the list of sources."""

from __future__ import annotations

from pathlib import Path

import typer

from pacgan_cli.cli.options import ForceOption, QuietOption
from pacgan_cli.core.cohort.slices import DEFAULT_CUBE_SIZE


def slices_command(
    source: Path = typer.Argument(
        ..., help="Folder of .nii/.nii.gz volumes, or a text file with one path a line."
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="The stack to write, e.g. data/all_slices.nii.gz."
    ),
    list_file: Path | None = typer.Option(
        None, "--list", help="Source list, one path per image (default: <output>_list.txt)."
    ),
    cube_size: int = typer.Option(
        DEFAULT_CUBE_SIZE, "--cube-size", help="Pad/crop each volume to this cube."
    ),
    slice_index: str | None = typer.Option(
        None,
        "--slice",
        help="Axial index in the cube: 127, a range 125-129, or a list 120,127,134 (default: size/2 - 1).",
    ),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Also look in subfolders."),
    force: bool = ForceOption,
    quiet: bool = QuietOption,
) -> None:
    """Pad/crop each volume to a cube, take its axial slice(s), write one [S, S, 1, N] stack."""
    from pacgan_cli.cli.progress import progress_reporter
    from pacgan_cli.core.cohort.slices import SliceOptions, extract_slices, parse_slice_indices

    indices = parse_slice_indices(slice_index) if slice_index is not None else None
    options = SliceOptions(cube_size=cube_size, indices=indices, recursive=recursive)
    with progress_reporter(quiet) as reporter:
        result = extract_slices(source, output, list_file, options, force=force, reporter=reporter)
    for line in result.summary_lines():
        typer.echo(line)
