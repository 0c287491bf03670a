"""`pacgan split` through the real entry point, and the whole preparation feeding `pacgan train`."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from core.cohort.cohort_data import make_cohort, make_images

from helpers import run_cli, tiny_config, write_config
from pacgan_cli.core.io.nifti import read_stack, write_stack
from pacgan_cli.core.io.tables import read_labels


def write_inputs(folder: Path, subjects: int = 40) -> tuple[Path, Path]:
    table = make_cohort(subjects=subjects, age_gap=0.0, seed=3)
    table.to_csv(folder / "cohort.csv", index=False)
    return write_stack(folder / "all.nii.gz", make_images(len(table), 8)), folder / "cohort.csv"


def test_split_writes_train_and_test_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack, table = write_inputs(tmp_path)
    code, out, err = run_cli(["split", str(stack), str(table), "-o", str(tmp_path / "data"), "-q"], capsys)
    assert code == 0, err
    assert "both parts reach p >= 0.05" in out
    for part in ("train", "test"):
        labels = read_labels(tmp_path / "data" / part / "labels.csv")
        for size in (4, 8):
            assert read_stack(tmp_path / "data" / part / f"Real{size}x{size}.nii.gz", size).shape[0] == len(
                labels
            )
    assert json.loads((tmp_path / "data" / "split_report.json").read_text())["reached"]


def test_split_errors_are_one_line_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack, table = write_inputs(tmp_path)
    pd.read_csv(table).drop(columns="Image_Index").iloc[:-3].to_csv(tmp_path / "short.csv", index=False)
    code, _, err = run_cli(
        ["split", str(stack), str(tmp_path / "short.csv"), "-o", str(tmp_path / "data")], capsys
    )
    assert code == 1
    assert err.splitlines() == [
        f"error: the table has {len(pd.read_csv(table)) - 3} rows but the stack holds {len(pd.read_csv(table))} "
        "images and there is no 'Image_Index' column; add the column with each row's image index "
        "(or name it with --image-column)"
    ]
    assert not (tmp_path / "data").exists()
    code, _, err = run_cli(
        ["split", str(stack), str(table), "-o", str(tmp_path / "data"), "--folds", "1"], capsys
    )
    assert code == 2 and "--folds must be at least 2" in err
    code, _, err = run_cli(
        ["split", str(stack), str(table), "-o", str(tmp_path / "data"), "--patients", "CN"], capsys
    )
    assert code == 2 and err == "error: --patients and --controls must name different groups\n"
    assert not (tmp_path / "data").exists()


def test_split_refuses_a_folder_with_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack, table = write_inputs(tmp_path)
    (tmp_path / "data" / "train").mkdir(parents=True)
    (tmp_path / "data" / "train" / "labels.csv").write_text("ID,Label,Subject_ID\n")
    code, _, err = run_cli(["split", str(stack), str(table), "-o", str(tmp_path / "data")], capsys)
    assert code == 1 and "labels.csv already exists" in err and "--force" in err
    assert sorted(p.name for p in (tmp_path / "data").rglob("*")) == ["labels.csv", "train"]


def test_slices_match_split_and_train_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cohort = make_cohort(subjects=40, age_gap=3.0, seed=8, max_images=1)
    volumes = tmp_path / "volumes"
    volumes.mkdir()
    rng = np.random.default_rng(0)
    for row in cohort.itertuples():
        data = rng.uniform(0, 50, (7, 9, 8)).astype(np.float32)
        data[: 3 if row.Group == "AD" else 7] += 100
        nib.save(nib.Nifti1Image(data, np.eye(4)), volumes / f"{row.Subject_ID}.nii.gz")
    code, _, err = run_cli(
        ["slices", str(volumes), "-o", str(tmp_path / "all.nii.gz"), "--cube-size", "8", "-q"], capsys
    )
    assert code == 0, err

    listed = [
        Path(p).name.removesuffix(".nii.gz") for p in (tmp_path / "all_list.txt").read_text().splitlines()
    ]
    order = pd.DataFrame({"Subject_ID": listed, "Image_Index": range(len(listed))})
    cohort.drop(columns="Image_Index").merge(order, on="Subject_ID").to_csv(
        tmp_path / "cohort.csv", index=False
    )
    code, _, err = run_cli(
        ["match", str(tmp_path / "cohort.csv"), "-o", str(tmp_path / "matched.csv"), "-q"], capsys
    )
    assert code == 0, err
    code, _, err = run_cli(
        [
            "split",
            str(tmp_path / "all.nii.gz"),
            str(tmp_path / "matched.csv"),
            "-o",
            str(tmp_path / "data"),
            "-q",
        ],
        capsys,
    )
    assert code == 0, err

    config = write_config(
        tmp_path / "tiny.yaml", tiny_config(tmp_path / "data", factors=[1, 1], batch_sizes=8)
    )
    code, out, err = run_cli(["train", "--dry-run", "-c", str(config)], capsys)
    assert code == 0, err
    assert str(tmp_path / "data" / "train") in out
    code, out, err = run_cli(["train", "-c", str(config), "-o", str(tmp_path / "run"), "--quiet"], capsys)
    assert code == 0, err
    assert (tmp_path / "run" / "summary.json").exists()
