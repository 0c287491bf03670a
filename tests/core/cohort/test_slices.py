"""Slice extraction: centring into the cube, the chosen axial index, list files and bad inputs."""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from pacgan_cli.core.cohort.slices import (
    SliceOptions,
    axial_slice,
    extract_slices,
    find_volumes,
    parse_slice_indices,
)
from pacgan_cli.core.errors import ConfigError, InputError, OutputExistsError
from pacgan_cli.core.io.nifti import read_stack


def save_volume(path: Path, data: np.ndarray, affine: np.ndarray | None = None) -> Path:
    nib.save(nib.Nifti1Image(data.astype(np.float32), np.eye(4) if affine is None else affine), path)
    return path


def coordinate_volume(shape: tuple[int, int, int]) -> np.ndarray:
    """Voxel value encodes its own (x, y, z) so that any slice can be checked exactly; never zero."""
    x, y, z = np.meshgrid(*(np.arange(s) for s in shape), indexing="ij")
    return (1 + x * 10_000 + y * 100 + z).astype(np.float32)


def test_axial_slice_of_a_volume_already_the_cube_size() -> None:
    volume = coordinate_volume((8, 8, 8))
    np.testing.assert_array_equal(axial_slice(volume, 3, 8), volume[:, :, 3])


def test_axial_slice_pads_a_small_volume_centred_with_zeros() -> None:
    volume = coordinate_volume((4, 6, 5))
    plane = axial_slice(volume, 4, 8)  # z padding before = (8 - 5) // 2 = 1, so source z = 3
    assert plane.shape == (8, 8)
    np.testing.assert_array_equal(plane[2:6, 1:7], volume[:, :, 3])
    assert plane.sum() == volume[:, :, 3].sum()


def test_axial_slice_crops_a_large_volume_centred() -> None:
    volume = coordinate_volume((11, 10, 12))
    plane = axial_slice(volume, 2, 8)  # crop starts: x (11-8)//2 = 1, y 1, z 2
    np.testing.assert_array_equal(plane, volume[1:9, 1:9, 4])


def test_axial_slice_in_the_padding_is_refused() -> None:
    with pytest.raises(InputError, match="padding"):
        axial_slice(coordinate_volume((8, 8, 2)), 0, 8)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127", (127,)), ("125-128", (125, 126, 127, 128)), ("120, 127,134", (120, 127, 134))],
)
def test_parse_slice_indices(text: str, expected: tuple[int, ...]) -> None:
    assert parse_slice_indices(text) == expected


@pytest.mark.parametrize("text", ["", "a", "9-3", "1-"])
def test_parse_slice_indices_refuses_nonsense(text: str) -> None:
    with pytest.raises(ConfigError, match="--slice"):
        parse_slice_indices(text)


def test_extract_slices_from_a_folder_writes_stack_and_list(tmp_path: Path) -> None:
    folder = tmp_path / "volumes"
    folder.mkdir()
    first = coordinate_volume((8, 8, 8))
    second = coordinate_volume((6, 10, 9))
    save_volume(folder / "b.nii.gz", second)
    save_volume(folder / "a.nii", first)
    save_volume(folder / "c.nii.gz", first[..., None])  # 4D with one frame
    (folder / "notes.txt").write_text("not an image")
    result = extract_slices(folder, tmp_path / "out" / "slices.nii.gz", options=SliceOptions(8, (3,)))

    stack = read_stack(tmp_path / "out" / "slices.nii.gz")
    assert stack.shape == (3, 1, 8, 8)
    np.testing.assert_array_equal(stack[0, 0], first[:, :, 3].T)  # tensor[n, c, i, j] = array[j, i, c, n]
    np.testing.assert_array_equal(stack[1, 0], axial_slice(second, 3, 8).T)
    np.testing.assert_array_equal(stack[2, 0], first[:, :, 3].T)
    listed = (tmp_path / "out" / "slices_list.txt").read_text().splitlines()
    assert [Path(p).name for p in listed] == ["a.nii", "b.nii.gz", "c.nii.gz"]
    assert result.skipped == (folder / "notes.txt",)
    assert result.shapes == {(8, 8, 8): 2, (6, 10, 9): 1}
    assert any("6x10x9" in line for line in result.summary_lines())
    assert any("notes.txt" in line for line in result.summary_lines())


def test_extract_slices_with_a_range_keeps_each_volume_together(tmp_path: Path) -> None:
    volume = coordinate_volume((8, 8, 8))
    listing = tmp_path / "volumes.txt"
    save_volume(tmp_path / "one.nii.gz", volume)
    save_volume(tmp_path / "two.nii.gz", volume * 2)
    listing.write_text("# my scans\none.nii.gz\n\ntwo.nii.gz\n")
    result = extract_slices(listing, tmp_path / "s.nii.gz", options=SliceOptions(8, (2, 3)))
    stack = read_stack(tmp_path / "s.nii.gz")
    assert result.image_count == 4
    expected = [volume[:, :, 2], volume[:, :, 3], 2 * volume[:, :, 2], 2 * volume[:, :, 3]]
    for image, plane in zip(stack[:, 0], expected, strict=True):
        np.testing.assert_array_equal(image, plane.T)
    names = [Path(p).name for p in (tmp_path / "s_list.txt").read_text().splitlines()]
    assert names == ["one.nii.gz", "one.nii.gz", "two.nii.gz", "two.nii.gz"]


def test_extract_slices_warns_about_volumes_that_are_not_axial(tmp_path: Path) -> None:
    sagittal = np.array([[0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=float)
    save_volume(tmp_path / "v.nii.gz", coordinate_volume((8, 8, 8)), sagittal)
    listing = tmp_path / "list.txt"
    listing.write_text("v.nii.gz\n")
    result = extract_slices(listing, tmp_path / "s.nii.gz", options=SliceOptions(8, (3,)))
    assert len(result.warnings) == 1
    assert "not axial" in result.warnings[0]


def test_list_entries_that_are_not_nifti_or_missing_are_refused(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text("scan.mgz\n")
    with pytest.raises(InputError, match=r"line 1 .*not a \.nii"):
        find_volumes(listing)
    listing.write_text("missing.nii.gz\n")
    with pytest.raises(InputError, match="does not exist"):
        find_volumes(listing)


def test_an_empty_folder_and_a_single_volume_are_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no \.nii"):
        find_volumes(tmp_path / "empty")
    single = save_volume(tmp_path / "v.nii.gz", coordinate_volume((4, 4, 4)))
    with pytest.raises(InputError, match="not a single volume"):
        find_volumes(single)


def test_volumes_with_several_frames_stop_the_run_and_write_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "volumes"
    folder.mkdir()
    save_volume(folder / "a.nii.gz", coordinate_volume((8, 8, 8)))
    save_volume(folder / "b.nii.gz", np.zeros((8, 8, 8, 2)))
    with pytest.raises(InputError, match=r"b\.nii\.gz: expected a 3D volume"):
        extract_slices(folder, tmp_path / "s.nii.gz", options=SliceOptions(8, (3,)))
    assert not (tmp_path / "s.nii.gz").exists()
    assert not (tmp_path / "s_list.txt").exists()


def test_existing_outputs_are_not_overwritten_without_force(tmp_path: Path) -> None:
    save_volume(tmp_path / "a.nii.gz", coordinate_volume((8, 8, 8)))
    listing = tmp_path / "list.txt"
    listing.write_text("a.nii.gz\n")
    (tmp_path / "s_list.txt").write_text("earlier")
    with pytest.raises(OutputExistsError):
        extract_slices(listing, tmp_path / "s.nii.gz", options=SliceOptions(8, (3,)))
    assert not (tmp_path / "s.nii.gz").exists()
    extract_slices(listing, tmp_path / "s.nii.gz", options=SliceOptions(8, (3,)), force=True)
    assert (tmp_path / "s_list.txt").read_text().strip().endswith("a.nii.gz")


def test_slice_options_are_checked_before_reading(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="outside the cube"):
        extract_slices(tmp_path, tmp_path / "s.nii.gz", options=SliceOptions(8, (8,)))
    with pytest.raises(ConfigError, match=r"\.nii"):
        extract_slices(tmp_path, tmp_path / "s.png", options=SliceOptions(8, (3,)))


def test_the_default_slice_is_just_below_the_middle() -> None:
    assert SliceOptions().slice_indices == (127,)
    assert SliceOptions(cube_size=16).slice_indices == (7,)


@pytest.mark.parametrize("shape", [(7, 9, 8), (8, 8, 7), (1, 15, 9)])
def test_axial_slice_pads_and_crops_by_one_voxel(shape: tuple[int, int, int]) -> None:
    volume = coordinate_volume(shape)
    plane = axial_slice(volume, 3, 8)
    assert plane.shape == (8, 8)
    z = 3 + (shape[2] - 8) // 2 if shape[2] >= 8 else 3 - (8 - shape[2]) // 2
    x_pad = (8 - shape[0]) // 2 if shape[0] < 8 else 0
    x_crop = (shape[0] - 8) // 2 if shape[0] >= 8 else 0
    y_pad = (8 - shape[1]) // 2 if shape[1] < 8 else 0
    y_crop = (shape[1] - 8) // 2 if shape[1] >= 8 else 0
    width, height = min(shape[0], 8), min(shape[1], 8)
    np.testing.assert_array_equal(
        plane[x_pad : x_pad + width, y_pad : y_pad + height],
        volume[x_crop : x_crop + width, y_crop : y_crop + height, z],
    )
    assert plane.sum() == volume[x_crop : x_crop + width, y_crop : y_crop + height, z].sum()


@pytest.mark.parametrize("name", ["b\nc.nii.gz", "b\rc.nii.gz", "b\u2028c.nii.gz"])
def test_a_file_name_the_source_list_cannot_hold_is_refused_before_writing(tmp_path: Path, name: str) -> None:
    """A line break in a name gave the list 3 lines for 2 images, so later images got the wrong source."""
    folder = tmp_path / "volumes"
    folder.mkdir()
    save_volume(folder / "a.nii.gz", coordinate_volume((8, 8, 8)))
    save_volume(folder / name, coordinate_volume((8, 8, 8)))
    with pytest.raises(InputError, match=r"the source list .* cannot hold this name") as refused:
        extract_slices(folder, tmp_path / "s.nii.gz", options=SliceOptions(8, (3,)))
    assert "\n" not in str(refused.value) and repr(str(folder / name)) in str(refused.value)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["volumes"]


def test_a_file_name_that_is_not_utf8_reads_back_from_the_list(tmp_path: Path) -> None:
    folder = tmp_path / "volumes"
    folder.mkdir()
    name = os.fsdecode(b"caf\xe9.nii.gz")  # Latin-1 bytes, kept by Python as a surrogate
    save_volume(folder / name, coordinate_volume((8, 8, 8)))
    extract_slices(folder, tmp_path / "s.nii.gz", options=SliceOptions(8, (3,)))
    assert (tmp_path / "s_list.txt").read_bytes() == os.fsencode(folder / name) + b"\n"
    volumes, _ = find_volumes(tmp_path / "s_list.txt")
    assert volumes == [folder / name]
