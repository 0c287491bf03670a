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

from pacgan_cli.core.cohort.pyramid import resize_stack
from pacgan_cli.core.cohort.split import SplitOptions, split_cohort
from pacgan_cli.core.errors import ConfigError, InputError, OutputExistsError
from pacgan_cli.core.io.intensity import scale_to_unit_range
from pacgan_cli.core.io.nifti import read_stack, write_stack
from pacgan_cli.core.io.tables import read_labels

from .cohort_data import make_cohort, make_images


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
