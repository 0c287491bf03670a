"""Pyramid sizes and values: the per-stage files progressive training reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from skimage.transform import resize

from pacgan_cli.core.cohort.pyramid import build_pyramid, pyramid_sizes, resize_stack
from pacgan_cli.core.errors import InputError, OutputExistsError
from pacgan_cli.core.io.nifti import read_stack, write_stack


def test_pyramid_sizes_halve_down_to_four() -> None:
    assert pyramid_sizes(256) == [256, 128, 64, 32, 16, 8, 4]
    assert pyramid_sizes(32, min_size=16) == [32, 16]
    assert pyramid_sizes(4) == [4]


@pytest.mark.parametrize("size", [0, 2, 12, 100])
def test_pyramid_sizes_refuse_sizes_that_are_not_powers_of_two(size: int) -> None:
    with pytest.raises(InputError, match="power of two"):
        pyramid_sizes(size)


def test_constant_image_stays_constant() -> None:
    images = np.full((3, 1, 32, 32), 0.25, dtype=np.float32)
    for size in (16, 8, 4):
        shrunk = resize_stack(images, size)
        assert shrunk.shape == (3, 1, size, size)
        assert shrunk.dtype == np.float32
        np.testing.assert_allclose(shrunk, 0.25, atol=1e-6)


def test_resize_matches_published_whole_array_resize() -> None:
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (4, 3, 16, 16)).astype(np.float32)
    on_disk = np.swapaxes(np.swapaxes(images, 1, 2), 0, 3)  # [W, H, C, N], as the published script held it
    published = resize(on_disk, (8, 8, 3, 4), order=1, preserve_range=True)
    ours = np.swapaxes(np.swapaxes(resize_stack(images, 8), 1, 2), 0, 3)
    np.testing.assert_allclose(ours, published, atol=1e-5)


def test_channels_are_resized_independently() -> None:
    images = np.zeros((1, 3, 8, 8), dtype=np.float32)
    images[0, 1] = 1.0
    shrunk = resize_stack(images, 4)
    np.testing.assert_allclose(shrunk[0, 0], 0.0, atol=1e-6)
    np.testing.assert_allclose(shrunk[0, 1], 1.0, atol=1e-6)


def test_build_pyramid_writes_every_size_beside_the_stack(tmp_path: Path) -> None:
    images = np.random.default_rng(1).uniform(-1, 1, (5, 1, 32, 32)).astype(np.float32)
    source = write_stack(tmp_path / "Real32x32.nii.gz", images)
    result = build_pyramid(source)
    assert sorted(result.written) == [4, 8, 16]
    for size in (4, 8, 16):
        stack = read_stack(tmp_path / f"Real{size}x{size}.nii.gz", expected_size=size)
        assert stack.shape == (5, 1, size, size)
        np.testing.assert_allclose(stack, resize_stack(images, size), atol=1e-6)
    np.testing.assert_array_equal(read_stack(source), images)


def test_build_pyramid_copies_a_differently_named_source_into_the_output(tmp_path: Path) -> None:
    images = np.zeros((2, 1, 8, 8), dtype=np.float32)
    source = write_stack(tmp_path / "mine.nii.gz", images)
    result = build_pyramid(source, tmp_path / "out")
    assert sorted(result.written) == [4, 8]
    np.testing.assert_array_equal(read_stack(tmp_path / "out" / "Real8x8.nii.gz"), images)


def test_build_pyramid_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    source = write_stack(tmp_path / "Real16x16.nii.gz", np.zeros((2, 1, 16, 16), dtype=np.float32))
    (tmp_path / "Real4x4.nii.gz").write_text("earlier result")
    with pytest.raises(OutputExistsError, match="--force"):
        build_pyramid(source)
    assert not (tmp_path / "Real8x8.nii.gz").exists()
    assert (tmp_path / "Real4x4.nii.gz").read_text() == "earlier result"
    build_pyramid(source, force=True)
    assert read_stack(tmp_path / "Real4x4.nii.gz").shape == (2, 1, 4, 4)


def test_build_pyramid_refuses_non_square_and_odd_sizes(tmp_path: Path) -> None:
    wide = write_stack(tmp_path / "wide.nii.gz", np.zeros((1, 1, 8, 16), dtype=np.float32))
    with pytest.raises(InputError, match="square"):
        build_pyramid(wide)
    odd = write_stack(tmp_path / "odd.nii.gz", np.zeros((1, 1, 12, 12), dtype=np.float32))
    with pytest.raises(InputError, match="power of two"):
        build_pyramid(odd)
