from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from pacgan_cli.core.errors import InputError, OutputExistsError
from pacgan_cli.core.io.intensity import (
    UNIT_RANGE_TOLERANCE,
    check_unit_range,
    read_unit_stack,
    scale_stack,
)
from pacgan_cli.core.io.nifti import read_stack, write_stack


def test_images_in_range_pass_up_to_the_tolerance() -> None:
    images = np.array([-1.0, 0.3, 1.0 + UNIT_RANGE_TOLERANCE / 2], dtype=np.float32).reshape(1, 1, 1, 3)
    check_unit_range(images, "x")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([0.0, 270.0], r"intensities span \[0, 270\]"),
        ([-1.01, 0.5], r"intensities span \[-1.01, 0.5\]"),
        ([0.0, np.nan], "1 pixels are NaN or infinite"),
    ],
)
def test_out_of_range_or_nan_images_are_refused_with_the_scaling_command(values, message) -> None:
    images = np.array(values, dtype=np.float32).reshape(1, 1, 1, 2)
    with pytest.raises(InputError, match=message) as error:
        check_unit_range(images, "data/scans.nii.gz")
    assert "\n" not in str(error.value)
    if "span" in message:
        assert "pacgan scale data/scans.nii.gz -o data/scans_scaled.nii.gz" in str(error.value)


def test_read_unit_stack_names_the_file(tmp_path: Path) -> None:
    write_stack(tmp_path / "raw.nii.gz", np.full((2, 1, 4, 4), 200.0, np.float32))
    with pytest.raises(InputError, match=f"{tmp_path / 'raw.nii.gz'}: intensities span"):
        read_unit_stack(tmp_path / "raw.nii.gz")


def test_scale_stack_applies_the_published_per_slice_scaling(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    raw = rng.uniform(0, 270, (5, 1, 8, 8)).astype(np.float32)
    raw[2] = 0.0  # an empty slice becomes background, -1
    write_stack(tmp_path / "raw.nii.gz", raw)
    result = scale_stack(tmp_path / "raw.nii.gz", tmp_path / "scaled.nii.gz")
    # Reference: the published preprocessing on the [W, H, C, N] array, slice by slice.
    array = np.asarray(nib.load(tmp_path / "raw.nii.gz").dataobj, dtype=np.float64)
    expected = np.empty_like(array)
    for n in range(array.shape[3]):
        m = array[..., n].max()
        expected[..., n] = (array[..., n] - m / 2) / (m / 2) if m > 0 else -1.0
    written = np.asarray(nib.load(tmp_path / "scaled.nii.gz").dataobj)
    np.testing.assert_allclose(written, expected, atol=1e-6)
    assert result.after == (-1.0, 1.0) and result.before[1] == pytest.approx(raw.max())
    check_unit_range(read_stack(tmp_path / "scaled.nii.gz"), "scaled")
    with pytest.raises(OutputExistsError):
        scale_stack(tmp_path / "raw.nii.gz", tmp_path / "scaled.nii.gz")


def test_scaling_refuses_negative_values_and_its_own_input(tmp_path: Path) -> None:
    write_stack(tmp_path / "scaled.nii.gz", np.full((2, 1, 4, 4), -0.5, np.float32))
    with pytest.raises(InputError, match="already in \\[-1, 1\\] needs no scaling"):
        scale_stack(tmp_path / "scaled.nii.gz", tmp_path / "again.nii.gz")
    with pytest.raises(InputError, match="is the input stack"):
        scale_stack(tmp_path / "scaled.nii.gz", tmp_path / "scaled.nii.gz", force=True)
    assert not (tmp_path / "again.nii.gz").exists()


def test_a_single_2d_nifti_image_is_scaled_into_a_stack_of_one(tmp_path: Path) -> None:
    nib.save(
        nib.Nifti1Image(np.array([[0.0, 50.0], [100.0, 25.0]], np.float32), np.eye(4)), tmp_path / "a.nii"
    )
    result = scale_stack(tmp_path / "a.nii", tmp_path / "a_scaled.nii.gz")
    scaled = read_stack(result.output)
    assert scaled.shape == (1, 1, 2, 2)
    np.testing.assert_allclose(scaled[0, 0], [[-1.0, 1.0], [0.0, -0.5]])  # image[i, j] = array[j, i]
