"""The cohort table shared by `match` and `split`: named columns, checked values, which groups are the
classes, which balance tests the table allows, per-group summaries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pacgan_cli.core.cohort.stats import SEX_TEST, TEST_LABELS, GroupTests, age_tests, compare_classes
from pacgan_cli.core.errors import ConfigError, InputError, shown_list

LEVELS = ("image", "subject")
# The column of `pacgan import` tables that numbers each class; `split` keeps its order.
LABEL_COLUMN = "Label"


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


@dataclass(frozen=True)
class BalancePlan:
    """Which balance tests run: the age tests need the age column, the sex test the sex column.

    `skipped` says for `age` and `sex` why its tests do not run, in words for the report.
    """

    age: bool
    sex: bool
    skipped: dict[str, str]

    def tests(self, group_count: int) -> tuple[str, ...]:
        """The names of the tests that run between `group_count` groups (GroupTests field names)."""
        return (age_tests(group_count) if self.age else ()) + ((SEX_TEST,) if self.sex else ())

    def describe(self, group_count: int) -> str:
        """`balance tests: sex chi-square (age tests skipped: the table has no column 'Age')`."""
        ran = ", ".join(TEST_LABELS[name] for name in self.tests(group_count)) or "none"
        reasons = set(self.skipped.values())
        if len(self.skipped) == 2 and len(reasons) == 1:
            skipped = f"age and sex tests skipped: {reasons.pop()}"
        else:
            what = {"age": "age tests", "sex": "sex test"}
            skipped = "; ".join(f"{what[name]} skipped: {reason}" for name, reason in self.skipped.items())
        return f"balance tests: {ran}" + (f" ({skipped})" if skipped else "")


def plan_balance_tests(table: pd.DataFrame, columns: CohortColumns, matching: bool = True) -> BalancePlan:
    """Test what the table has: age if it has the age column, sex if it has the sex column; nothing
    when `matching` is off."""
    if not matching:
        return BalancePlan(age=False, sex=False, skipped={"age": "--no-match", "sex": "--no-match"})
    skipped = {
        name: f"the table has no column {column!r}"
        for name, column in (("age", columns.age), ("sex", columns.sex))
        if column not in table.columns
    }
    return BalancePlan(age="age" not in skipped, sex="sex" not in skipped, skipped=skipped)


@dataclass(frozen=True)
class ClassOrder:
    """Label k of an image is the class `names[k]`; `rule` says, for the report, how the order came about."""

    names: tuple[str, ...]
    rule: str


def class_order(table: pd.DataFrame, columns: CohortColumns, classes: Sequence[str] = ()) -> ClassOrder:
    """Which group values become classes, and in which order (label 0, 1, ...).

    `classes` given: those, in that order. Otherwise, when the table holds both the controls and the
    patients: controls 0, patients 1 (the published mapping; other groups are left out). Otherwise the
    table's `Label` column where it gives each group its own label 0..K-1 (what `pacgan import` writes),
    else every group value present, sorted (numbers by value). Raises ConfigError for fewer than two or
    repeated classes and InputError for a class without rows.
    """
    _require_columns(table, [columns.group])
    groups = group_values(table, columns)
    present = _sorted_groups(set(groups) - {""})
    found = ", ".join(present[:8]) or "none"
    if classes:
        names = tuple(classes)
        if len(names) < 2:
            raise ConfigError(f"--classes needs at least two classes; got {shown_list(names, 'classes')}")
        if len(set(names)) != len(names):
            raise ConfigError(f"--classes must name different classes; got {shown_list(names, 'classes')}")
        for name in names:
            if name not in present:
                raise InputError(
                    f"no rows have {columns.group} = {name!r} (values found: {found}); "
                    "name the classes with --classes (or --patients/--controls)"
                )
        return ClassOrder(names, "as given")
    if len(present) < 2:
        raise InputError(
            f"{columns.group} holds {len(present)} class(es) ({found}); a split needs at least two "
            "(name the column with --group-column)"
        )
    table_labels = _table_labels(table, groups)
    if columns.controls in present and columns.patients in present:
        pair = (columns.controls, columns.patients)
        rule = "controls 0, patients 1, as published"
        if table_labels is not None and [table_labels.get(name) for name in pair] != [0, 1]:
            own = ",".join(sorted(pair, key=table_labels.__getitem__))
            rule += f"; the table's {LABEL_COLUMN} column numbers them otherwise (--classes {own} keeps it)"
        return ClassOrder(pair, rule)
    if table_labels is not None and sorted(table_labels.values()) == list(range(len(present))):
        return ClassOrder(
            tuple(sorted(table_labels, key=table_labels.__getitem__)),
            f"as the table's {LABEL_COLUMN} column numbers them",
        )
    rule = "every group in the table, sorted"
    if LABEL_COLUMN in table.columns:
        rule += f"; its {LABEL_COLUMN} column does not give each group its own label 0..{len(present) - 1}"
    return ClassOrder(tuple(present), rule + "; set the order with --classes")


def group_values(table: pd.DataFrame, columns: CohortColumns) -> pd.Series:
    """Each row's group as text, as a person writes it: stripped, whole numbers without `.0` (a column of
    0/1 with an empty cell reads as floats); an empty cell is ``."""
    values = table[columns.group]
    if pd.api.types.is_float_dtype(values):
        return values.map(lambda v: "" if pd.isna(v) else str(int(v)) if float(v).is_integer() else str(v))
    return values.map(lambda v: "" if pd.isna(v) else str(v).strip())


def prepare_cohort(
    table: pd.DataFrame, columns: CohortColumns, groups: Sequence[str], plan: BalancePlan
) -> pd.DataFrame:
    """The rows of `groups` with checked columns: subject and group as text and, where `plan` tests them,
    ages as numbers and sexes as text.

    Raises InputError for a missing column, an age that is not a number, an empty subject or sex,
    a group without members, or a subject listed under two groups or two sexes.
    """
    tested = [name for name, used in ((columns.age, plan.age), (columns.sex, plan.sex)) if used]
    needed = [columns.subject, columns.group, *tested]
    _require_columns(table, needed)
    group_text = group_values(table, columns)
    chosen = group_text.isin(groups)
    for name in groups:
        if not (group_text == name).any():
            found = ", ".join(_sorted_groups(set(group_text) - {""})[:8])
            raise InputError(
                f"no rows have {columns.group} = {name!r} (values found: {found}); "
                "set the group values with --patients/--controls"
            )
    cohort = table.loc[chosen, needed].copy()
    cohort[columns.group] = group_text[chosen]
    if plan.age:
        ages = pd.to_numeric(cohort[columns.age], errors="coerce")
        bad = ages.isna() | ~np.isfinite(ages.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            row = cohort.index[bad.to_numpy()][0]
            raise InputError(
                f"{columns.age} must be a number in every row; row {_row_number(table, row)} "
                f"has {table.loc[row, columns.age]!r}"
            )
        cohort[columns.age] = ages.astype(float)
    text_columns = [columns.subject, *([columns.sex] if plan.sex else [])]
    for name in text_columns:
        empty = cohort[name].isna() | (cohort[name].astype(str).str.strip() == "")
        if empty.any():
            row = cohort.index[empty.to_numpy()][0]
            raise InputError(f"{name} is empty in row {_row_number(table, row)}; every row needs it")
        cohort[name] = cohort[name].astype(str).str.strip()
    single = [(columns.group, "groups"), *([(columns.sex, "sexes")] if plan.sex else [])]
    for name, what in single:
        per_subject = cohort.groupby(columns.subject)[name].nunique()
        if (per_subject > 1).any():
            subject = per_subject.index[per_subject > 1][0]
            values = sorted(cohort.loc[cohort[columns.subject] == subject, name].unique())
            raise InputError(
                f"subject {subject} appears under two {what} ({' and '.join(values)}); "
                "each subject needs exactly one"
            )
    return cohort


def cohort_tests(
    cohort: pd.DataFrame, columns: CohortColumns, groups: Sequence[str], plan: BalancePlan, level: str
) -> GroupTests:
    """Balance tests between `groups` of a prepared cohort (or part of one), per image or per subject
    (mean age); only the tests of `plan` run.

    A group with fewer than two units cannot be tested; that counts as failing (every p-value 0).
    """
    tests = plan.tests(len(groups))
    if not tests:
        return GroupTests()
    if level == "subject":
        tested = {columns.group: "first"}
        tested |= {columns.age: "mean"} if plan.age else {}
        tested |= {columns.sex: "first"} if plan.sex else {}
        cohort = cohort.groupby(columns.subject, sort=False).agg(tested)
    members = [(cohort[columns.group] == name).to_numpy() for name in groups]
    if min(member.sum() for member in members) < 2:
        return GroupTests(**dict.fromkeys(tests, 0.0))
    ages = cohort[columns.age].to_numpy(dtype=float) if plan.age else None
    sexes = cohort[columns.sex].to_numpy(dtype=str) if plan.sex else None
    return compare_classes(
        None if ages is None else [ages[member] for member in members],
        None if sexes is None else [sexes[member] for member in members],
    )


def group_counts(
    cohort: pd.DataFrame, columns: CohortColumns, groups: Sequence[str]
) -> dict[str, GroupCount]:
    """Subjects and images per group, in the order of `groups`."""
    group_text = group_values(cohort, columns)
    counts = {}
    for name in groups:
        rows = cohort[group_text == name]
        counts[name] = GroupCount(subjects=int(rows[columns.subject].nunique()), images=len(rows))
    return counts


def group_ages(table: pd.DataFrame, columns: CohortColumns, groups: Sequence[str]) -> dict[str, np.ndarray]:
    """Ages per group, for histograms."""
    group_text = group_values(table, columns)
    ages = pd.to_numeric(table[columns.age], errors="coerce")
    return {name: ages[group_text == name].to_numpy(dtype=float) for name in groups}


def other_group_rows(table: pd.DataFrame, columns: CohortColumns, groups: Sequence[str]) -> dict[str, int]:
    """Row counts of the groups not in `groups` (left out of the cohort); an empty group is ``."""
    group_text = group_values(table, columns)
    other = group_text[~group_text.isin(groups)]
    return {str(k): int(v) for k, v in other.value_counts().sort_index().items()}


def _require_columns(table: pd.DataFrame, needed: Sequence[str]) -> None:
    """One line naming the first missing column, the columns there are and the options that name them."""
    missing = [name for name in needed if name not in table.columns]
    if missing:
        raise InputError(
            f"the table has no column {missing[0]!r} (columns: {shown_list(list(table.columns), 'columns')}); "
            "name the right one with --subject-column/--group-column/--age-column/--sex-column"
        )


def _table_labels(table: pd.DataFrame, groups: pd.Series) -> dict[str, int] | None:
    """The table's own `Label` of each group, where every row of a group has the same whole number."""
    if LABEL_COLUMN not in table.columns:
        return None
    named = (groups != "").to_numpy()
    labels = pd.to_numeric(table[LABEL_COLUMN], errors="coerce")[named]
    if labels.isna().any() or (labels != np.round(labels)).any():
        return None
    pairs = pd.DataFrame({"group": groups[named], "label": labels.astype(np.int64)}).drop_duplicates()
    if pairs["group"].duplicated().any():
        return None
    return dict(zip(pairs["group"], pairs["label"].astype(int), strict=True))


def _sorted_groups(names: set[str]) -> list[str]:
    """Numbers by value (2 before 10), anything else as text."""
    try:
        return sorted(names, key=float)
    except ValueError:
        return sorted(names)


def _row_number(table: pd.DataFrame, label: Any) -> int:
    """1-based data row number of an index label, as a person counts rows below the header."""
    return int(table.index.get_loc(label)) + 1
