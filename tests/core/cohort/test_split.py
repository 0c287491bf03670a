"""Split: subjects never cross parts, classes keep their share, the folders are what training reads."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import make_cohort, make_images
from pacgan_cli.core.cohort.pyramid import resize_stack
from pacgan_cli.core.cohort.split import SplitOptions, split_cohort
from pacgan_cli.core.cohort.stats import GroupTests
from pacgan_cli.core.errors import ConfigError, InputError, OutputExistsError
from pacgan_cli.core.io.intensity import scale_to_unit_range
from pacgan_cli.core.io.nifti import read_stack, write_stack
from pacgan_cli.core.io.tables import read_labels


def write_inputs(folder: Path, table: pd.DataFrame, size: int = 8, seed: int = 0) -> tuple[Path, np.ndarray]:
    images = make_images(int(table.Image_Index.max()) + 1, size, seed)
    return write_stack(folder / "all_slices.nii.gz", images), images


def read_part(folder: Path) -> pd.DataFrame:
    return read_labels(folder / "labels.csv", image_count=read_stack(folder / "Real4x4.nii.gz").shape[0])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    subjects=st.integers(min_value=20, max_value=60),
    max_images=st.integers(min_value=1, max_value=4),
    patient_share=st.floats(min_value=0.3, max_value=0.7),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_no_subject_is_in_both_parts_and_classes_keep_their_share(
    subjects: int, max_images: int, patient_share: float, seed: int
) -> None:
    table = make_cohort(subjects=subjects, age_gap=0.0, seed=seed, max_images=max_images)
    patients = np.random.default_rng(seed).random(subjects) < patient_share
    patients[:5], patients[5:10] = True, False
    table["Group"] = np.where(patients[table.Subject_ID.str[1:].astype(int)], "AD", "CN")
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        stack, _ = write_inputs(folder, table, size=4)
        report = split_cohort(
            stack, table, folder / "out", SplitOptions(seed=seed, threshold=0.0, attempts=20)
        )
        train, test = read_part(folder / "out" / "train"), read_part(folder / "out" / "test")
    assert not set(train.Subject_ID) & set(test.Subject_ID)
    assert len(train) + len(test) == len(table)
    assert report.balanced
    subject_groups = table.groupby("Subject_ID").Group.first()
    test_groups = subject_groups.loc[sorted(set(test.Subject_ID))]
    for group, count in subject_groups.value_counts().items():
        assert abs((test_groups == group).sum() - count / 5) <= 1


@pytest.fixture(scope="module")
def split_result(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("split")
    table = make_cohort(subjects=60, age_gap=0.0, seed=4)
    table = table.sample(frac=1, random_state=0).reset_index(drop=True)  # row order need not be stack order
    stack, images = write_inputs(folder, table, size=16)
    report = split_cohort(stack, table, folder / "out", SplitOptions(seed=7))
    return folder / "out", table, images, report


def test_split_writes_every_size_and_labels_in_stack_order(split_result) -> None:
    out, _, images, report = split_result
    assert report.reached
    assert report.sizes == (16, 8, 4)
    scaled = scale_to_unit_range(images)
    for part in ("train", "test"):
        labels = read_labels(out / part / "labels.csv", num_classes=2)
        source = pd.read_csv(out / part / "source.csv")
        assert list(labels.ID) == list(range(len(labels)))
        assert list(source.ID) == list(labels.ID)
        assert list(source.Image_Index) == sorted(source.Image_Index)
        assert list(labels.Label) == list((source.Group == "AD").astype(int))
        assert list(labels.Subject_ID) == list(source.Subject_ID)
        full = read_stack(out / part / "Real16x16.nii.gz", expected_size=16)
        np.testing.assert_allclose(full, scaled[source.Image_Index.to_numpy()], atol=1e-6)
        for size in (8, 4):
            small = read_stack(out / part / f"Real{size}x{size}.nii.gz", expected_size=size)
            np.testing.assert_allclose(small, resize_stack(full, size), atol=1e-6)
        assert full.min() >= -1 and full.max() <= 1
    saved = json.loads((out / "split_report.json").read_text())
    assert saved["parts"]["test"]["tests"]["welch_t_p"] >= 0.05
    assert (out / "split_ages.png").stat().st_size > 0
    assert not list(out.glob(".split-*"))


def test_split_is_deterministic_for_a_seed(split_result, tmp_path: Path) -> None:
    out, table, _, report = split_result
    stack = out.parent / "all_slices.nii.gz"
    again = split_cohort(stack, table, tmp_path / "again", SplitOptions(seed=7))
    assert again.candidate == report.candidate
    assert (tmp_path / "again" / "test" / "labels.csv").read_text() == (
        out / "test" / "labels.csv"
    ).read_text()


def test_split_refuses_an_output_with_results_and_overwrites_with_force(split_result, tmp_path: Path) -> None:
    out, table, _, _ = split_result
    stack = out.parent / "all_slices.nii.gz"
    with pytest.raises(OutputExistsError, match="--force"):
        split_cohort(stack, table, out, SplitOptions(seed=7))
    (out / "train" / "Real32x32.nii.gz").write_bytes(b"stale")
    split_cohort(stack, table, out, SplitOptions(seed=8), force=True)
    assert not (out / "train" / "Real32x32.nii.gz").exists()


def test_scale_to_unit_range_maps_zero_to_minus_one_and_maximum_to_one() -> None:
    images = np.array([[[[0.0, 50.0], [100.0, 25.0]]], [[[0.0, 0.0], [0.0, 0.0]]]], dtype=np.float32)
    scaled = scale_to_unit_range(images)
    np.testing.assert_allclose(scaled[0, 0], [[-1.0, 0.0], [1.0, -0.5]])
    np.testing.assert_allclose(scaled[1], -1.0)
    with pytest.raises(InputError, match="--no-scale"):
        scale_to_unit_range(images - 10)


def test_no_scale_keeps_the_values(tmp_path: Path) -> None:
    table = make_cohort(subjects=20, age_gap=0.0, seed=1, max_images=1)
    images = np.random.default_rng(0).uniform(-1, 1, (len(table), 1, 4, 4)).astype(np.float32)
    stack = write_stack(tmp_path / "s.nii.gz", images)
    split_cohort(stack, table, tmp_path / "out", SplitOptions(scale="none", threshold=0.0))
    source = pd.read_csv(tmp_path / "out" / "train" / "source.csv")
    np.testing.assert_array_equal(
        read_stack(tmp_path / "out/train/Real4x4.nii.gz"), images[source.Image_Index]
    )


def test_a_table_without_image_indices_must_cover_the_whole_stack(tmp_path: Path) -> None:
    table = make_cohort(subjects=20, age_gap=0.0, seed=1)
    stack, _ = write_inputs(tmp_path, table, size=4)
    with pytest.raises(InputError, match="rows but the stack holds"):
        split_cohort(stack, table.drop(columns="Image_Index").iloc[:-1], tmp_path / "out")
    report = split_cohort(
        stack, table.drop(columns="Image_Index"), tmp_path / "out", SplitOptions(threshold=0.0)
    )
    assert sum(sum(p.images.values()) for p in report.parts.values()) == len(table)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.assign(Image_Index=t.Image_Index + 1), "outside the stack"),
        (lambda t: t.assign(Image_Index=t.Image_Index.where(t.index != 1, 0)), "more than one row"),
        (
            lambda t: t.assign(Image_Index=t.Image_Index.astype(object).where(t.index != 2, "x")),
            "row 3 has 'x'",
        ),
        (lambda t: t[(t.Group == "CN") | t.Subject_ID.isin(["S0000", "S0002"])], "'AD' has 2 subjects"),
    ],
)
def test_bad_tables_are_refused_and_nothing_is_written(tmp_path: Path, change, message: str) -> None:
    table = make_cohort(subjects=20, age_gap=0.0, seed=1)
    stack, _ = write_inputs(tmp_path, table, size=4)
    with pytest.raises(InputError, match=message):
        split_cohort(stack, change(table), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_bad_options_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="folds"):
        split_cohort(tmp_path / "s.nii.gz", make_cohort(20), tmp_path / "out", SplitOptions(folds=1))


def three_class_cohort(subjects: int, seed: int, age_gap: float = 0.0) -> pd.DataFrame:
    """make_cohort with the subjects dealt round-robin into the groups b, a, c."""
    table = make_cohort(subjects=subjects, age_gap=age_gap, seed=seed)
    subject_number = table.Subject_ID.str[1:].astype(int)
    return table.assign(Group=np.array(["b", "a", "c"])[subject_number % 3])


def assert_subjects_apart_and_classes_in_share(out: Path, table: pd.DataFrame, folds: int = 5) -> None:
    train, test = read_part(out / "train"), read_part(out / "test")
    assert not set(train.Subject_ID) & set(test.Subject_ID)
    assert len(train) + len(test) == len(table)
    subject_groups = table.groupby("Subject_ID").Group.first()
    test_groups = subject_groups.loc[sorted(set(test.Subject_ID))]
    for group, count in subject_groups.value_counts().items():
        in_test = (test_groups == group).sum()
        assert in_test >= 1 and abs(in_test - count / folds) <= 1


def test_no_match_splits_by_subject_and_class_without_any_test(tmp_path: Path) -> None:
    table = make_cohort(subjects=40, age_gap=25.0, seed=2)  # no split of these could be age-matched
    stack, _ = write_inputs(tmp_path, table, size=4)
    report = split_cohort(stack, table, tmp_path / "out", SplitOptions(matching=False))
    assert report.reached and report.candidate == 1
    assert all(part.tests == GroupTests() for part in report.parts.values())
    saved = json.loads((tmp_path / "out" / "split_report.json").read_text())
    assert saved["balance_tests"] == {"ran": [], "skipped": {"age": "--no-match", "sex": "--no-match"}}
    assert saved["parts"]["test"]["tests"] == {}
    text = (tmp_path / "out" / "split_report.txt").read_text()
    assert "balance tests: none (age and sex tests skipped: --no-match)" in text
    assert "p >= " not in text
    assert not (tmp_path / "out" / "split_ages.png").exists()
    assert_subjects_apart_and_classes_in_share(tmp_path / "out", table)


@pytest.mark.parametrize(
    ("missing", "ran", "figure"),
    [("Sex", ["welch_t_p", "mann_whitney_p"], True), ("Age", ["chi_square_p"], False)],
)
def test_a_table_without_age_or_sex_is_matched_on_what_it_has(
    tmp_path: Path, missing: str, ran: list[str], figure: bool
) -> None:
    table = make_cohort(subjects=40, age_gap=0.0, seed=5).drop(columns=missing)
    stack, _ = write_inputs(tmp_path, table, size=4)
    report = split_cohort(stack, table, tmp_path / "out", SplitOptions(seed=1))
    assert report.reached
    saved = json.loads((tmp_path / "out" / "split_report.json").read_text())
    assert saved["balance_tests"]["ran"] == ran
    assert saved["balance_tests"]["skipped"] == {missing.lower(): f"the table has no column '{missing}'"}
    assert all(list(part["tests"]) == ran for part in saved["parts"].values())
    assert f"skipped: the table has no column '{missing}'" in report.summary_lines()[1]
    assert (tmp_path / "out" / "split_ages.png").exists() == figure
    assert_subjects_apart_and_classes_in_share(tmp_path / "out", table)


@pytest.mark.parametrize("seed", [0, 1])
def test_three_classes_are_stratified_labelled_in_sorted_order_and_tested_as_three_groups(
    tmp_path: Path, seed: int
) -> None:
    table = three_class_cohort(subjects=45, seed=seed)
    stack, _ = write_inputs(tmp_path, table, size=4)
    report = split_cohort(stack, table, tmp_path / "out", SplitOptions(seed=seed))
    assert report.classes.names == ("a", "b", "c") and report.reached
    out = tmp_path / "out"
    assert_subjects_apart_and_classes_in_share(out, table)
    for part in ("train", "test"):
        labels = read_labels(out / part / "labels.csv", num_classes=3)
        source = pd.read_csv(out / part / "source.csv")
        classes = pd.read_csv(out / part / "classes.csv")
        assert classes.to_dict("list") == {"Label": [0, 1, 2], "Class": ["a", "b", "c"]}
        assert list(labels.Label) == list(
            source.Group.map(dict(zip(classes.Class, classes.Label, strict=True)))
        )
    saved = json.loads((out / "split_report.json").read_text())
    assert saved["labels"] == {"a": 0, "b": 1, "c": 2} and saved["classes"] == ["a", "b", "c"]
    assert list(saved["parts"]["test"]["tests"]) == ["anova_p", "kruskal_wallis_p", "chi_square_p"]
    assert min(saved["parts"]["test"]["tests"].values()) >= 0.05
    lines = report.summary_lines()
    assert (
        lines[0]
        == "classes: 0 = a, 1 = b, 2 = c (every group in the table, sorted; set the order with --classes)"
    )
    assert "for training, set class_size: 3 and class_names: [a, b, c]" in lines


def test_a_three_class_age_gap_is_caught_by_the_k_group_tests(tmp_path: Path) -> None:
    table = three_class_cohort(subjects=45, seed=3)
    table["Age"] += table.Group.map({"a": 0.0, "b": 0.0, "c": 15.0})
    stack, _ = write_inputs(tmp_path, table, size=4)
    report = split_cohort(stack, table, tmp_path / "out", SplitOptions(attempts=2))
    assert not report.reached and report.balanced and not report.tests_pass
    assert report.parts["train"].tests.anova_p < 0.05


def test_number_groups_keep_their_numbers_as_labels(tmp_path: Path) -> None:
    table = make_cohort(subjects=30, age_gap=0.0, seed=6)
    table["Group"] = (table.Group == "AD").astype(int)
    stack, _ = write_inputs(tmp_path, table, size=4)
    report = split_cohort(stack, table, tmp_path / "out", SplitOptions(threshold=0.0))
    assert report.classes.names == ("0", "1")
    for part in ("train", "test"):
        source = pd.read_csv(tmp_path / "out" / part / "source.csv")
        assert list(read_part(tmp_path / "out" / part).Label) == list(source.Group)


def test_classes_given_choose_and_order_the_groups_and_leave_the_rest_out(tmp_path: Path) -> None:
    table = three_class_cohort(subjects=45, seed=4)
    stack, _ = write_inputs(tmp_path, table, size=4)
    report = split_cohort(stack, table, tmp_path / "out", SplitOptions(classes=("c", "a"), threshold=0.0))
    assert report.classes.names == ("c", "a")
    assert report.ignored_rows == {"b": int((table.Group == "b").sum())}
    train = pd.read_csv(tmp_path / "out" / "train" / "source.csv")
    assert set(train.Group) == {"a", "c"}
    assert list(read_part(tmp_path / "out" / "train").Label) == list((train.Group == "a").astype(int))


def test_a_class_too_small_for_both_parts_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    table = three_class_cohort(subjects=30, seed=1)
    few = table.Subject_ID.isin(sorted(set(table.Subject_ID[table.Group == "c"]))[3:])
    table = table[~few].reset_index(drop=True).assign(Image_Index=lambda t: range(len(t)))
    stack, _ = write_inputs(tmp_path, table, size=4)
    with pytest.raises(
        InputError, match="class 'c' has 3 subjects; a 5-fold holdout needs at least 5"
    ) as error:
        split_cohort(stack, table, tmp_path / "out")
    assert "\n" not in str(error.value)
    assert not (tmp_path / "out").exists()


def test_force_without_ages_leaves_no_earlier_age_figure(split_result, tmp_path: Path) -> None:
    out, table, _, _ = split_result
    stack = out.parent / "all_slices.nii.gz"
    split_cohort(stack, table, tmp_path / "out", SplitOptions(seed=7))
    assert (tmp_path / "out" / "split_ages.png").exists()
    with pytest.raises(OutputExistsError, match="--force"):
        split_cohort(stack, table, tmp_path / "out", SplitOptions(matching=False))
    split_cohort(stack, table, tmp_path / "out", SplitOptions(matching=False), force=True)
    assert not (tmp_path / "out" / "split_ages.png").exists()
