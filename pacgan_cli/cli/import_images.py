"""`pacgan import`: one's own 2D images (PNG, JPEG, TIFF, DICOM, NIfTI) -> one stack plus its labels table."""

from __future__ import annotations

from pathlib import Path

import typer

from pacgan_cli.cli.options import ForceOption, GroupColumnOption, QuietOption


def import_command(
    sources: list[Path] = typer.Argument(
        ...,
        help="A folder with one subfolder per class, a CSV naming each file and its class, or image files.",
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="The stack to write, e.g. data/images.nii.gz (+ data/images_labels.csv)."
    ),
    channels: int | None = typer.Option(
        None, "--channels", help="1 (grey) or 3 (RGB), converting the others (default: as the images are)."
    ),
    window: str | None = typer.Option(
        None,
        "--window",
        help="CENTER,WIDTH (e.g. 40,400) or dicom (each file's own): clip, shift to [0, WIDTH].",
    ),
    resize: int | None = typer.Option(
        None, "--resize", help="Resize every image to SxS, bilinear as the published pyramid."
    ),
    pad: int | None = typer.Option(
        None, "--pad", help="Pad (with the image's minimum) or crop every image to SxS, centred."
    ),
    classes: str | None = typer.Option(
        None,
        "--classes",
        help="Classes in label order, e.g. CN,AD (others are left out; default: all, sorted by name).",
    ),
    class_name: str | None = typer.Option(
        None, "--class", help="Class of images given without one (files, a folder without subfolders)."
    ),
    file_column: str = typer.Option("File", "--file-column", help="CSV column with each image's file."),
    group_column: str = GroupColumnOption,
    subject_column: str | None = typer.Option(
        None,
        "--subject-column",
        help="CSV column with the subject id (default: Subject_ID if present, else one subject per file).",
    ),
    force: bool = ForceOption,
    quiet: bool = QuietOption,
) -> None:
    """Stack 2D images with their classes: raw values as float32, labels 0..K-1 in class order.

    Writes the stack [W, H, C, N] and <stem>_labels.csv (Image_Index, Subject_ID, Group, Label, Source),
    ready for `pacgan split`. Nothing is written if any file cannot be read.
    """
    from pacgan_cli.cli.options import class_name_list
    from pacgan_cli.cli.progress import progress_reporter
    from pacgan_cli.core.cohort.import_images import ImportOptions, import_images, parse_window

    options = ImportOptions(
        channels=channels,
        window=parse_window(window) if window is not None else None,
        pad=pad,
        resize=resize,
        classes=class_name_list([classes] if classes else None),
        class_name=class_name,
        file_column=file_column,
        group_column=group_column,
        subject_column=subject_column,
    )
    with progress_reporter(quiet) as reporter:
        result = import_images(sources, output, options, force=force, reporter=reporter)
    for line in result.summary_lines():
        typer.echo(line)
