"""`pacgan split`: subject-grouped, stratified, age/sex-matched train/test folders ready for training."""

from __future__ import annotations

from pathlib import Path

import typer

from pacgan_cli.cli.options import (
    AgeColumnOption,
    ForceOption,
    GroupColumnOption,
    QuietOption,
    SeedOption,
    SexColumnOption,
    SubjectColumnOption,
    ThresholdOption,
    class_name_list,
)
from pacgan_cli.core.errors import ConfigError, PacganError


def split_command(
    stack: Path = typer.Argument(..., help="Image stack from `pacgan slices`, e.g. data/all_slices.nii.gz."),
    table: Path = typer.Argument(
        ..., help="CSV with each row's subject, group (class) and image index, e.g. from `pacgan match`."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Folder that receives train/ and test/."),
    image_column: str = typer.Option(
        "Image_Index", "--image-column", help="Column with each row's 0-based index in the stack."
    ),
    subject_column: str = SubjectColumnOption,
    group_column: str = GroupColumnOption,
    age_column: str = AgeColumnOption,
    sex_column: str = SexColumnOption,
    classes: list[str] | None = typer.Option(
        None,
        "--classes",
        help="Group values that become labels 0, 1, ...: --classes CN,AD (or repeated); other groups are "
        "left out. Default: CN 0 and AD 1 if the table has both (published), else the table's Label "
        "column's order, else every group sorted.",
    ),
    patients: str | None = typer.Option(
        None,
        "--patients",
        help="Group value of the patients, label 1 (with --controls: --classes CONTROLS,PATIENTS).",
    ),
    controls: str | None = typer.Option(None, "--controls", help="Group value of the controls, label 0."),
    match: bool = typer.Option(
        True,
        "--match/--no-match",
        help="Keep age and sex matched in both parts, testing the columns the table has; --no-match splits "
        "by subject and class only.",
    ),
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
    """Hold out test subjects, stratified by class and age/sex-matched where the table allows; write train/
    and test/ for training.

    Labels follow --classes (default: controls CN 0, patients AD 1 if both are there, else the table's
    Label column or every group sorted; the summary says which). Each part gets Real{S}x{S}.nii.gz for
    every size down to 4, labels.csv, source.csv and classes.csv; split_report.json/.txt and, with ages,
    split_ages.png go beside them. Exits with 1 if no candidate keeps both parts matched (the closest one
    is written all the same).
    """
    from pacgan_cli.cli.progress import progress_reporter
    from pacgan_cli.core.cohort.split import SplitOptions, split_cohort
    from pacgan_cli.core.cohort.table import CohortColumns
    from pacgan_cli.core.io.tables import read_csv

    pair_given = patients is not None or controls is not None
    if pair_given and classes:
        raise ConfigError("give the classes with --classes or with --patients/--controls, not both")
    columns = CohortColumns(
        subject_column,
        group_column,
        age_column,
        sex_column,
        patients or CohortColumns.patients,
        controls or CohortColumns.controls,
    )
    options = SplitOptions(
        columns=columns,
        classes=(columns.controls, columns.patients) if pair_given else class_name_list(classes),
        matching=match,
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
    if not report.tests_pass:
        raise PacganError(
            f"no candidate split kept both parts matched at p >= {threshold:g}; the closest one is in {output} "
            "(try more --attempts, another --seed, or match the cohort first)"
        )
    if not report.balanced:
        raise PacganError(
            f"no candidate split kept every class within one subject of its share; the closest one is in "
            f"{output} (try more --attempts or another --seed)"
        )
