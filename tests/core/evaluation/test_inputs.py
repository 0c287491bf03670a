"""The image sets `evaluate` reads: a folder or a stack with its labels."""

from pathlib import Path

import numpy as np
import pytest

from helpers import write_data_folder
from pacgan_cli.core.errors import InputError
from pacgan_cli.core.evaluation.inputs import load_image_set
from pacgan_cli.core.io.nifti import write_stack


def test_load_image_set_from_a_folder_or_a_stack(tmp_path: Path) -> None:
    folder = write_data_folder(tmp_path / "test", 12, 16)
    from_folder = load_image_set(folder, size=8)
    assert from_folder.images.shape == (12, 1, 8, 8) and from_folder.source.endswith("Real8x8.nii.gz")
    assert load_image_set(folder).size == 16
    from_stack = load_image_set(folder / "Real16x16.nii.gz")
    assert list(from_stack.labels) == list(load_image_set(folder).labels)
    with pytest.raises(InputError, match="Real32x32"):
        load_image_set(folder, size=32)
    write_stack(tmp_path / "alone" / "synth.nii.gz", np.zeros((3, 1, 8, 8), np.float32))
    with pytest.raises(InputError, match="--fake-labels"):
        load_image_set(tmp_path / "alone" / "synth.nii.gz", role="fake")
