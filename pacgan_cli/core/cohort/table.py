"""The cohort table shared by `match` and `split`: named columns, checked values, per-group summaries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pacgan_cli.core.cohort.stats import GroupTests, compare_groups
from pacgan_cli.core.errors import ConfigError, InputError

LEVELS = ("image", "subject")


@dataclass(frozen=True)
class CohortColumns:
    """Column names of a cohort table and the group values of patients and controls."""

    subject: str = "Subject_ID"
    group: str = "Group"
    age: str = "Age"
    sex: str = "Sex"
    patients: str = "AD"
    controls: str = "CN"

    def __post_init__(self) -> None:
        if self.patients == self.controls:
            raise ConfigError("--patients and --controls must name different groups")


def check_level(level: str) -> None:
    """The statistical tests run on one value per image (published) or per subject."""
    if level not in LEVELS:
        raise ConfigError(f"--level must be image or subject; got {level!r}")


@dataclass(frozen=True)
class GroupCount:
    subjects: int
    images: int


def prepare_cohort(table: pd.DataFrame, columns: CohortColumns) -> pd.DataFrame:
    """The patient and control rows with checked columns: ages as numbers, subject and sex as text.

    Raises InputError for a missing column, an age that is not a number, an empty subject or sex,
    a group without members, or a subject listed under two groups or two sexes.
    """
    needed = [columns.subject, columns.group, columns.age, columns.sex]
    missing = [name for name in needed if name not in table.columns]
    if missing:
        raise InputError(
            f"the table has no column {missing[0]!r} (columns: {', '.join(map(str, table.columns))}); "
            "name the right one with --subject-column/--group-column/--age-column/--sex-column"
        )
    group_text = table[columns.group].astype(str).str.strip()
    chosen = group_text.isin([columns.patients, columns.controls])
    for name in (columns.patients, columns.controls):
        if not (group_text == name).any():
            found = ", ".join(sorted(group_text.unique())[:8])
            raise InputError(
                f"no rows have {columns.group} = {name!r} (values found: {found}); "
                "set the group values with --patients/--controls"
            )
    cohort = table.loc[chosen, needed].copy()
    cohort[columns.group] = group_text[chosen]
    ages = pd.to_numeric(cohort[columns.age], errors="coerce")
    bad = ages.isna() | ~np.isfinite(ages.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        row = cohort.index[bad.to_numpy()][0]
        raise InputError(
            f"{columns.age} must be a number in every row; row {_row_number(table, row)} "
            f"has {table.loc[row, columns.age]!r}"
        )
    cohort[columns.age] = ages.astype(float)
    for name in (columns.subject, columns.sex):
        empty = cohort[name].isna() | (cohort[name].astype(str).str.strip() == "")
        if empty.any():
            row = cohort.index[empty.to_numpy()][0]
            raise InputError(f"{name} is empty in row {_row_number(table, row)}; every row needs it")
        cohort[name] = cohort[name].astype(str).str.strip()
    for name, what in ((columns.group, "groups"), (columns.sex, "sexes")):
        per_subject = cohort.groupby(columns.subject)[name].nunique()
        if (per_subject > 1).any():
            subject = per_subject.index[per_subject > 1][0]
            values = sorted(cohort.loc[cohort[columns.subject] == subject, name].unique())
            raise InputError(
                f"subject {subject} appears under two {what} ({' and '.join(values)}); "
                "each subject needs exactly one"
            )
    return cohort


def cohort_tests(cohort: pd.DataFrame, columns: CohortColumns, level: str) -> GroupTests:
    """Balance tests of a prepared cohort (or part of one), per image or per subject (mean age).

    A group with fewer than two units cannot be tested; that counts as failing (all p-values 0).
    """
    if level == "subject":
        cohort = cohort.groupby(columns.subject, sort=False).agg(
            {columns.group: "first", columns.age: "mean", columns.sex: "first"}
        )
    is_patient = (cohort[columns.group] == columns.patients).to_numpy()
    ages = cohort[columns.age].to_numpy(dtype=float)
    sexes = cohort[columns.sex].to_numpy(dtype=str)
    if is_patient.sum() < 2 or (~is_patient).sum() < 2:
        return GroupTests(0.0, 0.0, 0.0)
    return compare_groups(ages[is_patient], ages[~is_patient], sexes[is_patient], sexes[~is_patient])


def group_counts(cohort: pd.DataFrame, columns: CohortColumns) -> dict[str, GroupCount]:
    """Subjects and images per group (patients first)."""
    counts = {}
    for name in (columns.patients, columns.controls):
        rows = cohort[cohort[columns.group].astype(str).str.strip() == name]
        counts[name] = GroupCount(subjects=int(rows[columns.subject].nunique()), images=len(rows))
    return counts


def group_ages(table: pd.DataFrame, columns: CohortColumns) -> dict[str, np.ndarray]:
    """Ages per group, for histograms."""
    groups = table[columns.group].astype(str).str.strip()
    ages = pd.to_numeric(table[columns.age], errors="coerce")
    return {name: ages[groups == name].to_numpy(dtype=float) for name in (columns.patients, columns.controls)}


def other_group_rows(table: pd.DataFrame, columns: CohortColumns) -> dict[str, int]:
    """Row counts of groups that are neither the patients nor the controls (left out of the cohort)."""
    groups = table[columns.group].astype(str).str.strip()
    other = groups[~groups.isin([columns.patients, columns.controls])]
    return {str(k): int(v) for k, v in other.value_counts().sort_index().items()}


def _row_number(table: pd.DataFrame, label: Any) -> int:
    """1-based data row number of an index label, as a person counts rows below the header."""
    return int(table.index.get_loc(label)) + 1
