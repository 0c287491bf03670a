"""Matching: reaches the threshold on a cohort with an age gap, beats random removal, is reproducible,
removes whole subjects, and refuses bad tables with one clear message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import make_cohort
from pacgan_cli.core.cohort.match import MatchOptions, match_cohort, match_table, save_match
from pacgan_cli.core.cohort.stats import compare_groups
from pacgan_cli.core.errors import ConfigError, InputError, OutputExistsError


def passes(table: pd.DataFrame, threshold: float = 0.05) -> bool:
    a, b = table[table.Group == "AD"], table[table.Group == "CN"]
    if len(a) < 2 or len(b) < 2:
        return False
    return compare_groups(a.Age, b.Age, a.Sex.to_numpy(), b.Sex.to_numpy()).passes(threshold)


def random_removal_count(table: pd.DataFrame, seed: int, pool: list[str]) -> int:
    """Remove subjects from `pool` in random order until the tests pass (the published idea)."""
    rng = np.random.default_rng(seed)
    order = list(rng.permutation(pool))
    removed: set[str] = set()
    while order and not passes(table[~table.Subject_ID.isin(removed)]):
        removed.add(order.pop())
    return len(removed)


@pytest.fixture(scope="module")
def gap_cohort() -> pd.DataFrame:
    return make_cohort(subjects=200, age_gap=4.0, seed=3)


@pytest.fixture(scope="module")
def gap_report(gap_cohort: pd.DataFrame):
    return match_cohort(gap_cohort, MatchOptions(seed=1, restarts=2))


def test_matching_a_cohort_with_an_age_gap_reaches_the_threshold(gap_cohort, gap_report) -> None:
    assert gap_report.before.worst < 0.001
    assert gap_report.reached
    assert gap_report.after.passes(0.05)
    assert passes(gap_report.matched)
    kept = gap_report.matched.Subject_ID.nunique()
    assert kept >= 150  # of 200
    assert len(gap_report.removed_subjects) == 200 - kept


def test_matching_removes_fewer_subjects_than_random_removal(gap_cohort, gap_report) -> None:
    removed = len(gap_report.removed_subjects)
    subjects = gap_cohort.groupby("Subject_ID").agg(Group=("Group", "first"), Age=("Age", "mean"))
    patients, controls = subjects[subjects.Group == "AD"], subjects[subjects.Group == "CN"]
    # The published way: random subjects from hand-picked windows (older patients, younger controls).
    window = list(patients[patients.Age > patients.Age.median()].index)
    window += list(controls[controls.Age < controls.Age.median()].index)
    windowed = [random_removal_count(gap_cohort, seed, window) for seed in range(3)]
    uniform = random_removal_count(gap_cohort, 0, list(subjects.index))
    assert removed < min(windowed)
    assert removed < uniform


def test_matching_removes_whole_subjects_and_keeps_row_order(gap_cohort, gap_report) -> None:
    kept, removed = set(gap_report.matched.Subject_ID), set(gap_report.removed.Subject_ID)
    assert not kept & removed
    assert kept | removed == set(gap_cohort.Subject_ID)
    assert removed == set(gap_report.removed_subjects)
    assert list(gap_report.matched.index) == sorted(gap_report.matched.index)
    assert list(gap_report.matched.columns) == list(gap_cohort.columns)


def test_matching_is_deterministic_for_a_seed(gap_cohort, gap_report) -> None:
    again = match_cohort(gap_cohort, MatchOptions(seed=1, restarts=2))
    assert again.removed_subjects == gap_report.removed_subjects
    assert again.after == gap_report.after


def test_a_matched_cohort_is_left_as_it_is() -> None:
    ages = np.random.default_rng(0).normal(75, 6, 30).round(1)
    rows = [(f"P{i}", "AD", age, "FM"[i % 2]) for i, age in enumerate(ages)]
    rows += [(f"C{i}", "CN", age + 0.1, "FM"[i % 2]) for i, age in enumerate(ages)]
    table = pd.DataFrame(rows, columns=["Subject_ID", "Group", "Age", "Sex"])
    report = match_cohort(table)
    assert report.before.passes(0.05)
    assert report.removed_subjects == ()
    assert len(report.matched) == len(table)


def test_subject_level_counts_each_subject_once() -> None:
    table = make_cohort(subjects=120, age_gap=4.0, seed=5)
    report = match_cohort(table, MatchOptions(level="subject", restarts=1))
    assert report.reached
    per_subject = report.matched.groupby("Subject_ID").agg(Group=("Group", "first"), Age=("Age", "mean"))
    a, b = per_subject[per_subject.Group == "AD"], per_subject[per_subject.Group == "CN"]
    assert compare_groups(a.Age, b.Age, np.zeros(len(a)), np.zeros(len(b))).welch_t_p >= 0.05


def test_an_unreachable_threshold_reports_the_best_attempt() -> None:
    rows = [("P1", "AD", 90, "F"), ("P2", "AD", 91, "M"), ("P3", "AD", 92, "F")]
    rows += [("C1", "CN", 50, "F"), ("C2", "CN", 51, "M"), ("C3", "CN", 52, "M")]
    table = pd.DataFrame(rows, columns=["Subject_ID", "Group", "Age", "Sex"])
    report = match_cohort(table, MatchOptions(restarts=1))
    assert not report.reached
    assert report.after.worst >= report.before.worst
    assert report.counts_after["AD"].subjects >= 2
    assert report.counts_after["CN"].subjects >= 2
    assert any("could NOT reach" in line for line in report.summary_lines())


def test_rows_of_other_groups_are_left_out_and_reported() -> None:
    table = make_cohort(subjects=40, age_gap=0.0, seed=1)
    table.loc[table.index[:5], "Group"] = "MCI"
    report = match_cohort(table)
    assert report.ignored_rows == {"MCI": 5}
    assert "MCI" not in set(report.matched.Group) | set(report.removed.Group)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop(columns="Age"), "no column 'Age'"),
        (lambda t: t.assign(Age=t.Age.astype(object).where(t.index != 3, "unknown")), "row 4 has 'unknown'"),
        (lambda t: t.assign(Group=t.Group.replace("CN", "HC")), "no rows have Group = 'CN'"),
        (lambda t: t.assign(Group=t.Group.where(t.index != 1, "CN")), "two groups"),
        (lambda t: t.assign(Sex=t.Sex.where(t.index != 1, "X")), "two sexes"),
        (
            lambda t: t.assign(Subject_ID=t.Subject_ID.where(t.index != 2, None)),
            "Subject_ID is empty in row 3",
        ),
    ],
)
def test_bad_tables_are_refused_with_one_line(change, message: str) -> None:
    table = make_cohort(subjects=20, seed=2, max_images=3)
    table = pd.concat([table.iloc[:1], table.iloc[:1].assign(Image_Index=-1), table.iloc[1:]]).reset_index(
        drop=True
    )
    with pytest.raises(InputError, match=message) as error:
        match_cohort(change(table))
    assert "\n" not in str(error.value)


def test_bad_options_are_config_errors() -> None:
    table = make_cohort(subjects=20)
    with pytest.raises(ConfigError, match="threshold"):
        match_cohort(table, MatchOptions(threshold=1.5))
    with pytest.raises(ConfigError, match="level"):
        match_cohort(table, MatchOptions(level="scan"))


def test_save_match_writes_every_file_and_refuses_to_overwrite(tmp_path: Path, gap_report) -> None:
    paths = save_match(gap_report, tmp_path / "matched.csv")
    names = sorted(p.name for p in paths)
    assert names == sorted(
        [
            "matched.csv",
            "matched_removed.csv",
            "matched_report.json",
            "matched_report.txt",
            "matched_ages.png",
        ]
    )
    assert all(p.stat().st_size > 0 for p in paths)
    assert len(pd.read_csv(tmp_path / "matched.csv")) == len(gap_report.matched)
    with pytest.raises(OutputExistsError):
        save_match(gap_report, tmp_path / "matched.csv")
    save_match(gap_report, tmp_path / "matched.csv", force=True)


def test_match_table_reads_matches_and_writes_every_file(gap_cohort: pd.DataFrame, tmp_path: Path) -> None:
    gap_cohort.to_csv(tmp_path / "cohort.csv", index=False)
    outcome = match_table(tmp_path / "cohort.csv", tmp_path / "out" / "matched.csv", MatchOptions(restarts=1))
    names = [
        "matched.csv",
        "matched_removed.csv",
        "matched_report.json",
        "matched_report.txt",
        "matched_ages.png",
    ]
    assert outcome.files == [tmp_path / "out" / name for name in names]
    assert outcome.report.reached and passes(pd.read_csv(outcome.files[0]))
    removed = pd.read_csv(outcome.files[1])
    assert set(removed.Subject_ID) == set(outcome.report.removed_subjects)
    assert len(removed) + len(pd.read_csv(outcome.files[0])) == len(gap_cohort)


def test_match_table_checks_its_outputs_before_reading_the_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"path ending in \.csv"):
        match_table(tmp_path / "missing.csv", tmp_path / "matched.txt")
    (tmp_path / "matched_report.json").write_text("{}")
    with pytest.raises(OutputExistsError, match="--force"):
        match_table(tmp_path / "missing.csv", tmp_path / "matched.csv")
    with pytest.raises(InputError, match=r"missing\.csv"):
        match_table(tmp_path / "missing.csv", tmp_path / "matched.csv", force=True)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["matched_report.json"]


def test_a_table_without_sex_is_matched_on_age_alone_and_says_so() -> None:
    table = make_cohort(subjects=120, age_gap=4.0, seed=5).drop(columns="Sex")
    report = match_cohort(table, MatchOptions(restarts=1))
    assert report.reached and report.before.worst < 0.05
    assert report.after.chi_square_p is None and list(report.after.as_dict()) == [
        "welch_t_p",
        "mann_whitney_p",
    ]
    assert report.skipped_tests == {"sex": "the table has no column 'Sex'"}
    assert "matched on age alone: no sex test (the table has no column 'Sex')" in report.summary_lines()
    assert report.as_dict()["skipped_tests"] == {"sex": "the table has no column 'Sex'"}
    a, b = report.matched[report.matched.Group == "AD"], report.matched[report.matched.Group == "CN"]
    assert compare_groups(a.Age, b.Age, np.zeros(len(a)), np.zeros(len(b))).passes(0.05)


def test_a_table_without_ages_points_to_split_without_matching() -> None:
    with pytest.raises(InputError, match=r"matching needs ages.*`pacgan split --no-match`") as error:
        match_cohort(make_cohort(subjects=20).drop(columns="Age"))
    assert "\n" not in str(error.value)
