"""Option types shared by several commands, so each means the same everywhere."""

from __future__ import annotations

import typer

ForceOption = typer.Option(False, "--force", help="Overwrite existing results.")
SeedOption = typer.Option(None, "--seed", help="Random seed; the same seed gives the same results.")
DeviceOption = typer.Option("auto", "--device", help="auto, cpu or cuda.")
QuietOption = typer.Option(False, "--quiet", "-q", help="Plain log lines instead of progress bars.")

# The cohort table of `match` and `split`.
SubjectColumnOption = typer.Option("Subject_ID", "--subject-column", help="Column with the subject id.")
GroupColumnOption = typer.Option("Group", "--group-column", help="Column with the diagnostic group.")
AgeColumnOption = typer.Option("Age", "--age-column", help="Column with the age (a number).")
SexColumnOption = typer.Option("Sex", "--sex-column", help="Column with the sex.")
PatientsOption = typer.Option("AD", "--patients", help="Group value of the patients.")
ControlsOption = typer.Option("CN", "--controls", help="Group value of the controls.")
ThresholdOption = typer.Option(0.05, "--threshold", help="Every test must reach this p-value.")
