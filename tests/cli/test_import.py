"""`pacgan import` through the real entry point: one's own 2D images -> stack + labels table, or one error line."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers import TINY_NETWORK, png_bytes, run_cli, write_dicom
from pacgan_cli.core.io.nifti import read_stack

ROOT = Path(__file__).parents[2]
LABEL_COLUMNS = ["Image_Index", "Subject_ID", "Group", "Label", "Source"]


def write_png(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def class_folders(root: Path, per_class: int = 2, size: int = 8) -> Path:
    """root/CN/cn{i}.png and root/AD/ad{i}.png; image value = 10 * class index + i, plus a gradient."""
    for group, base in (("CN", 0), ("AD", 10)):
        for index in range(per_class):
            pixels = (np.arange(size * size).reshape(size, size) + base + index).astype(np.uint8)
            write_png(root / group / f"{group.lower()}{index}.png", pixels)
    return root


def import_cli(capsys, *args: object) -> tuple[int, str, str]:
    return run_cli(["import", *map(str, args), "-q"], capsys)


def error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_a_folder_of_class_subfolders_becomes_a_stack_and_a_labels_table(tmp_path: Path, capsys) -> None:
    source = class_folders(tmp_path / "images")
    (source / "README.txt").write_text("not an image")
    (source / "AD" / "notes.txt").write_text("not an image either")
    output = tmp_path / "data" / "images.nii.gz"
    code, out, err = import_cli(capsys, source, "-o", output)
    assert code == 0, err
    images = read_stack(output)
    assert images.shape == (4, 1, 8, 8)
    table = pd.read_csv(tmp_path / "data" / "images_labels.csv")
    assert list(table.columns) == LABEL_COLUMNS
    assert table["Group"].tolist() == ["AD", "AD", "CN", "CN"]  # classes sorted by name: AD = 0, CN = 1
    assert table["Label"].tolist() == [0, 0, 1, 1]
    assert table["Subject_ID"].tolist() == ["AD/ad0", "AD/ad1", "CN/cn0", "CN/cn1"]
    assert table["Source"].tolist() == [str(source / "AD" / "ad0.png"), *table["Source"][1:]]
    for row in table.itertuples():
        np.testing.assert_array_equal(images[row.Image_Index, 0], np.asarray(Image.open(row.Source)))
    assert "4 grey images (8x8) from 4 files" in out
    assert "files: PNG 8-bit (4)" in out
    assert "classes: 0 = AD (2 images, 2 subjects), 1 = CN (2 images, 2 subjects)" in out
    assert "split decides the final labels" in out and "here: AD, CN" in out
    assert "skipped 2 file(s) that are not images" in out
    assert "intensities [0, 74] (float32, not scaled" in out


def test_png_rows_and_columns_round_trip_to_the_published_axes(tmp_path: Path, capsys) -> None:
    pixels = (np.arange(8)[:, None] * 16 + np.arange(8)[None, :]).astype(np.uint8)  # not symmetric
    pixels[0, 7] = 255
    write_png(tmp_path / "in" / "A" / "x.png", pixels)
    code, _, err = import_cli(capsys, tmp_path / "in", "-o", tmp_path / "s.nii.gz")
    assert code == 0, err
    images = read_stack(tmp_path / "s.nii.gz")
    for row in range(8):
        for column in range(8):
            assert images[0, 0, row, column] == pixels[row, column]
    import nibabel as nib

    on_disk = nib.load(tmp_path / "s.nii.gz")
    assert on_disk.shape == (8, 8, 1, 1) and np.array_equal(on_disk.affine, np.eye(4))
    assert on_disk.get_fdata(dtype=np.float32)[7, 0, 0, 0] == 255  # array[j, i, c, n] = tensor[n, c, i, j]


def test_a_csv_gives_files_classes_subjects_and_carries_its_other_columns(tmp_path: Path, capsys) -> None:
    source = class_folders(tmp_path / "images")
    table = pd.DataFrame(
        {
            "File": ["images/AD/ad0.png", "images/CN/cn0.png", "images/AD/ad1.png", "images/MCI.png"],
            "Diagnosis": ["AD", "CN", "AD", "MCI"],
            "Subject_ID": ["S1", "S2", "S1", "S3"],
            "Age": [71, 68, 72, 80],
        }
    )
    shutil.copy(source / "AD" / "ad0.png", tmp_path / "images" / "MCI.png")
    table.to_csv(tmp_path / "cohort.csv", index=False)
    code, out, err = import_cli(
        capsys,
        tmp_path / "cohort.csv",
        "-o",
        tmp_path / "x.nii",
        "--group-column",
        "Diagnosis",
        "--classes",
        "CN,AD",
    )
    assert code == 0, err
    labels = pd.read_csv(tmp_path / "x_labels.csv")
    assert list(labels.columns) == [*LABEL_COLUMNS, "Age"]
    assert labels["Group"].tolist() == ["AD", "CN", "AD"] and labels["Label"].tolist() == [1, 0, 1]
    assert labels["Subject_ID"].tolist() == ["S1", "S2", "S1"] and labels["Age"].tolist() == [71, 68, 72]
    assert "classes: 0 = CN (1 images, 1 subjects), 1 = AD (2 images, 1 subjects)" in out
    assert "left out 1 file(s) of class 'MCI' (not in --classes)" in out


def test_files_without_a_class_are_unlabelled_or_take_class(tmp_path: Path, capsys) -> None:
    source = class_folders(tmp_path / "images")
    files = [source / "AD" / "ad0.png", source / "CN" / "cn1.png"]
    code, out, err = import_cli(capsys, *files, "-o", tmp_path / "u.nii.gz")
    assert code == 0, err
    labels = pd.read_csv(tmp_path / "u_labels.csv", keep_default_na=False)
    assert labels["Group"].tolist() == ["", ""] and labels["Label"].tolist() == ["", ""]
    assert labels["Subject_ID"].tolist() == [str(f.with_suffix("")) for f in files]
    assert "no classes given" in out
    code, _, err = import_cli(capsys, *files, "-o", tmp_path / "c.nii.gz", "--class", "CN")
    assert code == 0, err
    assert pd.read_csv(tmp_path / "c_labels.csv")["Label"].tolist() == [0, 0]


def test_dicom_frames_are_images_of_one_subject_and_the_summary_says_what_was_done(
    tmp_path: Path, capsys
) -> None:
    stored = np.arange(64, dtype=np.uint16).reshape(8, 8)
    write_dicom(tmp_path / "in" / "A" / "one.dcm", stored, slope=2.0, intercept=-10.0)
    write_dicom(tmp_path / "in" / "B" / "cine.dcm", np.stack([stored, stored + 1, stored + 2]))
    code, out, err = import_cli(capsys, tmp_path / "in", "-o", tmp_path / "d.nii.gz")
    assert code == 0, err
    images = read_stack(tmp_path / "d.nii.gz")
    np.testing.assert_array_equal(images[0, 0], stored * 2.0 - 10)
    np.testing.assert_array_equal(images[3, 0], stored + 2.0)
    labels = pd.read_csv(tmp_path / "d_labels.csv")
    cine = str(tmp_path / "in" / "B" / "cine.dcm")
    assert labels["Source"].tolist()[1:] == [f"{cine}#1", f"{cine}#2", f"{cine}#3"]
    assert labels["Subject_ID"].tolist() == ["A/one", "B/cine", "B/cine", "B/cine"]
    assert "files: DICOM 12-bit (2)" in out
    assert "DICOM rescale applied (slope 2, intercept -10): 1 file(s)" in out
    assert "warning: 1 image(s) have negative values (lowest -10)" in out
    assert "--window CENTER,WIDTH" in out


def test_ct_in_hounsfield_units_is_windowed_to_non_negative_values(tmp_path: Path, capsys) -> None:
    from pydicom.data import get_testdata_file

    (tmp_path / "in" / "CT").mkdir(parents=True)
    shutil.copy(get_testdata_file("CT_small.dcm"), tmp_path / "in" / "CT" / "ct.dcm")
    code, out, err = import_cli(capsys, tmp_path / "in", "-o", tmp_path / "raw.nii.gz")
    assert code == 0, err
    assert "have negative values (lowest -896)" in out
    code, out, err = import_cli(capsys, tmp_path / "in", "-o", tmp_path / "w.nii.gz", "--window", "40,400")
    assert code == 0, err
    raw, windowed = read_stack(tmp_path / "raw.nii.gz"), read_stack(tmp_path / "w.nii.gz")
    np.testing.assert_array_equal(windowed, np.clip(raw, -160, 240) + 160)
    assert "window 40/400 (centre/width): values clipped to [-160, 240], then shifted to [0, 400]" in out
    assert "negative values" not in out
    code, _, err = import_cli(capsys, tmp_path / "in", "-o", tmp_path / "f.nii.gz", "--window", "dicom")
    assert code == 1 and "ct.dcm: has no DICOM window (WindowCenter/WindowWidth)" in error_line(err)


def test_the_files_own_window_is_used_with_window_dicom(tmp_path: Path, capsys) -> None:
    from pydicom import dcmread
    from pydicom.data import get_testdata_file

    (tmp_path / "in" / "MR").mkdir(parents=True)
    shutil.copy(get_testdata_file("MR_small.dcm"), tmp_path / "in" / "MR" / "mr.dcm")
    code, out, err = import_cli(capsys, tmp_path / "in", "-o", tmp_path / "w.nii.gz", "--window", "dicom")
    assert code == 0, err
    raw = dcmread(tmp_path / "in" / "MR" / "mr.dcm").pixel_array  # 127..2145, window [-200, 1400]
    np.testing.assert_array_equal(read_stack(tmp_path / "w.nii.gz")[0, 0], np.clip(raw, -200, 1400) + 200)
    assert "window: each file's own WindowCenter/WindowWidth (600/1600 (1 images))" in out


def test_mixed_grey_and_rgb_are_refused_unless_converted(tmp_path: Path, capsys) -> None:
    grey = np.full((4, 4), 100, np.uint8)
    colour = np.stack([grey, grey // 2, grey // 10], axis=-1)
    write_png(tmp_path / "in" / "A" / "grey.png", grey)
    write_png(tmp_path / "in" / "A" / "rgba.png", np.dstack([colour, np.full((4, 4), 9, np.uint8)]))
    code, _, err = import_cli(capsys, tmp_path / "in", "-o", tmp_path / "m.nii.gz")
    assert code == 1
    assert "the images mix grey (1, e.g." in error_line(err) and "pass --channels 1" in err
    assert not (tmp_path / "m.nii.gz").exists() and not (tmp_path / "m_labels.csv").exists()
    code, out, err = import_cli(capsys, tmp_path / "in", "-o", tmp_path / "g.nii.gz", "--channels", "1")
    assert code == 0, err
    images = read_stack(tmp_path / "g.nii.gz")
    np.testing.assert_allclose(images[1, 0], 0.299 * 100 + 0.587 * 50 + 0.114 * 10, rtol=1e-6)
    assert "converted 1 RGB image(s) to grey (0.299 R + 0.587 G + 0.114 B)" in out
    assert "alpha channel dropped: 1 file(s)" in out
    code, out, err = import_cli(capsys, tmp_path / "in", "-o", tmp_path / "c.nii.gz", "--channels", "3")
    assert code == 0, err
    assert read_stack(tmp_path / "c.nii.gz").shape == (2, 3, 4, 4) and "repeated 1 grey image(s)" in out


def test_sizes_must_agree_unless_padded_or_resized(tmp_path: Path, capsys) -> None:
    write_png(tmp_path / "in" / "A" / "small.png", np.arange(12, dtype=np.uint8).reshape(3, 4) + 5)
    write_png(tmp_path / "in" / "A" / "big.png", np.full((8, 8), 50, np.uint8))
    code, _, err = import_cli(capsys, tmp_path / "in", "-o", tmp_path / "x.nii.gz")
    assert code == 1
    line = error_line(err)
    assert "the images have 2 sizes: " in line and "4x3 (1 images, e.g." in line and "8x8 (1 images" in line
    assert line.endswith("--resize 8 (bilinear) or --pad 8 (centre pad/crop)")
    code, out, err = import_cli(capsys, tmp_path / "in", "-o", tmp_path / "p.nii.gz", "--pad", "6")
    assert code == 0, err
    padded = read_stack(tmp_path / "p.nii.gz")
    expected = np.full((6, 6), 5.0)  # the image's minimum around it, centred: rows 1..3, columns 1..4
    expected[1:4, 1:5] = np.arange(12).reshape(3, 4) + 5
    np.testing.assert_array_equal(padded[1, 0], expected)
    assert padded[0, 0].shape == (6, 6) and (padded[0, 0] == 50).all()  # 8x8 cropped, centred
    assert "training needs square images whose side is a power of two" in out and "--resize 8" in out
    code, out, err = import_cli(capsys, tmp_path / "in", "-o", tmp_path / "r.nii.gz", "--resize", "4")
    assert code == 0, err
    assert read_stack(tmp_path / "r.nii.gz").shape == (2, 1, 4, 4)
    assert "resized 2 image(s) to 4x4 (bilinear, as the published pyramid)" in out


def test_odd_file_names_keep_sources_in_step_with_images(tmp_path: Path, capsys) -> None:
    names = ["plain.png", "new\nline.png", 'comma, "quote".png']
    for value, name in enumerate(names):
        write_png(tmp_path / "in" / "A" / name, np.full((4, 4), value, np.uint8))
    code, _, err = import_cli(capsys, tmp_path / "in", "-o", tmp_path / "o.nii.gz")
    assert code == 0, err
    labels = pd.read_csv(tmp_path / "o_labels.csv")
    images = read_stack(tmp_path / "o.nii.gz")
    assert len(labels) == 3
    for row in labels.itertuples():
        assert images[row.Image_Index, 0, 0, 0] == names.index(Path(row.Source).name)


def test_a_file_name_that_is_not_utf8_is_written_escaped(tmp_path: Path, capsys) -> None:
    write_png(tmp_path / "in" / "A" / os.fsdecode(b"scan\xff.png"), np.zeros((4, 4), np.uint8))
    code, _, err = import_cli(capsys, tmp_path / "in", "-o", tmp_path / "o.nii.gz")
    assert code == 0, err
    labels = pd.read_csv(tmp_path / "o_labels.csv", encoding="utf-8")
    assert labels["Source"][0].endswith("scan\\udcff.png") and labels["Subject_ID"][0] == "A/scan\\udcff"


@pytest.mark.parametrize(
    ("arguments", "code", "message"),
    [
        (["--window", "wide"], 2, "--window must be CENTER,WIDTH (e.g. 40,400 for CT soft tissue) or dicom"),
        (["--window", "40,0"], 2, "--window needs a finite centre and a positive width"),
        (["--channels", "2"], 2, "--channels must be 1 (grey) or 3 (RGB); got 2"),
        (["--pad", "0"], 2, "--pad must be a positive size in pixels"),
        (["--classes", "CN,XX"], 1, "no images of class 'XX'; the classes found are AD, CN"),
        (["--class", "CN"], 2, "its subfolders are the classes; --class is for images without one"),
    ],
)
def test_bad_options_are_one_line(tmp_path: Path, capsys, arguments, code, message) -> None:
    source = class_folders(tmp_path / "images")
    exit_code, _, err = import_cli(capsys, source, "-o", tmp_path / "x.nii.gz", *arguments)
    assert exit_code == code and message in error_line(err)
    assert list(tmp_path.iterdir()) == [source]


def test_bad_inputs_are_one_line_and_write_nothing(tmp_path: Path, capsys) -> None:
    source = class_folders(tmp_path / "images")
    (source / "CN" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n...")
    (source / "CN" / "broken.tif").write_bytes(b"II*\x00...")
    (tmp_path / "bomb" / "A").mkdir(parents=True)
    (tmp_path / "bomb" / "A" / "bomb.png").write_bytes(png_bytes(100_000, 100_000, 8, 0))
    (tmp_path / "empty" / "A").mkdir(parents=True)
    (tmp_path / "empty" / "A" / "notes.txt").write_text("x")
    cases = [
        ([source], "broken.png: cannot be read as PNG", "(and 1 more file(s) that cannot be read)"),
        ([tmp_path / "bomb"], "bomb.png: its header claims an image too large to decode safely", ""),
        ([tmp_path / "empty"], "its class subfolders hold no image files (pacgan reads .png, .jpg", ""),
        ([tmp_path / "missing"], "missing: no such file or folder", ""),
        ([tmp_path / "nothing.csv"], "nothing.csv: file not found", ""),
    ]
    for sources, message, more in cases:
        code, _, err = import_cli(capsys, *sources, "-o", tmp_path / "out" / "x.nii.gz")
        line = error_line(err)
        assert code == 1 and message in line and more in line, line
    assert not (tmp_path / "out").exists()  # nothing written, not even a temporary file


def test_existing_output_needs_force(tmp_path: Path, capsys) -> None:
    source = class_folders(tmp_path / "images")
    output = tmp_path / "x.nii.gz"
    assert import_cli(capsys, source, "-o", output)[0] == 0
    (tmp_path / "x_labels.csv").write_text("mine")
    output.unlink()
    code, _, err = import_cli(capsys, source, "-o", output)
    assert code == 1 and "x_labels.csv already exists" in error_line(err) and "--force" in err
    assert not output.exists()
    code, _, err = import_cli(capsys, source, "-o", output, "--force")
    assert code == 0, err
    assert list(pd.read_csv(tmp_path / "x_labels.csv").columns) == LABEL_COLUMNS


def test_a_csv_that_lacks_the_class_column_says_which_option_names_it(tmp_path: Path, capsys) -> None:
    class_folders(tmp_path / "images")
    pd.DataFrame({"File": ["images/AD/ad0.png"], "Dx": ["AD"]}).to_csv(tmp_path / "t.csv", index=False)
    code, _, err = import_cli(capsys, tmp_path / "t.csv", "-o", tmp_path / "x.nii.gz")
    assert code == 1
    assert "has no column 'Group' (columns: File, Dx); name it with --group-column" in error_line(err)


def test_the_output_may_not_be_the_table_it_reads(tmp_path: Path, capsys) -> None:
    class_folders(tmp_path / "images")
    pd.DataFrame({"File": ["images/AD/ad0.png"], "Group": ["AD"]}).to_csv(
        tmp_path / "x_labels.csv", index=False
    )
    code, _, err = import_cli(capsys, tmp_path / "x_labels.csv", "-o", tmp_path / "x.nii.gz", "--force")
    assert code == 2 and "writing it would destroy what is read" in error_line(err)


def test_the_readmes_own_images_path_runs_as_written(tmp_path: Path, capsys, monkeypatch) -> None:
    """README, "Your own 2D images": its import, split and train lines and its my.yaml, on tiny PNGs; only the
    size (8 for 128), the network, the schedule and the end-of-run generation are made small."""
    import yaml

    section = (ROOT / "README.md").read_text().split("## Your own 2D images")[1].split("\n## ")[0]
    lines = section.split("```bash")[1].split("```")[0].strip().splitlines()
    commands = [line.split(" #")[0].split() for line in lines]
    assert [words[:2] for words in commands] == [
        ["pacgan", "import"],
        ["pacgan", "split"],
        ["pacgan", "train"],
    ]
    config = yaml.safe_load(section.split("```yaml")[1].split("```")[0])
    assert len(config["factors"]) == 6  # 4x4 to 128x128, the README's --resize 128
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    for group, brighter in (("CN", 0), ("AD", 40)):
        for index in range(20):
            write_png(
                Path("images") / group / f"sub-{group}{index:03d}.png",
                rng.integers(0, 200, (10, 12), np.uint8) + brighter,
            )
    config |= {
        **TINY_NETWORK,
        "factors": [1, 1],
        "batch_sizes": 8,
        "progressive_epochs": 1,
        "generate": False,
    }
    Path("my.yaml").write_text(yaml.safe_dump(config))
    outputs = []
    for words in commands:
        code, out, err = run_cli(["8" if word == "128" else word for word in words[1:]], capsys)
        assert code == 0, f"{' '.join(words)}: {err}"
        outputs.append(out)
    names = ", ".join(config["class_names"])
    assert f"for training, set class_size: {config['class_size']} and class_names: [{names}]" in outputs[1]
    assert Path("saved_models/PACGAN/PACGAN_8x8/generator_best.pt").is_file()
