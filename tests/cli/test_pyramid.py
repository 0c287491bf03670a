"""`pacgan pyramid` through the real entry point."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import run_cli
from pacgan_cli.core.io.nifti import read_stack, write_stack


def test_pyramid_writes_smaller_sizes_beside_the_stack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_stack(tmp_path / "Real32x32.nii.gz", np.full((3, 1, 32, 32), 0.5, dtype=np.float32))
    code, out, err = run_cli(["pyramid", str(source), "-q"], capsys)
    assert code == 0, err
    assert "wrote sizes 16, 8, 4" in out
    for size in (16, 8, 4):
        np.testing.assert_allclose(read_stack(tmp_path / f"Real{size}x{size}.nii.gz"), 0.5, atol=1e-6)
    code, _, err = run_cli(["pyramid", str(source)], capsys)
    assert code == 1 and "--force" in err and err.count("\n") == 1
    code, _, err = run_cli(["pyramid", str(source), "--force", "-q"], capsys)
    assert code == 0, err


def test_pyramid_refuses_a_size_that_is_not_a_power_of_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_stack(tmp_path / "odd.nii.gz", np.zeros((1, 1, 24, 24), dtype=np.float32))
    code, _, err = run_cli(["pyramid", str(source)], capsys)
    assert code == 1
    assert (
        err
        == "error: image size 24 is not a power of two of at least 4; progressive training needs 4, 8, 16, ...\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["odd.nii.gz"]
