"""`pacgan match` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from helpers import make_cohort, run_cli


def test_match_writes_matched_removed_report_and_histograms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_cohort(subjects=120, age_gap=4.0, seed=2).to_csv(tmp_path / "cohort.csv", index=False)
    output = tmp_path / "matched.csv"
    code, out, err = run_cli(
        ["match", str(tmp_path / "cohort.csv"), "-o", str(output), "--restarts", "1", "-q"], capsys
    )
    assert code == 0, err
    assert "all tests reach p >= 0.05" in out
    report = json.loads((tmp_path / "matched_report.json").read_text())
    assert report["reached"] and min(report["after"].values()) >= 0.05
    assert min(report["before"].values()) < 0.05
    matched, removed = pd.read_csv(output), pd.read_csv(tmp_path / "matched_removed.csv")
    assert set(removed.Subject_ID) == set(report["removed_subjects"])
    assert not set(matched.Subject_ID) & set(removed.Subject_ID)
    assert (tmp_path / "matched_ages.png").stat().st_size > 0


def test_match_that_cannot_reach_the_threshold_writes_its_best_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [("P1", "AD", 90, "F"), ("P2", "AD", 91, "M"), ("C1", "CN", 50, "F"), ("C2", "CN", 51, "M")]
    pd.DataFrame(rows, columns=["Subject_ID", "Group", "Age", "Sex"]).to_csv(tmp_path / "c.csv", index=False)
    code, out, err = run_cli(["match", str(tmp_path / "c.csv"), "-o", str(tmp_path / "m.csv")], capsys)
    assert code == 1
    assert "could NOT reach" in out
    assert err.splitlines()[-1].startswith("error: matching could not bring every test to p >= 0.05")
    assert (tmp_path / "m.csv").exists()


@pytest.mark.parametrize(
    ("arguments", "code", "message"),
    [
        (["--age-column", "AGE"], 1, "no column 'AGE'"),
        (["--controls", "HC"], 1, "no rows have Group = 'HC'"),
        (["--threshold", "5"], 2, "--threshold must be between 0 and 1"),
        (["--level", "scan"], 2, "--level must be image or subject"),
    ],
)
def test_match_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], code: int, message: str
) -> None:
    make_cohort(subjects=20).to_csv(tmp_path / "cohort.csv", index=False)
    exit_code, _, err = run_cli(
        ["match", str(tmp_path / "cohort.csv"), "-o", str(tmp_path / "m.csv"), *arguments], capsys
    )
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert exit_code == code
    assert len(errors) == 1 and message in errors[0]
    assert not (tmp_path / "m.csv").exists()


def test_match_refuses_to_overwrite_any_of_its_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_cohort(subjects=20).to_csv(tmp_path / "cohort.csv", index=False)
    (tmp_path / "m_ages.png").write_text("earlier")
    code, _, err = run_cli(["match", str(tmp_path / "cohort.csv"), "-o", str(tmp_path / "m.csv")], capsys)
    assert code == 1 and "m_ages.png already exists" in err
    assert not (tmp_path / "m.csv").exists()


@pytest.mark.parametrize(
    ("table", "output", "named"), [("m.csv", "m.csv", "--output"), ("m_removed.csv", "m.csv", "the file")]
)
def test_match_may_not_write_over_its_table_even_with_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str, output: str, named: str
) -> None:
    make_cohort(subjects=20).to_csv(tmp_path / table, index=False)
    before = (tmp_path / table).read_bytes()
    code, _, err = run_cli(["match", str(tmp_path / table), "-o", str(tmp_path / output), "--force"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"error: {named}") and "is the input TABLE; writing it would destroy" in err
    assert (tmp_path / table).read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == [table]


def test_match_without_sex_matches_on_age_and_without_age_points_to_split(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cohort = make_cohort(subjects=60, age_gap=0.0, seed=2)
    cohort.drop(columns="Sex").to_csv(tmp_path / "no_sex.csv", index=False)
    code, out, err = run_cli(
        ["match", str(tmp_path / "no_sex.csv"), "-o", str(tmp_path / "m.csv"), "-q"], capsys
    )
    assert code == 0, err
    assert "matched on age alone: no sex test (the table has no column 'Sex')" in out.splitlines()
    assert "sex chi-square" not in out
    cohort.drop(columns="Age").to_csv(tmp_path / "no_age.csv", index=False)
    code, _, err = run_cli(["match", str(tmp_path / "no_age.csv"), "-o", str(tmp_path / "n.csv")], capsys)
    assert code == 1 and err.count("\n") == 1
    assert err.startswith(
        "error: the table has no column 'Age' (columns: Image_Index, Subject_ID, Group, Sex)"
    )
    assert "skip `pacgan match` and split with `pacgan split --no-match`" in err
    assert not (tmp_path / "n.csv").exists()
