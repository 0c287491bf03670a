import os
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from pacgan_cli.core.errors import ConfigError, InputError
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


def claimed_stack(path: Path, shape: tuple[int, ...], data: bytes = b"\0" * 1024) -> Path:
    """A NIfTI file whose header claims `shape` float32 images but which holds only `data`."""
    header = nib.Nifti1Image(np.zeros((1, 1, 1, 1), np.float32), affine=np.eye(4)).header
    header.set_data_shape(shape)
    header.set_data_dtype(np.float32)
    with nib.openers.Opener(path, "wb") as handle:
        header.write_to(handle)
        handle.write(data)
    return path


def test_a_small_file_whose_header_claims_a_huge_stack_fails_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = claimed_stack(tmp_path / "huge.nii.gz", (16384, 16384, 1, 10_000))
    started = time.perf_counter()
    for reader in (read_stack, read_stack_shape):
        with pytest.raises(
            InputError,
            match=r"huge\.nii\.gz: its \[16384, 16384, 1, 10000\] image data \(header\) would take 9\.8 TiB of "
            r"memory, over the limit of 4\.0 GiB; if the file is right, raise the limit: "
            r"PACGAN_MAX_IMAGE_BYTES=10737418240000$",
        ):
            reader(path)
    assert time.perf_counter() - started < 1
    monkeypatch.setenv("PACGAN_MAX_IMAGE_BYTES", str(2**50))
    with pytest.raises(InputError, match=r"more than the .* file can hold; the file is truncated or damaged"):
        read_stack(path)


def test_a_truncated_uncompressed_stack_is_refused_from_its_size(tmp_path: Path) -> None:
    path = claimed_stack(tmp_path / "cut.nii", (8, 8, 1, 10), data=b"\0" * (8 * 8 * 4 * 9))
    with pytest.raises(InputError, match=r"claims 2\.5 KiB of image data \[8, 8, 1, 10\], more than the"):
        read_stack(path)
    whole = claimed_stack(tmp_path / "whole.nii", (8, 8, 1, 10), data=b"\0" * (8 * 8 * 4 * 10))
    assert read_stack(whole).shape == (10, 1, 8, 8)


def test_a_cut_compressed_stack_within_the_limit_says_it_is_damaged_and_why(tmp_path: Path) -> None:
    whole = write_stack(tmp_path / "whole.nii.gz", np.random.default_rng(0).random((40, 1, 16, 16)))
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 3 // 4])
    with pytest.raises(
        InputError,
        match=r"cut\.nii\.gz: the image data is damaged or cut short \(EOFError: .+\); copy or write",
    ):
        read_stack(cut)


def gzip_bomb(path: Path, count: int) -> Path:
    """A .nii.gz whose `count` 256x256 float32 images are all zero: 1 MiB of claimed data per ~1 KiB of
    file, so it passes the size checks and costs its full size only when read."""
    header = nib.Nifti1Image(np.zeros((1, 1, 1, 1), np.float32), affine=np.eye(4)).header
    header.set_data_shape((256, 256, 1, count))
    header.set_data_dtype(np.float32)
    with nib.openers.Opener(path, "wb") as handle:
        header.write_to(handle)
        for _ in range(count // 4):
            handle.write(bytes(2**20))
    return path


READ_WITH_LITTLE_MEMORY = """
import resource, sys
from pacgan_cli.core.errors import InputError
from pacgan_cli.core.io.nifti import read_stack
used = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (used + 2**27, resource.RLIM_INFINITY))  # 128 MiB more
try:
    read_stack(sys.argv[1])
except InputError as error:
    print(error)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="an address-space limit via /proc")
def test_a_gzip_bomb_within_the_limit_that_exhausts_memory_says_so(tmp_path: Path) -> None:
    bomb = gzip_bomb(tmp_path / "bomb.nii.gz", 1600)  # 400 MiB of zeros in a small file
    assert bomb.stat().st_size < 4 * 2**20
    done = subprocess.run(
        [sys.executable, "-c", READ_WITH_LITTLE_MEMORY, str(bomb)],
        capture_output=True,
        text=True,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
        timeout=120,
    )
    assert done.stdout.startswith(
        f"{bomb}: not enough memory to read its 400.0 MiB of image data (MemoryError); free memory"
    ), done.stdout + done.stderr
    assert "PACGAN_MAX_IMAGE_BYTES (now 4.0 GiB)" in done.stdout


def test_the_image_size_limit_is_set_by_its_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_stack(tmp_path / "s.nii.gz", np.zeros((5, 1, 8, 8), dtype=np.float32))  # 1280 bytes
    monkeypatch.setenv("PACGAN_MAX_IMAGE_BYTES", "1000")
    with pytest.raises(InputError, match=r"1\.2 KiB of memory, over the limit of 1000 bytes"):
        read_stack(path)
    monkeypatch.setenv("PACGAN_MAX_IMAGE_BYTES", "1280")
    assert read_stack(path).shape == (5, 1, 8, 8)
    monkeypatch.setenv("PACGAN_MAX_IMAGE_BYTES", "4 GiB")
    with pytest.raises(ConfigError, match="PACGAN_MAX_IMAGE_BYTES must be a positive whole number of bytes"):
        read_stack(path)
