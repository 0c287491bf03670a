import re
from pathlib import Path

import numpy as np
import pytest

from helpers import make_separable_images, write_data_folder
from pacgan_cli.core.errors import InputError
from pacgan_cli.core.io.nifti import write_stack
from pacgan_cli.core.io.stage_folder import open_stage_folder


def test_a_folder_opens_at_its_largest_size_and_reads_listed_images_in_id_order(tmp_path: Path) -> None:
    folder = write_data_folder(tmp_path / "data", 6, 16)
    (folder / "labels.csv").write_text("ID,Label\n4,1\n0,0\n2,1\n")
    data = open_stage_folder(folder, require_subject=False)
    assert data.sizes == (16,) and data.largest_size == 16 and data.image_count == 6
    images, labels = data.read(16)
    expected = make_separable_images(np.array([(index // 2) % 2 for index in range(6)]), 16)
    np.testing.assert_array_equal(images, expected[[0, 2, 4]])
    assert labels.dtype == np.int64 and labels.tolist() == [0, 1, 1]
    images, labels = data.read(16, np.array([2]))
    np.testing.assert_array_equal(images, expected[[4]])
    assert labels.tolist() == [1]


def test_sizes_pick_the_stacks_and_a_labels_file_elsewhere_may_be_given(tmp_path: Path) -> None:
    folder = write_data_folder(tmp_path / "data", 4, 16)
    (tmp_path / "other.csv").write_text("ID,Label,Subject_ID\n0,1,a\n1,0,b\n")
    data = open_stage_folder(folder, tmp_path / "other.csv", [8, 4], image_channels=1, num_classes=2)
    assert data.sizes == (4, 8) and data.stack_path(8) == folder / "Real8x8.nii.gz"
    assert data.read(4)[0].shape == (2, 1, 4, 4) and data.read(8)[1].tolist() == [1, 0]
    with pytest.raises(ValueError, match="opened for sizes"):
        data.read(16)


@pytest.mark.parametrize(
    ("damage", "options", "message"),
    [
        (lambda f: (f / "Real8x8.nii.gz").unlink(), {}, "Real8x8.nii.gz: missing"),
        (
            lambda f: write_stack(f / "Real8x8.nii.gz", np.zeros((4, 1, 4, 4), np.float32), force=True),
            {},
            "expected 8x8 images; got 4x4",
        ),
        (
            lambda f: write_stack(f / "Real8x8.nii.gz", np.zeros((5, 1, 8, 8), np.float32), force=True),
            {},
            "different numbers of images ([4, 5])",
        ),
        (lambda f: None, {"image_channels": 3}, "1 channel(s) but image_channels is 3"),
        (lambda f: None, {"num_classes": 1}, "label 1 is outside 0..0"),
        (lambda f: (f / "labels.csv").unlink(), {}, "labels.csv"),
    ],
)
def test_headers_and_labels_are_checked_on_opening(tmp_path: Path, damage, options, message: str) -> None:
    folder = write_data_folder(tmp_path / "data", 4, 8)
    damage(folder)
    with pytest.raises(InputError, match=re.escape(message)):
        open_stage_folder(folder, sizes=[4, 8], **options)


def test_missing_folders_and_stacks_and_unscaled_pixels_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="data folder not found"):
        open_stage_folder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no Real\{S\}x\{S\}\.nii\.gz stacks"):
        open_stage_folder(tmp_path / "empty")
    folder = write_data_folder(tmp_path / "data", 4, 8)
    write_stack(folder / "Real4x4.nii.gz", np.full((4, 1, 4, 4), 270, np.float32), force=True)
    data = open_stage_folder(folder, sizes=[4, 8])  # headers only: no pixel is read yet
    with pytest.raises(InputError, match=r"Real4x4\.nii\.gz.*\[270, 270\].*`pacgan pyramid`"):
        data.check_pixels()
    with pytest.raises(InputError, match="270"):
        data.read(4)
    assert data.read(8)[0].shape == (4, 1, 8, 8)
