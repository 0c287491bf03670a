from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import tifffile
from PIL import Image

from helpers import png_bytes, write_dicom
from pacgan_cli.core.errors import InputError
from pacgan_cli.core.io.images import (
    NotAnImage,
    image_format,
    read_image_file,
    read_unit_images,
    to_grey,
)
from pacgan_cli.core.io.nifti import read_images, read_stack, write_stack

ROWS, COLUMNS = 3, 5
PATTERN = (np.arange(ROWS)[:, None] * 10 + np.arange(COLUMNS)[None, :]).astype(np.uint8)  # value = 10 r + c


def test_png_8_and_16_bit_keep_their_values_and_rows(tmp_path: Path) -> None:
    Image.fromarray(PATTERN).save(tmp_path / "grey8.png")
    Image.fromarray(PATTERN.astype(np.uint16) * 1000 + 5000).save(tmp_path / "grey16.png")
    eight, sixteen = read_image_file(tmp_path / "grey8.png"), read_image_file(tmp_path / "grey16.png")
    assert eight.kind == "PNG 8-bit" and sixteen.kind == "PNG 16-bit"
    assert eight.pixels.dtype == np.float32 and eight.pixels.shape == (1, 1, ROWS, COLUMNS)
    np.testing.assert_array_equal(eight.pixels[0, 0], PATTERN)
    np.testing.assert_array_equal(sixteen.pixels[0, 0], PATTERN * 1000.0 + 5000)  # up to 45,000: no 8-bit cut


def test_rgb_and_rgba_png_are_channels_first_and_alpha_is_dropped(tmp_path: Path) -> None:
    rgba = np.stack([PATTERN, PATTERN + 1, PATTERN + 2, np.full_like(PATTERN, 7)], axis=-1)
    Image.fromarray(rgba[..., :3]).save(tmp_path / "rgb.png")
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    for name, notes in (("rgb.png", ()), ("rgba.png", ("alpha channel dropped",))):
        read = read_image_file(tmp_path / name)
        assert read.pixels.shape == (1, 3, ROWS, COLUMNS) and read.notes == notes
        np.testing.assert_array_equal(read.pixels[0, 2], PATTERN + 2)


def test_a_palette_of_greys_is_a_grey_image(tmp_path: Path) -> None:
    Image.fromarray(PATTERN).convert("P").save(tmp_path / "palette.png")
    read = read_image_file(tmp_path / "palette.png")
    assert read.pixels.shape == (1, 1, ROWS, COLUMNS)
    np.testing.assert_array_equal(read.pixels[0, 0], PATTERN)


def test_jpeg_is_read_within_its_compression(tmp_path: Path) -> None:
    Image.fromarray(np.full((8, 8), 100, np.uint8)).save(tmp_path / "flat.jpg", quality=95)
    read = read_image_file(tmp_path / "flat.jpg")
    assert read.kind == "JPEG 8-bit" and read.pixels.shape == (1, 1, 8, 8)
    assert np.abs(read.pixels - 100).max() <= 1


def test_tiff_grey_16_bit_rgb_float_and_pages(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "grey.tif", PATTERN.astype(np.uint16) * 1000)
    rgb = np.stack([PATTERN, PATTERN * 2, PATTERN * 3], axis=-1).astype(np.uint16) * 100
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    tifffile.imwrite(tmp_path / "float.tiff", PATTERN.astype(np.float32) / 50 - 0.5)
    pages = np.stack([PATTERN, PATTERN + 100]).astype(np.uint8)
    tifffile.imwrite(tmp_path / "pages.tif", pages, photometric="minisblack")
    np.testing.assert_array_equal(read_image_file(tmp_path / "grey.tif").pixels[0, 0], PATTERN * 1000.0)
    colour = read_image_file(tmp_path / "rgb.tif")
    assert colour.kind == "TIFF 16-bit" and colour.pixels.shape == (1, 3, ROWS, COLUMNS)
    np.testing.assert_array_equal(colour.pixels[0, 1], PATTERN * 200.0)
    floats = read_image_file(tmp_path / "float.tiff")
    assert floats.kind == "TIFF 32-bit float"
    np.testing.assert_allclose(floats.pixels[0, 0], PATTERN / 50 - 0.5, rtol=1e-6)
    frames = read_image_file(tmp_path / "pages.tif").pixels
    assert frames.shape == (2, 1, ROWS, COLUMNS)
    np.testing.assert_array_equal(frames[1, 0], PATTERN + 100.0)


def test_nifti_slices_map_as_a_stack_does(tmp_path: Path) -> None:
    array = PATTERN.T.astype(np.float32)  # [W, H]: array[j, i] is row i, column j
    nib.save(nib.Nifti1Image(array, np.eye(4)), tmp_path / "slice2d.nii.gz")
    nib.save(nib.Nifti1Image(array[:, :, None], np.eye(4)), tmp_path / "slice3d.nii")
    for name in ("slice2d.nii.gz", "slice3d.nii"):
        np.testing.assert_array_equal(read_image_file(tmp_path / name).pixels, PATTERN[None, None])
    write_stack(tmp_path / "stack.nii.gz", PATTERN[None, None].astype(np.float32))
    np.testing.assert_array_equal(
        read_images(tmp_path / "stack.nii.gz"), read_stack(tmp_path / "stack.nii.gz")
    )


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((4, 4, 3), r"shape \[4, 4, 3\] is ambiguous: three grey images or one RGB image\? .*\[4, 4, 1, 3\]"),
        ((4, 4, 5), r"shape \[4, 4, 5\] is a volume of 5 slices, not a 2D image; .*pacgan slices"),
    ],
)
def test_3d_nifti_with_several_slices_is_refused_with_the_fix(tmp_path: Path, shape, message) -> None:
    nib.save(nib.Nifti1Image(np.zeros(shape, np.float32), np.eye(4)), tmp_path / "v.nii.gz")
    with pytest.raises(InputError, match=message):
        read_images(tmp_path / "v.nii.gz")


def test_dicom_rescale_is_applied_and_rows_stay_rows(tmp_path: Path) -> None:
    stored = PATTERN.astype(np.uint16) * 10
    path = write_dicom(tmp_path / "ct.dcm", stored, slope=2.0, intercept=-1024.0, window=(40.0, 400.0))
    read = read_image_file(path)
    assert read.kind == "DICOM 12-bit" and read.window == (40.0, 400.0) and read.patient == "P1"
    assert read.notes == ("DICOM rescale applied (slope 2, intercept -1024)",)
    np.testing.assert_array_equal(read.pixels[0, 0], stored * 2.0 - 1024)


def test_multi_frame_dicom_gives_one_image_per_frame(tmp_path: Path) -> None:
    frames = np.stack([PATTERN, PATTERN + 1, PATTERN + 2]).astype(np.uint16)
    read = read_image_file(write_dicom(tmp_path / "cine.dcm", frames))
    assert read.pixels.shape == (3, 1, ROWS, COLUMNS)
    np.testing.assert_array_equal(read.pixels[2, 0], PATTERN + 2.0)


def test_rgb_dicom_and_dicom_without_extension(tmp_path: Path) -> None:
    rgb = np.stack([PATTERN, PATTERN + 1, PATTERN + 2], axis=-1)
    path = write_dicom(tmp_path / "IM0001", rgb)
    assert image_format(path) == "DICOM"
    read = read_image_file(path)
    assert read.kind == "DICOM 8-bit" and read.pixels.shape == (1, 3, ROWS, COLUMNS)
    np.testing.assert_array_equal(read.pixels[0, 1], PATTERN + 1.0)


def test_monochrome1_is_inverted_within_the_stored_range_and_its_window_follows(tmp_path: Path) -> None:
    path = write_dicom(
        tmp_path / "xray.dcm", PATTERN.astype(np.uint16), photometric="MONOCHROME1", window=(100, 50)
    )
    read = read_image_file(path)
    np.testing.assert_array_equal(read.pixels[0, 0], 4095.0 - PATTERN)
    assert read.window == (3995.0, 50.0) and "MONOCHROME1 inverted" in read.notes[0]


def test_pydicom_sample_ct_is_in_hounsfield_units() -> None:
    from pydicom import dcmread
    from pydicom.data import get_testdata_file

    path = get_testdata_file("CT_small.dcm")
    read = read_image_file(path)
    assert read.pixels.shape == (1, 1, 128, 128) and read.kind == "DICOM 16-bit"
    np.testing.assert_array_equal(read.pixels[0, 0], dcmread(path).pixel_array - 1024.0)
    assert read.pixels.min() < 0


def test_a_dicom_file_without_pixels_is_not_an_image(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "report.dcm", PATTERN.astype(np.uint16))
    from pydicom import dcmread

    dataset = dcmread(path)
    del dataset.PixelData
    dataset.save_as(path)
    with pytest.raises(NotAnImage, match="without pixel data"):
        read_image_file(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.png", b"\x89PNG\r\n\x1a\nnot really", r"broken\.png: cannot be read as PNG"),
        ("broken.tif", b"II*\x00garbage", r"broken\.tif: cannot be read as TIFF"),
        ("broken.dcm", b"\x00" * 200, r"broken\.dcm: cannot be read as DICOM"),
        ("notes.txt", b"hello", r"notes\.txt: not an image file pacgan reads \(\.png, .*\.nii\.gz\)"),
        ("deep.png", png_bytes(4, 4, 16, 2), r"deep\.png: a 16-bit colour PNG, which Pillow .* 16-bit TIFF"),
    ],
)
def test_unreadable_files_are_named(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_image_file(tmp_path / name)


def test_a_decompression_bomb_is_refused_from_its_header(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "bomb.png").write_bytes(png_bytes(100_000, 100_000, 8, 0))
    with pytest.raises(InputError, match=r"bomb\.png: its header claims an image too large to decode safely"):
        read_image_file(tmp_path / "bomb.png")
    (tmp_path / "large.png").write_bytes(png_bytes(4000, 4000, 8, 0))
    monkeypatch.setenv("PACGAN_MAX_IMAGE_BYTES", "1000000")
    with pytest.raises(
        InputError,
        match=r"large\.png: its 4000x4000x1 image data \(header\) would take 61\.0 MiB .*=64000000$",
    ):
        read_image_file(tmp_path / "large.png")


def test_nan_in_a_float_tiff_is_refused(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "nan.tif", np.array([[0.0, np.nan]], np.float32))
    with pytest.raises(InputError, match=r"nan\.tif: 1 pixels are NaN or infinite"):
        read_image_file(tmp_path / "nan.tif")


def test_grey_weights_are_bt601() -> None:
    rgb = np.array([100.0, 50.0, 10.0], np.float32).reshape(3, 1, 1)
    np.testing.assert_allclose(to_grey(rgb), [[[0.299 * 100 + 0.587 * 50 + 0.114 * 10]]], rtol=1e-6)


def test_unit_images_come_from_a_stack_a_slice_or_an_image_file(tmp_path: Path) -> None:
    write_stack(tmp_path / "stack.nii.gz", np.zeros((2, 1, 4, 4), np.float32))
    nib.save(nib.Nifti1Image(np.full((4, 4), 0.5, np.float32), np.eye(4)), tmp_path / "slice.nii.gz")
    tifffile.imwrite(tmp_path / "scaled.tif", np.full((4, 4), -0.25, np.float32))
    assert read_unit_images(tmp_path / "stack.nii.gz").shape == (2, 1, 4, 4)
    assert read_unit_images(tmp_path / "slice.nii.gz").shape == (1, 1, 4, 4)
    np.testing.assert_array_equal(read_unit_images(tmp_path / "scaled.tif"), np.full((1, 1, 4, 4), -0.25))


def test_an_image_file_outside_unit_range_says_how_to_import_and_scale_it(tmp_path: Path) -> None:
    Image.fromarray(PATTERN).save(tmp_path / "scan.png")
    with pytest.raises(InputError) as error:
        read_unit_images(tmp_path / "scan.png")
    stack, scaled = tmp_path / "scan.nii.gz", tmp_path / "scan_scaled.nii.gz"
    assert str(error.value).endswith(
        f"import and scale it first: pacgan import {tmp_path / 'scan.png'} -o {stack}, "
        f"then pacgan scale {stack} -o {scaled}"
    )
