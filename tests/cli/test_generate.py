from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import run_cli
from pacgan_cli.core.io.nifti import read_stack
from pacgan_cli.core.io.tables import read_csv
from pacgan_cli.core.models.checkpoint import GENERATOR, NetworkArchitecture, save_checkpoint

ARCHITECTURE = NetworkArchitecture(8, (1.0, 1.0, 1.0), 1, 2, 6, 2)


@pytest.fixture
def generator(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    return save_checkpoint(
        tmp_path / "G.pt", ARCHITECTURE.build(GENERATOR), ARCHITECTURE, epoch=1, stage=2, alpha=1
    )


def test_generate_per_class_writes_stack_labels_and_preview(generator: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out" / "synth.nii.gz"
    args = ["generate", "--model", str(generator), "--per-class", "3", "4", "-o", str(out), "-q"]
    code, stdout, stderr = run_cli([*args, "--preview", str(tmp_path / "grid.png")], capsys)
    assert code == 0, stderr
    assert "7 images 16x16 (per class [3, 4])" in stdout
    assert read_stack(out).shape == (7, 1, 16, 16)
    assert list(read_csv(out.parent / "synth_labels.csv")["Label"]) == [0, 0, 0, 1, 1, 1, 1]
    assert (tmp_path / "grid.png").is_file()
    code, _, stderr = run_cli(args, capsys)
    assert code == 1 and "--force" in stderr and stderr.count("\n") == 1


def test_same_seed_same_images_whatever_the_batch_size(generator: Path, tmp_path: Path, capsys) -> None:
    first, second = tmp_path / "a" / "s.nii.gz", tmp_path / "b" / "s.nii.gz"
    base = ["generate", "-m", str(generator), "--total", "9", "--seed", "5", "-q"]
    assert run_cli([*base, "-o", str(first), "--batch-size", "2"], capsys)[0] == 0
    assert run_cli([*base, "-o", str(second), "--batch-size", "64"], capsys)[0] == 0
    np.testing.assert_allclose(read_stack(first), read_stack(second), atol=1e-5)
    assert list(read_csv(first.parent / "s_labels.csv")["Label"]) == [0] * 4 + [1] * 5


@pytest.mark.parametrize(
    ("extra", "message", "exit_code"),
    [
        (["--per-class", "1", "2", "3"], "--per-class needs 2 counts; got 3", 1),
        (["--per-class", "3"], "--per-class needs 2 counts; got 1 (use --total N", 1),
        (["--total", "4", "--per-class", "2"], "either --per-class or --total", 2),
        ([], "how many images", 2),
        (["--total", "4", "--size", "12"], "not a stage size", 1),
        (["--total", "4", "--size", "32"], "beyond", 1),
    ],
)
def test_bad_requests_give_one_line(
    generator: Path, tmp_path: Path, capsys, extra, message, exit_code
) -> None:
    code, _, stderr = run_cli(
        ["generate", "-m", str(generator), "-o", str(tmp_path / "x.nii.gz"), *extra], capsys
    )
    assert code == exit_code and message in stderr and stderr.count("\n") == 1


def test_comma_separated_counts_and_a_wrong_checkpoint(generator: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "s.nii.gz"
    assert (
        run_cli(["generate", "-m", str(generator), "--per-class", "2,1", "-o", str(out), "-q"], capsys)[0]
        == 0
    )
    assert read_stack(out).shape[0] == 3
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    code, _, stderr = run_cli(
        ["generate", "-m", str(tmp_path / "junk.pt"), "--total", "2", "-o", str(tmp_path / "y" / "y.nii.gz")],
        capsys,
    )
    assert code == 1 and "junk.pt" in stderr and stderr.count("\n") == 1


def test_two_stacks_share_a_folder_each_with_its_own_labels(generator: Path, tmp_path: Path, capsys) -> None:
    base = ["generate", "-m", str(generator), "-q"]
    assert run_cli([*base, "--per-class", "1", "2", "-o", str(tmp_path / "a.nii.gz")], capsys)[0] == 0
    assert run_cli([*base, "--per-class", "3", "1", "-o", str(tmp_path / "b.nii.gz")], capsys)[0] == 0
    assert list(read_csv(tmp_path / "a_labels.csv")["Label"]) == [0, 1, 1]
    assert list(read_csv(tmp_path / "b_labels.csv")["Label"]) == [0, 0, 0, 1]
    published = ["--labels-output", str(tmp_path / "labels_syn.csv")]
    assert run_cli([*base, "--total", "2", "-o", str(tmp_path / "c.nii.gz"), *published], capsys)[0] == 0
    assert list(read_csv(tmp_path / "labels_syn.csv")["ID"]) == [0, 1]
    assert not (tmp_path / "c_labels.csv").exists()
    code, _, stderr = run_cli([*base, "--total", "2", "-o", str(tmp_path / "d.nii.gz"), *published], capsys)
    assert code == 1 and "labels_syn.csv" in stderr and "--force" in stderr
    assert not (tmp_path / "d.nii.gz").exists()


def test_a_run_folder_gives_its_largest_stage_best_generator(generator: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    for size in (8, 16, 32):
        (run / f"PACGAN_{size}x{size}").mkdir(parents=True)
    (run / "PACGAN_16x16" / "generator_best.pt").write_bytes(generator.read_bytes())
    (run / "PACGAN_8x8" / "generator_best.pt").write_bytes(b"not this one")
    out = tmp_path / "s.nii.gz"
    code, stdout, stderr = run_cli(["generate", "-m", str(run), "--total", "2", "-o", str(out), "-q"], capsys)
    assert code == 0, stderr
    assert f"using {run / 'PACGAN_16x16' / 'generator_best.pt'}" in stderr and "2 images 16x16" in stdout
    assert "PACGAN_32x32 has no generator_best.pt" in stderr  # an unfinished last stage is said, not hidden
    (tmp_path / "empty").mkdir()
    code, _, stderr = run_cli(
        ["generate", "-m", str(tmp_path / "empty"), "--total", "2", "-o", str(tmp_path / "t.nii.gz")], capsys
    )
    assert code == 1 and "is a folder without PACGAN_{S}x{S}/generator_best.pt" in stderr


def test_usage_line_hides_the_internal_argument(capsys) -> None:
    code, stdout, _ = run_cli(["generate", "--help"], capsys)
    assert code == 0 and "Usage: pacgan generate [OPTIONS]\n" in stdout and "more_counts" not in stdout


def test_a_preview_on_the_stack_or_its_labels_is_refused_and_nothing_is_written(
    generator: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out" / "synth.nii.gz"
    for preview, other in ((out, "--output"), (out.parent / "synth_labels.csv", "the labels file")):
        code, _, stderr = run_cli(
            ["generate", "-m", str(generator), "--total", "4", "-o", str(out), "--preview", str(preview)],
            capsys,
        )
        assert code == 2 and stderr.count("\n") == 1
        assert stderr.startswith(f"error: --preview {preview} is the same file as {other}")
    assert not out.parent.exists()


def test_without_model_outside_a_training_folder_is_one_usage_line(
    generator: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (["generate", "--total", "4"], ["classify", "scans.nii.gz"]):
        code, _, stderr = run_cli(args, capsys)
        assert code == 2 and stderr.count("\n") == 1, stderr
        assert stderr.startswith("error: no --model given, and no run of `pacgan train` is recorded here")
    code, stdout, stderr = run_cli(["generate", "--model", "G.pt", "--total", "4", "-q"], capsys)
    assert code == 0, stderr  # a checkpoint file and no -o: a fresh name in the current folder
    assert (
        "wrote synthetic_1.nii.gz" in stdout.splitlines() and len(read_stack(Path("synthetic_1.nii.gz"))) == 4
    )
