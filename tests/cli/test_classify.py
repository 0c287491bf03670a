from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from helpers import make_run_folder, make_separable_images, run_cli, write_data_folder
from pacgan_cli.core.io.nifti import write_stack
from pacgan_cli.core.io.tables import read_csv
from pacgan_cli.core.models.checkpoint import DISCRIMINATOR, NetworkArchitecture, save_checkpoint

ARCHITECTURE = NetworkArchitecture(8, (1.0, 1.0, 1.0), 1, 2, 6, 2)


def published_discriminator(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    state = {f"module.{k}": v for k, v in ARCHITECTURE.build(DISCRIMINATOR).state_dict().items()}
    torch.save({"epoch": 9, "model_state_dict": state}, tmp_path / "D_published.pt")
    return tmp_path / "D_published.pt"


@pytest.fixture
def ours(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    model = ARCHITECTURE.build(DISCRIMINATOR)
    return save_checkpoint(
        tmp_path / "D.pt", model, ARCHITECTURE, epoch=1, stage=2, alpha=1, batch_statistic=0.4
    )


def test_classify_with_labels_reports_and_writes_figures(ours: Path, tmp_path: Path, capsys) -> None:
    folder = write_data_folder(tmp_path / "test", 10, 16)
    out = tmp_path / "pred.csv"
    code, stdout, stderr = run_cli(
        [
            "classify",
            str(folder / "Real16x16.nii.gz"),
            "-m",
            str(ours),
            "-o",
            str(out),
            "--labels",
            str(folder / "labels.csv"),
            "-q",
        ],
        capsys,
    )
    assert code == 0, stderr
    assert "batch statistic: checkpoint" in stdout and "ROC AUC macro" in stdout and "accuracy" in stdout
    table = read_csv(out)
    assert list(table.columns)[1:] == ["Predictions for Real16x16.nii.gz", "Class 0", "Class 1"]
    np.testing.assert_allclose(table[["Class 0", "Class 1"]].sum(axis=1), 1, atol=1e-9)
    for name in ("pred_roc.png", "pred_confusion.png", "pred_metrics.json"):
        assert (tmp_path / name).is_file()


def test_one_scan_alone_gets_the_probabilities_it_gets_in_the_file(
    ours: Path, tmp_path: Path, capsys
) -> None:
    images = make_separable_images(np.arange(8) % 2, 16, seed=3)
    write_stack(tmp_path / "all.nii.gz", images)
    write_stack(tmp_path / "one.nii.gz", images[5:6])
    for name in ("all", "one"):
        args = [
            "classify",
            str(tmp_path / f"{name}.nii.gz"),
            "-m",
            str(ours),
            "-o",
            str(tmp_path / f"{name}.csv"),
            "-q",
        ]
        assert run_cli([*args, "--batch-size", "3"], capsys)[0] == 0
    whole, alone = read_csv(tmp_path / "all.csv"), read_csv(tmp_path / "one.csv")
    np.testing.assert_allclose(
        alone[["Class 0", "Class 1"]].to_numpy()[0], whole[["Class 0", "Class 1"]].to_numpy()[5], atol=1e-6
    )


def test_a_single_2d_image_is_classified_as_in_its_stack(ours: Path, tmp_path: Path, capsys) -> None:
    images = make_separable_images(np.arange(8) % 2, 16, seed=3)
    write_stack(tmp_path / "all.nii.gz", images)
    nib.save(nib.Nifti1Image(images[5, 0].T, np.eye(4)), tmp_path / "slice.nii.gz")  # [W, H]
    tifffile.imwrite(tmp_path / "slice.tif", images[5, 0])  # rows x columns, float32 in [-1, 1]
    for name in ("all.nii.gz", "slice.nii.gz", "slice.tif"):
        args = ["classify", str(tmp_path / name), "-m", str(ours), "-o", str(tmp_path / f"{name}.csv"), "-q"]
        code, _, stderr = run_cli(args, capsys)
        assert code == 0, stderr
    whole = read_csv(tmp_path / "all.nii.gz.csv")[["Class 0", "Class 1"]].to_numpy()[5]
    for name in ("slice.nii.gz", "slice.tif"):
        alone = read_csv(tmp_path / f"{name}.csv")[["Class 0", "Class 1"]].to_numpy()
        assert alone.shape == (1, 2)
        np.testing.assert_allclose(alone[0], whole, atol=1e-6)


def test_a_png_or_an_ambiguous_3d_nifti_is_refused_with_the_fix(ours: Path, tmp_path: Path, capsys) -> None:
    Image.fromarray(np.full((16, 16), 200, np.uint8)).save(tmp_path / "scan.png")
    nib.save(nib.Nifti1Image(np.zeros((16, 16, 3), np.float32), np.eye(4)), tmp_path / "three.nii.gz")
    stack, scaled = tmp_path / "scan.nii.gz", tmp_path / "scan_scaled.nii.gz"
    for name, message in (
        (
            "scan.png",
            f"pacgan import {tmp_path / 'scan.png'} -o {stack}, then pacgan scale {stack} -o {scaled}",
        ),
        ("three.nii.gz", "is ambiguous: three grey images or one RGB image?"),
    ):
        args = ["classify", str(tmp_path / name), "-m", str(ours), "-o", str(tmp_path / "p.csv"), "-q"]
        code, _, stderr = run_cli(args, capsys)
        assert code == 1 and stderr.count("\n") == 1 and message in stderr, stderr


def test_published_checkpoint_falls_back_with_a_note_or_uses_a_reference(tmp_path: Path, capsys) -> None:
    model = published_discriminator(tmp_path)
    images = make_separable_images(np.arange(6) % 2, 16, seed=4)
    write_stack(tmp_path / "scans.nii.gz", images)
    write_stack(tmp_path / "one.nii.gz", images[:1])
    write_stack(tmp_path / "reference.nii.gz", make_separable_images(np.arange(10) % 2, 16, seed=5))
    code, stdout, stderr = run_cli(
        ["classify", str(tmp_path / "scans.nii.gz"), "-m", str(model), "-o", str(tmp_path / "a.csv")], capsys
    )
    assert code == 0 and "note:" in stderr and "batch statistic: published" in stdout
    code, _, stderr = run_cli(
        ["classify", str(tmp_path / "one.nii.gz"), "-m", str(model), "-o", str(tmp_path / "b.csv")], capsys
    )
    assert code == 1 and "--reference" in stderr and stderr.count("\n") == 1
    code, stdout, _ = run_cli(
        [
            "classify",
            str(tmp_path / "one.nii.gz"),
            "-m",
            str(model),
            "-o",
            str(tmp_path / "c.csv"),
            "--reference",
            str(tmp_path / "reference.nii.gz"),
        ],
        capsys,
    )
    assert code == 0 and "batch statistic: reference" in stdout


def test_bad_inputs_are_one_line_errors(ours: Path, tmp_path: Path, capsys) -> None:
    write_stack(tmp_path / "rgb.nii.gz", np.zeros((2, 3, 16, 16), np.float32))
    write_stack(tmp_path / "odd.nii.gz", np.zeros((2, 1, 12, 12), np.float32))
    (tmp_path / "labels.csv").write_text("ID,Label\n0,0\n1,5\n")
    write_stack(tmp_path / "ok.nii.gz", np.zeros((2, 1, 16, 16), np.float32))
    cases = [
        (["rgb.nii.gz"], "expects 1"),
        (["odd.nii.gz"], "not a stage size"),
        (["missing.nii.gz"], "not found"),
        ([""], "is a folder; an image stack file (.nii or .nii.gz) is needed here"),
        (["ok.nii.gz", "--labels", str(tmp_path / "labels.csv")], "label 5 is outside"),
        (["ok.nii.gz", "--labels", str(tmp_path / "nothing.csv")], "not found"),
    ]
    for args, message in cases:
        code, _, stderr = run_cli(
            [
                "classify",
                str(tmp_path / args[0]),
                *args[1:],
                "-m",
                str(ours),
                "-o",
                str(tmp_path / "p.csv"),
                "-q",
            ],
            capsys,
        )
        assert code == 1 and message in stderr and stderr.count("\n") == 1, (args, stderr)


def test_short_form_writes_predictions_beside_the_scans_from_a_run_folder(
    ours: Path, tmp_path: Path, capsys
) -> None:
    scans = tmp_path / "scans" / "scans.nii.gz"
    write_stack(scans, make_separable_images(np.arange(4) % 2, 16, seed=6))
    run = tmp_path / "run"
    (run / "PACGAN_16x16").mkdir(parents=True)
    (run / "PACGAN_16x16" / "discriminator_best.pt").write_bytes(ours.read_bytes())
    code, stdout, stderr = run_cli(["classify", str(scans), "--model", str(run), "-q"], capsys)
    assert code == 0, stderr
    assert f"using {run / 'PACGAN_16x16' / 'discriminator_best.pt'}" in stderr
    assert f"wrote {scans.parent / 'scans_predictions.csv'}" in stdout
    assert len(read_csv(scans.parent / "scans_predictions.csv")) == 4
    code, _, stderr = run_cli(["classify", str(scans), "--model", str(run), "-q"], capsys)
    assert code == 1 and "scans_predictions.csv already exists" in stderr and "--force" in stderr
    assert run_cli(["classify", str(scans), "--model", str(run), "-q", "--force"], capsys)[0] == 0
    other = scans.with_name("more.nii.gz")  # a second stack in the folder keeps its own predictions
    write_stack(other, make_separable_images(np.arange(2) % 2, 16, seed=7))
    code, stdout, stderr = run_cli(["classify", str(other), "--model", str(run), "-q"], capsys)
    assert code == 0, stderr
    assert len(read_csv(scans.parent / "more_predictions.csv")) == 2
    assert len(read_csv(scans.parent / "scans_predictions.csv")) == 4


def test_unscaled_scans_are_refused_until_scaled(ours: Path, tmp_path: Path, capsys) -> None:
    raw = tmp_path / "raw.nii.gz"
    write_stack(raw, np.random.default_rng(0).uniform(0, 270, (4, 1, 16, 16)).astype(np.float32))
    classify = ["classify", str(raw), "-m", str(ours), "-o", str(tmp_path / "p.csv"), "-q"]
    code, _, stderr = run_cli(classify, capsys)
    assert code == 1 and stderr.count("\n") == 1
    assert f"pacgan scale {raw} -o {tmp_path / 'raw_scaled.nii.gz'}" in stderr
    scaled = tmp_path / "raw_scaled.nii.gz"
    code, stdout, _ = run_cli(["scale", str(raw), "-o", str(scaled)], capsys)
    assert code == 0 and "intensities [0.05" in stdout and f"wrote {scaled}" in stdout
    classify[1] = str(scaled)
    assert run_cli(classify, capsys)[0] == 0


@pytest.mark.parametrize(
    ("statistic", "broken", "message"),
    [
        (float("nan"), False, "its stored batch statistic is nan, not a finite number"),
        (
            0.4,
            True,
            "the weight 'aux_layer.bias' holds NaN or infinite values (a diverged run or a damaged file)",
        ),
    ],
)
def test_a_damaged_discriminator_writes_no_predictions(
    tmp_path: Path, capsys, statistic: float, broken: bool, message: str
) -> None:
    model = ARCHITECTURE.build(DISCRIMINATOR)
    if broken:
        with torch.no_grad():
            model.aux_layer.bias.fill_(float("nan"))
    damaged = save_checkpoint(
        tmp_path / "D.pt", model, ARCHITECTURE, epoch=1, stage=2, alpha=1, batch_statistic=statistic
    )
    write_stack(tmp_path / "scans.nii.gz", make_separable_images(np.arange(4) % 2, 16))
    out = tmp_path / "pred.csv"
    code, _, stderr = run_cli(
        ["classify", str(tmp_path / "scans.nii.gz"), "-m", str(damaged), "-o", str(out), "-q"], capsys
    )
    assert code == 1 and stderr == f"error: {damaged}: {message}; use another checkpoint\n"
    assert not out.exists()


def test_an_output_may_not_overwrite_the_images_labels_or_model_it_reads(
    ours: Path, tmp_path: Path, capsys
) -> None:
    folder = write_data_folder(tmp_path / "test", 10, 16)
    images, labels = folder / "Real16x16.nii.gz", folder / "labels.csv"
    before = {path: path.read_bytes() for path in (images, labels, ours)}
    listing = sorted(tmp_path.rglob("*"))
    for output, name in ((labels, "--labels"), (images, "IMAGES"), (ours, "--model")):
        code, _, stderr = run_cli(
            ["classify", str(images), "-m", str(ours), "--labels", str(labels), "-o", str(output), "--force"],
            capsys,
        )
        assert code == 2 and stderr.count("\n") == 1, stderr
        assert f"error: --output {output} is the input {name}; writing it would destroy" in stderr
    assert {path: path.read_bytes() for path in before} == before
    assert sorted(tmp_path.rglob("*")) == listing


def test_fit_temperature_then_classify_calibrated(tmp_path: Path, capsys) -> None:
    run = make_run_folder(tmp_path)
    code, stdout, stderr = run_cli(["classify", "--fit-temperature", "-m", str(run), "-q"], capsys)
    assert code == 0, stderr
    assert stdout.startswith("temperature ") and "discriminator_best.calibration.json" in stdout
    images = str(tmp_path / "data" / "train" / "Real16x16.nii.gz")
    code, stdout, stderr = run_cli(["classify", images, "-m", str(run), "--calibrated", "-q"], capsys)
    assert code == 0, stderr
    assert ", temperature " in stdout


@pytest.mark.parametrize(
    ("extra", "message", "exit_code"),
    [
        ([], "give the IMAGES to classify (or --fit-temperature", 2),
        (["IMAGES", "--calibration-data", "x"], "--calibration-data is read by --fit-temperature only", 2),
        (["IMAGES", "--calibrated"], "no temperature is stored for it", 1),
    ],
)
def test_temperature_options_that_cannot_work_are_one_line(
    ours: Path, tmp_path: Path, capsys, extra: list[str], message: str, exit_code: int
) -> None:
    folder = write_data_folder(tmp_path / "test", 6, 16)
    extra = [str(folder / "Real16x16.nii.gz") if word == "IMAGES" else word for word in extra]
    code, _, stderr = run_cli(["classify", "-m", str(ours), "-o", str(tmp_path / "p.csv"), *extra], capsys)
    assert code == exit_code and message in stderr and stderr.count("\n") == 1
