import json
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import make_separable_images, run_cli, use_pooled_pixel_features, write_data_folder
from pacgan_cli.core.io.nifti import write_stack
from pacgan_cli.core.io.tables import write_synthetic_labels
from pacgan_cli.core.metrics import fidelity
from pacgan_cli.core.models.checkpoint import DISCRIMINATOR, NetworkArchitecture, save_checkpoint


@pytest.fixture
def inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # no weights in the cache
    monkeypatch.delenv(fidelity.INCEPTION_WEIGHTS_VARIABLE, raising=False)
    test = write_data_folder(tmp_path / "test", 12, 16, seed=1)
    train = write_data_folder(tmp_path / "train", 20, 16, seed=2)
    labels = np.arange(10) % 2
    fake = tmp_path / "synth" / "synth.nii.gz"
    write_stack(fake, make_separable_images(labels, 16, seed=3))
    write_synthetic_labels(fake.parent / "labels_syn.csv", labels)
    return test, train, fake


def test_evaluate_without_weights_stops_with_where_to_get_them(inputs, tmp_path: Path, capsys) -> None:
    test, _, fake = inputs
    code, _, stderr = run_cli(
        ["evaluate", "--real", str(test), "--fake", str(fake), "-o", str(tmp_path / "r")], capsys
    )
    assert code == 1 and stderr.count("\n") == 1
    assert (
        fidelity.INCEPTION_URL in stderr
        and "torch-home" in stderr
        and "--skip-unavailable, which computes every other metric" in stderr
    )


def test_evaluate_ssim_memorisation_and_classification(inputs, tmp_path: Path, capsys) -> None:
    test, train, fake = inputs
    architecture = NetworkArchitecture(8, (1.0, 1.0, 1.0), 1, 2, 6, 2)
    torch.manual_seed(0)
    model = save_checkpoint(
        tmp_path / "D.pt", architecture.build(DISCRIMINATOR), architecture, epoch=1, stage=2, alpha=1
    )
    out = tmp_path / "report"
    args = ["evaluate", "--real", str(test), "--fake", str(fake), "--train", str(train), "-o", str(out), "-q"]
    args += ["--metrics", "ssim,memorisation,classification", "-d", str(model), "--ssim-pairs", "30"]
    code, stdout, stderr = run_cli(args, capsys)
    assert code == 0, stderr
    assert f"report: {out / 'report.md'}" in stdout and "SSIM real-fake" in stdout
    data = json.loads((out / "metrics.json").read_text())
    assert set(data["metrics"]) == {"ssim", "memorisation", "classification"}
    assert data["metrics"]["classification"]["real"]["batch_statistic"] == "reference"  # measured on --train
    assert data["inputs"]["real"].endswith("Real16x16.nii.gz")
    assert "Not computed (not requested): augmentation_gain, fid, kid" in (out / "report.md").read_text()
    assert run_cli(args, capsys)[0] == 1  # refuses to overwrite
    assert run_cli([*args, "--force"], capsys)[0] == 0


def test_skip_unavailable_notes_the_skip_in_the_report(inputs, tmp_path: Path, capsys) -> None:
    test, _, fake = inputs
    out = tmp_path / "r"
    code, stdout, stderr = run_cli(
        [
            "evaluate",
            "--real",
            str(test),
            "--fake",
            str(fake),
            "-o",
            str(out),
            "--skip-unavailable",
            "--ssim-pairs",
            "10",
            "-q",
        ],
        capsys,
    )
    assert code == 0, stderr
    assert "skipped fid" in stdout
    assert "FID skipped" in (out / "report.md").read_text()


@pytest.mark.parametrize(
    ("extra", "message", "exit_code"),
    [
        (["--metrics", "psnr"], "unknown metric 'psnr'", 2),
        (["--resize", "cubic"], "--resize", 2),
        (["--metrics", "classification"], "--discriminator", 2),
        (["--metrics", "ssim", "--prdc-k", "0"], "--prdc-k must be at least 1", 2),
        (["--metrics", "ssim", "--inception-weights", "missing.pth"], "missing.pth: InceptionV3 weights", 1),
    ],
)
def test_bad_options_are_one_line(inputs, tmp_path: Path, capsys, extra, message, exit_code) -> None:
    test, _, fake = inputs
    code, _, stderr = run_cli(
        ["evaluate", "--real", str(test), "--fake", str(fake), "-o", str(tmp_path / "r"), *extra], capsys
    )
    assert code == exit_code and message in stderr and stderr.count("\n") == 1


def test_a_real_folder_without_the_fake_size_is_a_clear_error(inputs, tmp_path: Path, capsys) -> None:
    _, _, fake = inputs
    small = write_data_folder(tmp_path / "small", 6, 8)
    code, _, stderr = run_cli(
        [
            "evaluate",
            "--real",
            str(small),
            "--fake",
            str(fake),
            "-o",
            str(tmp_path / "r"),
            "--metrics",
            "ssim",
        ],
        capsys,
    )
    assert code == 1 and "Real16x16" in stderr


def test_a_negative_label_stops_before_any_metric_runs(inputs, tmp_path: Path, capsys) -> None:
    test, _, fake = inputs
    labels_path = fake.parent / "labels_syn.csv"
    labels_path.write_text(labels_path.read_text().replace("\n0,0\n", "\n0,-1\n", 1))
    out = tmp_path / "r"
    code, _, stderr = run_cli(
        ["evaluate", "--real", str(test), "--fake", str(fake), "-o", str(out), "--metrics", "ssim"], capsys
    )
    assert code == 1 and "label -1 is negative" in stderr and stderr.count("\n") == 1
    assert not out.exists()


def test_the_discriminator_may_be_a_run_folder_and_the_command_says_which_file(
    inputs, tmp_path: Path, capsys
) -> None:
    test, _, fake = inputs
    architecture = NetworkArchitecture(8, (1.0, 1.0, 1.0), 1, 2, 6, 2)
    run = tmp_path / "run"
    model = save_checkpoint(
        run / "PACGAN_16x16" / "discriminator_best.pt",
        architecture.build(DISCRIMINATOR),
        architecture,
        epoch=1,
        stage=2,
        alpha=1,
        batch_statistic=0.3,
    )
    out = tmp_path / "report"
    args = ["evaluate", "--real", str(test), "--fake", str(fake), "-o", str(out), "-q"]
    code, _, stderr = run_cli([*args, "--metrics", "classification", "-d", str(run)], capsys)
    assert code == 0, stderr
    assert stderr.splitlines()[0] == (f"using {model}, the best discriminator of the largest stage (16x16)")
    assert json.loads((out / "metrics.json").read_text())["inputs"]["discriminator"] == str(model)
    code, _, stderr = run_cli([*args, "--metrics", "classification", "-d", str(tmp_path / "test")], capsys)
    assert code == 1 and stderr.count("\n") == 1
    assert "is a folder without PACGAN_{S}x{S}/discriminator_best.pt" in stderr


def test_a_statistic_stored_for_another_size_asks_for_the_training_images(
    inputs, tmp_path: Path, capsys
) -> None:
    test, _, fake = inputs
    architecture = NetworkArchitecture(8, (1.0, 1.0, 1.0, 1.0), 1, 2, 6, 2)
    model = save_checkpoint(
        tmp_path / "D32.pt",
        architecture.build(DISCRIMINATOR),
        architecture,
        epoch=1,
        stage=3,
        alpha=1,
        batch_statistic=0.5,
    )
    out = tmp_path / "r"
    args = ["evaluate", "--real", str(test), "--fake", str(fake), "-o", str(out), "-d", str(model)]
    code, _, stderr = run_cli([*args, "--metrics", "ssim,classification"], capsys)
    assert code == 1 and stderr.count("\n") == 1
    assert "belongs to size 32, not 16; pass --train with the training images (16x16)" in stderr
    assert not out.exists()


def test_each_stack_finds_its_own_labels_and_unscaled_images_are_refused(
    inputs, tmp_path: Path, capsys
) -> None:
    test, _, _ = inputs
    folder = tmp_path / "two"
    write_stack(folder / "a.nii.gz", make_separable_images(np.array([0, 1] * 4), 16, seed=4))
    write_synthetic_labels(folder / "a_labels.csv", np.array([0, 1] * 4))
    write_stack(folder / "b.nii.gz", make_separable_images(np.array([0] * 5 + [1] * 5), 16, seed=5) * 100)
    write_synthetic_labels(folder / "b_labels.csv", np.array([0] * 5 + [1] * 5))
    base = ["evaluate", "--real", str(test), "--metrics", "ssim", "--ssim-pairs", "5", "-q"]
    code, _, stderr = run_cli([*base, "--fake", str(folder / "a.nii.gz"), "-o", str(tmp_path / "ra")], capsys)
    assert code == 0, stderr
    data = json.loads((tmp_path / "ra" / "metrics.json").read_text())
    assert data["inputs"]["fake_per_class"] == [4, 4]
    code, _, stderr = run_cli([*base, "--fake", str(folder / "b.nii.gz"), "-o", str(tmp_path / "rb")], capsys)
    assert code == 1 and stderr.count("\n") == 1
    assert "but the networks and metrics need [-1, 1]; scale it as the training data were" in stderr
    assert not (tmp_path / "rb").exists()


@pytest.mark.parametrize(("option", "index"), [("--real", 0), ("--train", 1), ("--fake", 2)])
def test_the_report_folder_may_not_be_an_input(
    inputs, tmp_path: Path, capsys, option: str, index: int
) -> None:
    test, train, fake = inputs
    args = ["evaluate", "--real", str(test), "--fake", str(fake), "--train", str(train), "--metrics", "ssim"]
    before = sorted(inputs[index].parent.rglob("*"))
    code, _, stderr = run_cli([*args, "-o", str(inputs[index]), "--force"], capsys)
    assert code == 2 and stderr.count("\n") == 1
    assert stderr.startswith(
        f"error: --output {inputs[index]} is the input {option}; writing it would destroy"
    )
    assert sorted(inputs[index].parent.rglob("*")) == before


def test_too_few_images_of_a_class_for_prdc_is_one_line(
    inputs, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_pooled_pixel_features(monkeypatch, tmp_path)
    test, _, fake = inputs  # 5 synthetic images per class
    out = tmp_path / "r"
    args = ["evaluate", "--real", str(test), "--fake", str(fake), "-o", str(out), "--metrics", "prdc,ssim"]
    code, _, stderr = run_cli(args, capsys)
    assert code == 1 and stderr.count("\n") == 1 and not out.exists()
    assert "prdc needs at least k+1 = 6 real and 6 synthetic images" in stderr and "--prdc-k 4" in stderr
    code, stdout, stderr = run_cli([*args, "--prdc-k", "4", "-q"], capsys)
    assert code == 0, stderr
    assert "precision" in stdout and "(k=4, n=10)" in stdout


def test_synthetic_images_of_a_class_the_real_set_lacks_are_one_line(inputs, tmp_path: Path, capsys) -> None:
    test, _, _ = inputs
    fake = tmp_path / "three" / "synth.nii.gz"
    labels = np.array([0, 1, 2] * 3)
    write_stack(fake, make_separable_images(labels, 16, seed=3))
    write_synthetic_labels(fake.parent / "labels_syn.csv", labels)
    args = [
        "evaluate",
        "--real",
        str(test),
        "--fake",
        str(fake),
        "-o",
        str(tmp_path / "r"),
        "--metrics",
        "ssim",
    ]
    code, _, stderr = run_cli(args, capsys)
    assert code == 1 and stderr.count("\n") == 1
    assert "3 synthetic image(s) of class 2, but the real images" in stderr


def test_the_help_names_every_metric_whole_and_the_labels_generate_writes(capsys) -> None:
    from pacgan_cli.core.evaluation.registry import METRIC_NAMES

    code, out, _ = run_cli(["evaluate", "--help"], capsys)
    assert code == 0
    words = set(out.replace(",", " ").replace("(", " ").split())
    assert set(METRIC_NAMES) <= words  # no name broken across two lines
    assert "<stem>_labels.csv" in out and "labels_syn.csv is read" not in out
