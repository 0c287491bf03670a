"""`pacgan match`: age- and sex-matched patients and controls, losing as few subjects as possible."""

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


def match_command(
    table: Path = typer.Argument(..., help="CSV with one row per image: subject, group, age, sex."),
    output: Path = typer.Option(..., "--output", "-o", help="Matched rows, e.g. data/matched.csv."),
    subject_column: str = SubjectColumnOption,
    group_column: str = GroupColumnOption,
    age_column: str = AgeColumnOption,
    sex_column: str = SexColumnOption,
    patients: str = PatientsOption,
    controls: str = ControlsOption,
    threshold: float = ThresholdOption,
    level: str = typer.Option(
        "image", "--level", help="Test one value per image (published) or per subject (mean age)."
    ),
    restarts: int = typer.Option(8, "--restarts", help="Extra randomised searches; the best result wins."),
    seed: int | None = SeedOption,
    force: bool = ForceOption,
    quiet: bool = QuietOption,
) -> None:
    """Remove whole subjects until age (Welch t, Mann-Whitney U) and sex (chi-square) are balanced.

    Writes the matched rows, <output>_removed.csv, <output>_report.json/.txt and <output>_ages.png.
    Exits with 1 if the threshold cannot be reached (the best attempt is written all the same).
    """
    from pacgan_cli.cli.progress import progress_reporter
    from pacgan_cli.core.cohort.match import MatchOptions, match_table
    from pacgan_cli.core.cohort.table import CohortColumns

    options = MatchOptions(
        columns=CohortColumns(subject_column, group_column, age_column, sex_column, patients, controls),
        threshold=threshold,
        seed=0 if seed is None else seed,
        restarts=restarts,
        level=level,
    )
    with progress_reporter(quiet) as reporter:
        outcome = match_table(table, output, options, force=force, reporter=reporter)
    report = outcome.report
    for line in report.summary_lines():
        typer.echo(line)
    typer.echo(f"wrote {', '.join(str(p) for p in outcome.files)}")
    if not report.reached:
        raise PacganError(
            f"matching could not bring every test to p >= {threshold:g}; the best attempt is in {output} "
            "(try --level subject, a lower --threshold, or more --restarts)"
        )
