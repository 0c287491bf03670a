import numpy as np
import pytest

from helpers import make_separable_images
from pacgan_cli.core.metrics.artifacts import pixel_artifacts


@pytest.fixture
def real() -> np.ndarray:
    """Two classes of 16x16 images whose border, like a brain slice's background, is -1 everywhere."""
    images = make_separable_images(np.arange(30) % 2, 16, seed=1)
    images[:, :, [0, -1], :] = -1
    images[:, :, :, [0, -1]] = -1
    return images


def test_a_bright_corner_in_every_synthetic_image_is_flagged_where_it_is(real: np.ndarray) -> None:
    synthetic = real[:20].copy()
    synthetic[:, 0, 0, -1] = -0.25  # the demo's artifact: top-right in the tensor, NIfTI voxel (15, 0)
    synthetic[:, 0, -1, 1] = -0.8
    report = pixel_artifacts(synthetic, real)
    assert report.flagged.tolist() == [[0, 0, 15], [0, 15, 1]]  # furthest outside first
    pixel = report.to_data()["pixels"][0]
    assert (pixel["row"], pixel["column"], pixel["nifti_x"], pixel["nifti_y"]) == (0, 15, 15, 0)
    assert pixel["synthetic_mean"] == pytest.approx(-0.25) and pixel["real_max"] == -1
    assert report.excess[0, 0, 15] == pytest.approx(0.75)


def test_real_looking_images_flag_nothing(real: np.ndarray) -> None:
    rng = np.random.default_rng(2)
    synthetic = np.clip(real[:20] + rng.normal(0, 0.05, real[:20].shape), -1, 1)
    synthetic[:, :, [0, -1], :] = -1
    synthetic[:, :, :, [0, -1]] = -1
    report = pixel_artifacts(synthetic, real)
    assert len(report.flagged) == 0 and report.to_data()["flagged_count"] == 0


def test_one_odd_image_is_not_an_artifact_and_the_tolerance_decides(real: np.ndarray) -> None:
    synthetic = real[:20].copy()
    synthetic[0, 0, 0, 0] = 1.0  # one image out of 20: the mean moves by 0.1
    assert len(pixel_artifacts(synthetic, real, tolerance=0.15).flagged) == 0
    assert pixel_artifacts(synthetic, real, tolerance=0.05).flagged.tolist() == [[0, 0, 0]]
