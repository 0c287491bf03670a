"""Age and sex matching of patients and controls by removing as few whole subjects as possible.

The published script removed random subjects inside age windows picked by hand until the tests passed.
Here the search needs no windows: starting from everyone, it repeatedly removes the subject whose removal
raises the worst p-value most (greedy steepest ascent), then puts back removed subjects while the tests
still pass. Ties are broken by a seeded random order, and a few seeded restarts that pick among the three
best moves explore other paths; the result that keeps most subjects wins. Same table, options and seed
give the same result.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pacgan_cli.core.cohort.stats import GroupTests, compare_classes, worst_p_after_toggle
from pacgan_cli.core.cohort.table import (
    CohortColumns,
    GroupCount,
    check_level,
    group_ages,
    group_counts,
    other_group_rows,
    plan_balance_tests,
    prepare_cohort,
)
from pacgan_cli.core.errors import ConfigError, InputError, shown_list
from pacgan_cli.core.figures import save_age_histograms
from pacgan_cli.core.io.atomic import ensure_can_write, ensure_distinct, write_json_atomic, write_text_atomic
from pacgan_cli.core.io.tables import read_csv, write_csv
from pacgan_cli.core.progress import Reporter, SilentReporter

RANDOMISED_CHOICES = 3


@dataclass(frozen=True)
class MatchOptions:
    """How to match: `level` says whether each image (published) or each subject counts once in the tests."""

    columns: CohortColumns = field(default_factory=CohortColumns)
    threshold: float = 0.05
    seed: int = 0
    restarts: int = 8
    level: str = "image"


@dataclass(frozen=True)
class MatchReport:
    """The outcome of `match_cohort`: the kept and removed rows and the tests before and after."""

    options: MatchOptions
    reached: bool
    before: GroupTests
    after: GroupTests
    counts_before: dict[str, GroupCount]
    counts_after: dict[str, GroupCount]
    removed_subjects: tuple[str, ...]
    ignored_rows: dict[str, int]
    skipped_tests: dict[str, str]
    matched: pd.DataFrame = field(repr=False)
    removed: pd.DataFrame = field(repr=False)

    def summary_lines(self) -> list[str]:
        columns = self.options.columns
        threshold = self.options.threshold
        lines = [f"before: {self.before.describe()}", f"after:  {self.after.describe()}"]
        if "sex" in self.skipped_tests:
            lines.append(f"matched on age alone: no sex test ({self.skipped_tests['sex']})")
        for name in (columns.patients, columns.controls):
            old, new = self.counts_before[name], self.counts_after[name]
            lines.append(
                f"{name}: {new.subjects}/{old.subjects} subjects kept ({new.images}/{old.images} images)"
            )
        kept = sum(c.subjects for c in self.counts_after.values())
        total = sum(c.subjects for c in self.counts_before.values())
        lines.append(f"kept {kept} of {total} subjects; removed {len(self.removed_subjects)}")
        for group, count in self.ignored_rows.items():
            lines.append(f"left out {count} rows of group {group!r} (neither patients nor controls)")
        verdict = "all tests reach" if self.reached else "could NOT reach"
        lines.append(f"{verdict} p >= {threshold:g} ({self.options.level} level)")
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "reached": self.reached,
            "threshold": self.options.threshold,
            "level": self.options.level,
            "seed": self.options.seed,
            "before": self.before.as_dict(),
            "after": self.after.as_dict(),
            "counts_before": {k: vars(v) for k, v in self.counts_before.items()},
            "counts_after": {k: vars(v) for k, v in self.counts_after.items()},
            "removed_subjects": list(self.removed_subjects),
            "ignored_rows": self.ignored_rows,
            "skipped_tests": self.skipped_tests,
        }


@dataclass(frozen=True)
class MatchOutcome:
    """What `match_table` found and the files it wrote (the matched table first)."""

    report: MatchReport
    files: list[Path]


def match_table(
    table: str | os.PathLike[str],
    output: str | os.PathLike[str],
    options: MatchOptions | None = None,
    *,
    force: bool = False,
    reporter: Reporter | None = None,
) -> MatchOutcome:
    """`pacgan match`: read the cohort CSV, match it, write the matched rows and the report files.

    The outputs are checked (a .csv name, none of them the table, writable) before the table is read. A
    result that does not reach the threshold is written all the same (`report.reached` says so), so the
    closest attempt can be looked at.
    """
    targets = match_output_paths(output)
    ensure_distinct(
        {"--output": output} | {f"the file {path}": path for path in targets[1:]}, {"TABLE": table}
    )
    ensure_can_write(*targets, force=force)
    report = match_cohort(read_csv(table), options, reporter)
    return MatchOutcome(report, save_match(report, output, force=force))


def match_cohort(
    table: pd.DataFrame, options: MatchOptions | None = None, reporter: Reporter | None = None
) -> MatchReport:
    """Remove whole subjects until age and sex no longer differ between patients and controls.

    `table` has one row per image (scan) with subject, group, age and sex columns; rows of other groups
    are left out. Without the sex column it matches on age alone (and says so); without the age column
    there is nothing to match and it raises InputError. All tests must reach `options.threshold`; if no
    subset with at least two units per group does, the report says so and holds the subset with the best
    worst p-value found.
    """
    options = options or MatchOptions()
    reporter = reporter or SilentReporter()
    _check_options(options)
    columns = options.columns
    if columns.age not in table.columns:
        raise InputError(
            f"the table has no column {columns.age!r} (columns: {shown_list(list(table.columns), 'columns')}); "
            "matching needs ages: name the column with --age-column, or skip `pacgan match` and split with "
            "`pacgan split --no-match`"
        )
    groups = (columns.patients, columns.controls)
    plan = plan_balance_tests(table, columns)
    cohort = prepare_cohort(table, columns, groups, plan)
    units = _Units.build(cohort, columns, options.level, plan.sex)
    everyone = np.ones(units.subject_count, dtype=bool)
    before = units.tests(everyone)

    rng = np.random.default_rng(options.seed)
    best: _Search | None = None
    reporter.stage_started("match", total=options.restarts + 1)
    for restart in range(options.restarts + 1):
        tie_order = rng.permutation(units.subject_count)
        search = _search(units, options.threshold, tie_order, rng if restart else None)
        if best is None or search.rank() > best.rank():
            best = search
        reporter.advance()
    reporter.stage_finished()
    assert best is not None

    kept_subjects = set(units.subject_names[best.kept])
    is_kept = cohort[options.columns.subject].isin(kept_subjects)
    removal_order = tuple(str(units.subject_names[i]) for i in best.removed_order if not best.kept[i])
    return MatchReport(
        options=options,
        reached=best.tests.passes(options.threshold),
        before=before,
        after=best.tests,
        counts_before=group_counts(cohort, columns, groups),
        counts_after=group_counts(cohort[is_kept], columns, groups),
        removed_subjects=removal_order,
        ignored_rows=other_group_rows(table, columns, groups),
        skipped_tests=plan.skipped,
        matched=table.loc[cohort.index[is_kept]],
        removed=table.loc[cohort.index[~is_kept]],
    )


def save_match(report: MatchReport, output: str | os.PathLike[str], force: bool = False) -> list[Path]:
    """Write the matched rows to `output` and, beside it, `<stem>_removed.csv`, `<stem>_report.json`,
    `<stem>_report.txt` and `<stem>_ages.png` (age histograms per group before and after)."""
    paths = match_output_paths(output)
    ensure_can_write(*paths, force=force)
    matched_path, removed_path, json_path, text_path, figure_path = paths
    columns = report.options.columns
    write_csv(matched_path, report.matched, force=force)
    write_csv(removed_path, report.removed, force=force)
    write_json_atomic(json_path, report.as_dict())
    write_text_atomic(text_path, "\n".join(report.summary_lines()) + "\n")
    everyone = pd.concat([report.matched, report.removed])
    groups = (columns.patients, columns.controls)
    save_age_histograms(
        figure_path,
        {
            "before matching": group_ages(everyone, columns, groups),
            "after matching": group_ages(report.matched, columns, groups),
        },
    )
    return list(paths)


def match_output_paths(output: str | os.PathLike[str]) -> tuple[Path, Path, Path, Path, Path]:
    """The matched table and the four files written beside it."""
    output = Path(output)
    if output.suffix.lower() != ".csv":
        raise ConfigError(f"{output}: the matched table is written as CSV; give a path ending in .csv")
    stem = output.with_suffix("")
    return (
        output,
        Path(f"{stem}_removed.csv"),
        Path(f"{stem}_report.json"),
        Path(f"{stem}_report.txt"),
        Path(f"{stem}_ages.png"),
    )


@dataclass(frozen=True)
class _Units:
    """The numbers the tests run on: one unit per image, or per subject (mean age) at subject level.

    Without sexes every unit has sex code 0, which the what-if scores read as a passing sex test.
    """

    ages: np.ndarray
    in_b: np.ndarray
    sex_codes: np.ndarray
    unit_subject: np.ndarray
    subject_names: np.ndarray
    has_sex: bool

    @property
    def subject_count(self) -> int:
        return len(self.subject_names)

    @staticmethod
    def build(cohort: pd.DataFrame, columns: CohortColumns, level: str, has_sex: bool) -> _Units:
        if level == "subject":
            tested = {columns.group: "first", columns.age: "mean"} | (
                {columns.sex: "first"} if has_sex else {}
            )
            cohort = cohort.groupby(columns.subject, sort=False).agg(tested)
            cohort = cohort.reset_index()
        subject_names, unit_subject = np.unique(
            cohort[columns.subject].to_numpy(dtype=str), return_inverse=True
        )
        if has_sex:
            _, sex_codes = np.unique(cohort[columns.sex].to_numpy(dtype=str), return_inverse=True)
        else:
            sex_codes = np.zeros(len(cohort), dtype=np.int64)
        units = _Units(
            ages=cohort[columns.age].to_numpy(dtype=float),
            in_b=(cohort[columns.group] == columns.controls).to_numpy(),
            sex_codes=sex_codes,
            unit_subject=unit_subject,
            subject_names=subject_names,
            has_sex=has_sex,
        )
        for name, in_b in ((columns.patients, False), (columns.controls, True)):
            if np.sum(units.in_b == in_b) < 2:
                raise InputError(f"group {name!r} has fewer than two {level}s; the tests need at least two")
        return units

    def tests(self, kept: np.ndarray) -> GroupTests:
        active = kept[self.unit_subject]
        a, b = active & ~self.in_b, active & self.in_b
        sexes = [self.sex_codes[a], self.sex_codes[b]] if self.has_sex else None
        return compare_classes([self.ages[a], self.ages[b]], sexes)


@dataclass
class _Search:
    kept: np.ndarray
    tests: GroupTests
    removed_order: list[int]
    threshold: float

    def rank(self) -> tuple[bool, float, float]:
        """A passing result beats a failing one; then passing ones keep more subjects, failing ones
        get closer to the threshold."""
        kept, worst = float(self.kept.sum()), self.tests.worst
        if self.tests.passes(self.threshold):
            return (True, kept, worst)
        return (False, worst, kept)


def _search(
    units: _Units, threshold: float, tie_order: np.ndarray, rng: np.random.Generator | None
) -> _Search:
    """Greedy removal until the tests pass (or no move is left), then greedy put-back while they pass.

    Without `rng` each step takes the best move (ties: earliest in `tie_order`); with it, a random one of
    the best few.
    """
    priority = np.empty_like(tie_order)
    priority[tie_order] = np.arange(len(tie_order))
    kept = np.ones(units.subject_count, dtype=bool)
    current = _Search(kept.copy(), units.tests(kept), [], threshold)
    best = replace(current, kept=kept.copy(), removed_order=[])  # its own list: `current` grows its own
    while not current.tests.passes(threshold):
        scores = _scores(units, current.kept, current.kept)
        choice = _choose(scores, priority, rng)
        if choice is None:
            break
        current.kept[choice] = False
        current.removed_order.append(choice)
        current.tests = units.tests(current.kept)
        if current.tests.worst > best.tests.worst:
            best = _Search(current.kept.copy(), current.tests, list(current.removed_order), threshold)
    if not current.tests.passes(threshold):
        return best
    while True:
        scores = _scores(units, current.kept, ~current.kept)
        choice = _choose(np.where(scores >= threshold, scores, np.nan), priority, None)
        if choice is None:
            return current
        trial = current.kept.copy()
        trial[choice] = True
        tests = units.tests(trial)
        if not tests.passes(threshold):
            return current
        current = replace(current, kept=trial, tests=tests)


def _scores(units: _Units, kept: np.ndarray, movable: np.ndarray) -> np.ndarray:
    scores = worst_p_after_toggle(
        units.ages, units.in_b, units.sex_codes, units.unit_subject, units.subject_count, kept
    )
    return np.where(movable, scores, np.nan)


def _choose(scores: np.ndarray, priority: np.ndarray, rng: np.random.Generator | None) -> int | None:
    candidates = np.flatnonzero(~np.isnan(scores))
    if len(candidates) == 0:
        return None
    # Best score first; among equal scores (to rounding), the earlier in the seeded order.
    order = np.lexsort((priority[candidates], -np.round(scores[candidates], 12)))
    ranked = candidates[order]
    if rng is None:
        return int(ranked[0])
    return int(ranked[rng.integers(min(RANDOMISED_CHOICES, len(ranked)))])


def _check_options(options: MatchOptions) -> None:
    if not 0 < options.threshold < 1:
        raise ConfigError(f"--threshold must be between 0 and 1; got {options.threshold}")
    check_level(options.level)
    if options.restarts < 0:
        raise ConfigError(f"--restarts must be 0 or more; got {options.restarts}")
