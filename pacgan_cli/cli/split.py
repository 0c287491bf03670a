"""`pacgan split`: subject-grouped, stratified, age/sex-matched train/test folders ready for training."""

from __future__ import annotations

from pathlib import Path

import typer

from pacgan_cli.cli.options import (
    AgeColumnOption,
    ControlsOption,
    ForceOption,
    GroupColumnOption,
    PatientsOption,
    QuietOption,
    SeedOption,
    SexColumnOption,
    SubjectColumnOption,
    ThresholdOption,
)
from pacgan_cli.core.errors import PacganError


def split_command(
    stack: Path = typer.Argument(..., help="Image stack from `pacgan slices`, e.g. data/all_slices.nii.gz."),
    table: Path = typer.Argument(
        ..., help="Cohort CSV (e.g. from `pacgan match`) with each row's image index."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Folder that receives train/ and test/."),
    image_column: str = typer.Option(
        "Image_Index", "--image-column", help="Column with each row's 0-based index in the stack."
    ),
    subject_column: str = SubjectColumnOption,
    group_column: str = GroupColumnOption,
    age_column: str = AgeColumnOption,
    sex_column: str = SexColumnOption,
    patients: str = PatientsOption,
    controls: str = ControlsOption,
    folds: int = typer.Option(5, "--folds", help="The test part is 1/folds of the subjects (5: 80/20)."),
    threshold: float = ThresholdOption,
    level: str = typer.Option(
        "image", "--level", help="Test one value per image (published) or per subject."
    ),
    attempts: int = typer.Option(100, "--attempts", help="Shuffled rounds of candidate splits to try."),
    scale: bool = typer.Option(
        True,
        "--scale/--no-scale",
        help="Scale each image to [-1, 1] by its maximum (skip if already scaled).",
    ),
    seed: int | None = SeedOption,
    force: bool = ForceOption,
    quiet: bool = QuietOption,
) -> None:
    """Hold out test subjects, stratified by label and age/sex-matched; write train/ and test/ for training.

    Labels: controls 0, patients 1. Each part gets Real{S}x{S}.nii.gz for every size down to 4,
    labels.csv and source.csv; split_report.json/.txt and split_ages.png go beside them.
    Exits with 1 if no candidate keeps both parts matched (the closest one is written all the same).
    """
    from pacgan_cli.cli.progress import progress_reporter
    from pacgan_cli.core.cohort.split import SplitOptions, split_cohort
    from pacgan_cli.core.cohort.table import CohortColumns
    from pacgan_cli.core.io.tables import read_csv

    options = SplitOptions(
        columns=CohortColumns(subject_column, group_column, age_column, sex_column, patients, controls),
        image_column=image_column,
        folds=folds,
        threshold=threshold,
        seed=0 if seed is None else seed,
        attempts=attempts,
        scale="max" if scale else "none",
        level=level,
    )
    with progress_reporter(quiet) as reporter:
        report = split_cohort(stack, read_csv(table), output, options, force=force, reporter=reporter)
    for line in report.summary_lines():
        typer.echo(line)
    if not report.reached:
        raise PacganError(
            f"no candidate split kept both parts matched at p >= {threshold:g}; the closest one is in {output} "
            "(try more --attempts, another --seed, or match the cohort first)"
        )
