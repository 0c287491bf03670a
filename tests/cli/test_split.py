"""`pacgan split` through the real entry point, and the whole preparation feeding `pacgan train`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from helpers import make_cohort, make_images, run_cli, tiny_config, write_config
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


def write_imported_set(folder: Path, subjects: int = 30) -> tuple[Path, Path]:
    """What `pacgan import` writes: a stack and `<stem>_labels.csv` with Image_Index, Subject_ID, Group,
    Label, Source (Group the class name), here numbering nonface 0 and face 1 (not sorted order)."""
    folder.mkdir(parents=True, exist_ok=True)
    groups = ["face" if index % 2 else "nonface" for index in range(subjects)]
    table = pd.DataFrame(
        {
            "Image_Index": range(subjects),
            "Subject_ID": [f"photo_{index:03d}" for index in range(subjects)],
            "Group": groups,
            "Label": [int(group == "face") for group in groups],
            "Source": [f"photos/{group}/{index:03d}.png" for index, group in enumerate(groups)],
        }
    )
    table.to_csv(folder / "images_labels.csv", index=False)
    return write_stack(folder / "images.nii.gz", make_images(subjects, 8)), folder / "images_labels.csv"


@pytest.mark.parametrize("matching", [["--no-match"], []], ids=["no-match", "match-what-there-is"])
def test_an_imported_table_splits_with_no_more_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], matching: list[str]
) -> None:
    stack, table = write_imported_set(tmp_path / "data")
    code, out, err = run_cli(
        ["split", str(stack), str(table), "-o", str(tmp_path / "data"), "-q", *matching], capsys
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "classes: 0 = nonface, 1 = face (as the table's Label column numbers them)"
    assert lines[1].startswith("balance tests: none (")
    assert "for training, set class_size: 2 and class_names: [nonface, face]" in lines
    imported = pd.read_csv(table)
    seen: set[str] = set()
    for part in ("train", "test"):
        folder = tmp_path / "data" / part
        labels = read_labels(folder / "labels.csv", num_classes=2)
        source = pd.read_csv(folder / "source.csv")
        assert pd.read_csv(folder / "classes.csv").to_dict("list") == {
            "Label": [0, 1],
            "Class": ["nonface", "face"],
        }
        assert list(labels.Label) == list(source.Label)  # the import's numbers, kept
        assert not seen & set(labels.Subject_ID)
        seen |= set(labels.Subject_ID)
        assert read_stack(folder / "Real8x8.nii.gz", 8).shape[0] == len(labels)
    assert seen == set(imported.Subject_ID)
    assert not (tmp_path / "data" / "split_ages.png").exists()


def test_class_option_mistakes_are_one_line_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack, table = write_inputs(tmp_path)
    output = ["-o", str(tmp_path / "data")]
    cases = [
        (
            ["--classes", "CN", "--patients", "AD"],
            2,
            "error: give the classes with --classes or with --patients/--controls, not both",
        ),
        (["--classes", "CN"], 2, "error: --classes needs at least two classes; got CN"),
        (
            ["--classes", "CN,HC"],
            1,
            "error: no rows have Group = 'HC' (values found: AD, CN); name the classes with --classes (or --patients/--controls)",
        ),
        (["--group-column", "Sex", "--classes", "F", "--classes", "X"], 1, "error: no rows have Sex = 'X'"),
    ]
    for arguments, expected_code, message in cases:
        code, _, err = run_cli(["split", str(stack), str(table), *output, *arguments], capsys)
        assert code == expected_code and err.count("\n") == 1 and err.startswith(message), (arguments, err)
    assert not (tmp_path / "data").exists()


def test_formula_cells_reach_no_csv_file_unescaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = ["=cmd|' /C calc'!A0", "+1", "-1+1", "@SUM(A1:A2)"]
    cohort = make_cohort(subjects=40, age_gap=0.0, seed=3)
    renamed = dict(zip([f"S{index:04d}" for index in range(len(hostile))], hostile, strict=True))
    cohort["Subject_ID"] = cohort.Subject_ID.replace(renamed)
    cohort.to_csv(tmp_path / "cohort.csv", index=False)
    stack = write_stack(tmp_path / "all.nii.gz", make_images(len(cohort), 8))
    code, _, err = run_cli(
        ["match", str(tmp_path / "cohort.csv"), "-o", str(tmp_path / "m.csv"), "-q"], capsys
    )
    assert code == 0, err
    code, _, err = run_cli(
        ["split", str(stack), str(tmp_path / "m.csv"), "-o", str(tmp_path / "data"), "-q"], capsys
    )
    assert code == 0, err
    written = sorted(p for p in tmp_path.rglob("*.csv") if p.name != "cohort.csv")
    assert len(written) == 8  # m.csv, m_removed.csv, and labels, source, classes in train/ and test/
    cells = [cell for path in written for row in csv.reader(path.open(newline="")) for cell in row]
    assert not [
        cell for cell in cells if cell[:1] in ("=", "+", "@") or (cell[:1] == "-" and not is_number(cell))
    ]
    subjects = {cell for cell in cells if cell.lstrip("'") in hostile}
    assert subjects == {"'" + cell for cell in hostile}


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
