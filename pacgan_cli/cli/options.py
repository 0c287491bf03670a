"""Option types shared by several commands, so each means the same everywhere."""

from __future__ import annotations

import typer

ForceOption = typer.Option(False, "--force", help="Overwrite existing results.")
SeedOption = typer.Option(None, "--seed", help="Random seed; the same seed gives the same results.")
DeviceOption = typer.Option(
    "auto", "--device", help="auto (a GPU when there is one, else the CPU), cpu, cuda or cuda:N."
)
ThreadsOption = typer.Option(
    None,
    "--threads",
    min=1,
    help="CPU threads (default: $PACGAN_THREADS, else 1 for networks under 128 base channels and the "
    "physical cores for larger ones).",
)
QuietOption = typer.Option(False, "--quiet", "-q", help="Plain log lines instead of progress bars.")
CompileOption = typer.Option(
    False,
    "--compile",
    help="torch.compile the network first (pays off only for many images; see BENCHMARKS.md).",
)
PrecisionOption = typer.Option(
    None,
    "--precision",
    help="fp32 (default, the published mathematics) or bf16 (forward passes in bf16 autocast).",
)

ClassNamesOption = typer.Option(
    None,
    "--class-names",
    help="Names of classes 0, 1, ... for reports and figures: --class-names CN AD (default: the "
    "class_names the model was trained with). CSV files keep the numbers.",
)
# Options that take several values (`--class-names CN AD`); see `spread_option_values`.
MULTI_VALUE_OPTIONS = ("--class-names",)


def spread_option_values(arguments: list[str]) -> list[str]:
    """`--class-names CN AD` -> `--class-names CN --class-names AD`: a click option takes one value per
    mention, so the values after a multi-value option, up to the next option, are handed over one by
    one. A multi-value option without values is kept, so that click reports it."""
    spread: list[str] = []
    option, taken = None, 0
    for index, argument in enumerate(arguments):
        if option is not None and not argument.startswith("-"):
            spread += [option, argument]
            taken += 1
            continue
        if option is not None and taken == 0:
            spread.append(option)
        option = None
        if argument == "--":
            return spread + arguments[index:]
        if argument in MULTI_VALUE_OPTIONS:
            option, taken = argument, 0
        else:
            spread.append(argument)
    if option is not None and taken == 0:
        spread.append(option)
    return spread


def class_name_list(values: list[str] | None) -> tuple[str, ...]:
    """The names of `--class-names CN AD` (or `CN,AD`), in order; empty when the option was not given."""
    return tuple(part.strip() for value in values or [] for part in value.split(",") if part.strip())


# The cohort table of `match` and `split`.
SubjectColumnOption = typer.Option("Subject_ID", "--subject-column", help="Column with the subject id.")
GroupColumnOption = typer.Option("Group", "--group-column", help="Column with the diagnostic group.")
AgeColumnOption = typer.Option("Age", "--age-column", help="Column with the age (a number).")
SexColumnOption = typer.Option("Sex", "--sex-column", help="Column with the sex.")
PatientsOption = typer.Option("AD", "--patients", help="Group value of the patients.")
ControlsOption = typer.Option("CN", "--controls", help="Group value of the controls.")
ThresholdOption = typer.Option(0.05, "--threshold", help="Every test must reach this p-value.")
