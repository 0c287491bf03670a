"""`pacgan slices` through the real entry point: results on stdout, one-line errors with exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from helpers import run_cli
from pacgan_cli.core.io.nifti import read_stack


def write_volumes(folder: Path, count: int, shape: tuple[int, int, int] = (12, 14, 10)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for index in range(count):
        path = folder / f"scan{index:02d}.nii.gz"
        nib.save(nib.Nifti1Image(rng.uniform(0, 100, shape).astype(np.float32), np.eye(4)), path)
        paths.append(path)
    return paths


def test_slices_writes_a_stack_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_volumes(tmp_path / "volumes", 3)
    (tmp_path / "volumes" / "README").write_text("not a volume")
    output = tmp_path / "slices.nii.gz"
    code, out, err = run_cli(
        ["slices", str(tmp_path / "volumes"), "-o", str(output), "--cube-size", "16", "--slice", "7-8", "-q"],
        capsys,
    )
    assert code == 0, err
    assert read_stack(output).shape == (6, 1, 16, 16)
    assert len((tmp_path / "slices_list.txt").read_text().splitlines()) == 6
    assert "6 images (16x16) from 3 volumes" in out
    assert "3 volume(s) of 12x14x10 were padded/cropped" in out
    assert "skipped 1 file(s) that are not NIfTI: README" in out


@pytest.mark.parametrize(
    ("arguments", "code", "message"),
    [
        (["--slice", "seven"], 2, "--slice must be an index"),
        (["--cube-size", "16", "--slice", "40"], 2, "outside the cube"),
        (["--cube-size", "16", "--slice", "2"], 1, "lies in the padding"),
    ],
)
def test_slices_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], code: int, message: str
) -> None:
    write_volumes(tmp_path / "volumes", 1)
    exit_code, _, err = run_cli(
        ["slices", str(tmp_path / "volumes"), "-o", str(tmp_path / "s.nii.gz"), *arguments], capsys
    )
    assert exit_code == code
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and message in errors[0] and err.endswith(errors[0] + "\n")
    assert "Traceback" not in err
    assert not (tmp_path / "s.nii.gz").exists()


def test_slices_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_volumes(tmp_path / "volumes", 1)
    output = tmp_path / "s.nii.gz"
    output.write_text("earlier")
    code, _, err = run_cli(
        ["slices", str(tmp_path / "volumes"), "-o", str(output), "--cube-size", "16"], capsys
    )
    assert code == 1 and "--force" in err
    assert output.read_text() == "earlier"


def test_slices_bad_input_in_a_subprocess_prints_no_traceback(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text("scan.mgz\n")
    result = subprocess.run(
        [sys.executable, "-m", "pacgan_cli", "slices", str(listing), "-o", str(tmp_path / "s.nii.gz")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {listing}: line 1 names scan.mgz, which is not a .nii or .nii.gz file"
    ]
    assert "Traceback" not in result.stderr
