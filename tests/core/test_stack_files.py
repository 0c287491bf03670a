from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from pacgan_cli.core.errors import InputError
from pacgan_cli.core.io.nifti import read_stack, read_stack_shape, write_stack


def test_the_shape_is_read_without_the_pixels_in_the_on_disk_order(tmp_path: Path) -> None:
    path = write_stack(tmp_path / "s.nii.gz", np.zeros((5, 1, 8, 6), dtype=np.float32))
    assert read_stack_shape(path) == (6, 8, 1, 5)
    assert read_stack(path).shape == (5, 1, 8, 6)


def test_a_file_that_is_not_a_4d_stack_is_refused_by_both_readers(tmp_path: Path) -> None:
    path = tmp_path / "volume.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), dtype=np.float32), np.eye(4)), path)
    for reader in (read_stack, read_stack_shape):
        with pytest.raises(
            InputError, match=r"expected a 4D image stack \[W, H, C, N\]; got shape \[4, 4, 4\]"
        ):
            reader(path)
