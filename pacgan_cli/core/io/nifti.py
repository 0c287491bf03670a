"""The one owner of NIfTI files: image stacks `[W, H, C, N]` on disk <-> `[N, C, H, W]` arrays in memory.

The published code reads a stack with `swapaxes(0, 3)` then `swapaxes(1, 2)`, so
`tensor[n, c, i, j] = array[j, i, c, n]`; writing uses the inverse. Files written by either program
therefore display the same in a NIfTI viewer. Written stacks carry the identity affine.
"""

from __future__ import annotations

import contextlib
import math
import os
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np

from pacgan_cli.core.errors import InputError, error_reason
from pacgan_cli.core.io.atomic import atomic_path, ensure_can_write
from pacgan_cli.core.io.limits import IMAGE_BYTES_VARIABLE, byte_limit, check_byte_limit, format_bytes

NIFTI_SUFFIXES = (".nii", ".nii.gz")
MAX_DEFLATE_RATIO = 1032  # gzip's deflate never expands data by more than this factor


def is_nifti_path(path: str | os.PathLike[str]) -> bool:
    """Whether the file name ends like a NIfTI file."""
    return str(path).lower().endswith(NIFTI_SUFFIXES)


def nifti_stem(path: str | os.PathLike[str]) -> str:
    """The file name without `.nii.gz` or `.nii`: `synth.nii.gz` -> `synth`, for files named after a stack."""
    name = Path(path).name
    for suffix in (".nii.gz", ".nii"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(path).stem


def read_stack(path: str | os.PathLike[str], expected_size: int | None = None) -> np.ndarray:
    """Read a stack of 2D images.

    Returns `[N, C, H, W]` float32. Raises InputError for a missing or unreadable file, a file that is
    not 4D, an image size other than `expected_size`, no images, or NaN/inf pixels.
    """
    array = _load_array(path)
    _check_stack_shape(array.shape, path)
    return _stack_images(array, path, expected_size)


def read_images(path: str | os.PathLike[str], expected_size: int | None = None) -> np.ndarray:
    """`read_stack`, which also takes one 2D image: `[W, H]`, or `[W, H, 1]` (a slice saved as a volume).

    Returns `[N, C, H, W]` float32 with the stack's axis mapping (`image[i, j] = array[j, i]`), so a 2D
    slice displays as it would inside a stack. A 3D shape with more slices is refused: `[W, H, 3]` could be
    three grey images or one RGB image, and a longer one is a volume.
    """
    array = _load_array(path)
    shape = list(array.shape)
    if array.ndim == 2 or (array.ndim == 3 and shape[2] == 1):
        array = array.reshape(shape[0], shape[1], 1, 1)
    elif array.ndim == 3 and shape[2] == 3:
        raise InputError(
            f"{path}: shape {shape} is ambiguous: three grey images or one RGB image? Save it as a stack, "
            f"[{shape[0]}, {shape[1]}, 1, 3] for three grey images or [{shape[0]}, {shape[1]}, 3, 1] for one RGB image"
        )
    elif array.ndim == 3:
        raise InputError(
            f"{path}: shape {shape} is a volume of {shape[2]} slices, not a 2D image; "
            "take 2D slices of volumes with `pacgan slices`"
        )
    _check_stack_shape(array.shape, path)
    return _stack_images(array, path, expected_size)


def _stack_images(array: np.ndarray, path: str | os.PathLike[str], expected_size: int | None) -> np.ndarray:
    """`[W, H, C, N]` as stored -> `[N, C, H, W]` float32, checked (the published mapping, in one place)."""
    width, height, channels, count = array.shape
    if count == 0:
        raise InputError(f"{path}: the stack holds no images (shape {list(array.shape)})")
    if channels not in (1, 3):
        raise InputError(f"{path}: images must have 1 (grey) or 3 (RGB) channels; got {channels}")
    if expected_size is not None and (width, height) != (expected_size, expected_size):
        raise InputError(
            f"{path}: expected {expected_size}x{expected_size} images for this stage; got {width}x{height}"
        )
    try:
        images = np.ascontiguousarray(np.swapaxes(np.swapaxes(array, 0, 3), 1, 2), dtype=np.float32)
    except MemoryError as error:  # the reordered copy
        raise _out_of_memory(path, array.shape) from error
    _check_finite(images, path)
    return images


def write_stack(path: str | os.PathLike[str], images: np.ndarray, force: bool = False) -> Path:
    """Write `[N, C, H, W]` images as a `[W, H, C, N]` float32 NIfTI stack, atomically."""
    if images.ndim != 4:
        raise ValueError(f"write_stack needs [N, C, H, W] images; got shape {list(images.shape)}")
    count, channels, height, width = images.shape
    with StackWriter(path, count, channels, height, width, force=force) as writer:
        writer.write(images)
    return Path(path)


class StackWriter:
    """Streams `[n, C, H, W]` batches into one `[W, H, C, N]` float32 stack whose count N is known up front,
    so that writing N images takes the memory of one batch.

    On disk a NIfTI array is in Fortran order, so `array[j, i, c, n] = images[n, c, i, j]` puts each image's
    C-ordered bytes one after another: a batch is appended as it is. The file appears (atomically) only when
    exactly N images were written.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        count: int,
        channels: int,
        height: int,
        width: int,
        force: bool = False,
    ) -> None:
        self.path = Path(path)
        if not is_nifti_path(self.path):
            raise InputError(f"{self.path}: an image stack must be written as .nii or .nii.gz")
        ensure_can_write(self.path, force=force)
        self.shape = (count, channels, height, width)
        self.written = 0
        header = nib.Nifti1Image(np.zeros((1, 1, 1, 1), np.float32), affine=np.eye(4)).header
        header.set_data_shape((width, height, channels, count))
        header.set_data_dtype(np.float32)
        header.set_slope_inter(1.0, 0.0)
        self.header = header

    def __enter__(self) -> StackWriter:
        self._closing = contextlib.ExitStack()
        temporary = self._closing.enter_context(atomic_path(self.path))
        self._file = self._closing.enter_context(nib.openers.Opener(temporary, "wb"))
        self.header.write_to(self._file)
        return self

    def write(self, images: np.ndarray) -> None:
        """Append `[n, C, H, W]` images."""
        if images.ndim != 4 or tuple(images.shape[1:]) != self.shape[1:]:
            raise ValueError(
                f"expected [n, {', '.join(map(str, self.shape[1:]))}] images; got {list(images.shape)}"
            )
        if self.written + len(images) > self.shape[0]:
            raise ValueError(f"more than the {self.shape[0]} images announced for {self.path}")
        self._file.write(np.ascontiguousarray(images, dtype="<f4").tobytes())
        self.written += len(images)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: object) -> bool:
        if kind is None and self.written != self.shape[0]:
            incomplete = ValueError(f"{self.path}: {self.written} of {self.shape[0]} images were written")
            self._closing.__exit__(ValueError, incomplete, None)  # removes the temporary file
            raise incomplete
        return self._closing.__exit__(kind, error, trace)


def write_volume(
    path: str | os.PathLike[str], data: np.ndarray, affine: np.ndarray, force: bool = False
) -> Path:
    """Write a 3D float32 volume with its affine, atomically (e.g. the demo's synthetic subjects)."""
    if np.asarray(data).ndim != 3:
        raise ValueError(f"write_volume needs a 3D array; got shape {list(np.shape(data))}")
    path = Path(path)
    if not is_nifti_path(path):
        raise InputError(f"{path}: a volume must be written as .nii or .nii.gz")
    ensure_can_write(path, force=force)
    image = nib.Nifti1Image(np.asarray(data, dtype=np.float32), affine=np.asarray(affine, dtype=np.float64))
    image.header.set_data_dtype(np.float32)
    with atomic_path(path) as temporary:
        nib.save(image, temporary)
    return path


def read_stack_shape(path: str | os.PathLike[str]) -> tuple[int, ...]:
    """The on-disk shape `[W, H, C, N]` of a stack (checked to be 4D), without reading the pixels."""
    shape = tuple(int(v) for v in _load_image(path).shape)
    _check_stack_shape(shape, path)
    return shape


def _check_stack_shape(shape: tuple[int, ...], path: str | os.PathLike[str]) -> None:
    if len(shape) != 4:
        raise InputError(
            f"{path}: expected a 4D image stack [W, H, C, N]; got shape {list(shape)}"
            " (a stack of N grey images has shape [W, H, 1, N])"
        )


def read_volume(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read a 3D volume (a 4D file with a single frame is accepted) as float32, with its affine."""
    image = _load_image(path)
    shape = image.shape
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) != 3:
        raise InputError(f"{path}: expected a 3D volume; got shape {list(image.shape)}")
    data = np.asarray(image.dataobj, dtype=np.float32).reshape(shape)
    _check_finite(data, path)
    return data, np.asarray(image.affine)


def _load_image(path: str | os.PathLike[str]) -> nib.Nifti1Image:
    path = Path(path)
    if path.is_dir():
        stacks = sorted(
            path.glob("Real*x*.nii.gz"), key=lambda candidate: (len(candidate.name), candidate.name)
        )
        example = f", e.g. {stacks[-1]}" if stacks else ""
        raise InputError(
            f"{path}: is a folder; an image stack file (.nii or .nii.gz) is needed here{example}"
        )
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if not is_nifti_path(path):
        raise InputError(f"{path}: not a NIfTI file (expected .nii or .nii.gz)")
    try:
        image = nib.load(path)
    except Exception as error:  # nibabel raises many types for damaged files
        raise InputError(f"{path}: cannot be read as NIfTI ({error_reason(error)})") from error
    _check_data_size(image, path)
    return image


def _check_data_size(image: nib.Nifti1Image, path: Path) -> None:
    """From the header alone: the data must fit the memory limit and the file must be able to hold it, so a
    small file claiming a huge image fails at once instead of after gigabytes of decompression."""
    shape = [int(v) for v in image.header.get_data_shape()]
    itemsize = image.header.get_data_dtype().itemsize
    count = math.prod(shape)
    what = f"its {shape} image data (header)"
    check_byte_limit(path, count * max(itemsize, 4), what, IMAGE_BYTES_VARIABLE)  # read as float32
    size_on_disk = path.stat().st_size
    if path.name.lower().endswith(".gz"):
        holds = size_on_disk * MAX_DEFLATE_RATIO
    else:
        holds = size_on_disk - int(image.dataobj.offset)
    if count * itemsize > holds:
        raise InputError(
            f"{path}: its header claims {format_bytes(count * itemsize)} of image data {shape}, more than "
            f"the {format_bytes(size_on_disk)} file can hold; the file is truncated or damaged"
        )


def _load_array(path: str | os.PathLike[str]) -> np.ndarray:
    """The image data as float32. A file within the limit can still fail while it is read: memory runs out
    (a gzip bomb, or a large stack on a small machine), or the data is cut short or damaged; each says which,
    with the exception's type, since some (MemoryError, a bare EOFError) carry no message."""
    image = _load_image(path)
    try:
        return np.asarray(image.dataobj, dtype=np.float32)
    except MemoryError as error:
        raise _out_of_memory(path, image.shape) from error
    except (EOFError, OSError, zlib.error) as error:  # gzip's BadGzipFile is an OSError
        raise InputError(
            f"{path}: the image data is damaged or cut short ({type(error).__name__}: {error_reason(error)}); "
            "copy or write the file again"
        ) from error
    except Exception as error:
        raise InputError(
            f"{path}: the image data cannot be read ({type(error).__name__}: {error_reason(error)}); "
            "is the file complete?"
        ) from error


def _out_of_memory(path: str | os.PathLike[str], shape: tuple[int, ...]) -> InputError:
    """The error for image data within the limit that still does not fit in memory."""
    needed = format_bytes(math.prod(int(v) for v in shape) * 4)
    limit = format_bytes(byte_limit(IMAGE_BYTES_VARIABLE))
    return InputError(
        f"{path}: not enough memory to read its {needed} of image data (MemoryError); free memory or split the "
        f"stack, or, if the file should not be that large (a damaged file or a gzip bomb), lower "
        f"{IMAGE_BYTES_VARIABLE} (now {limit}) to refuse such files before reading"
    )


def _check_finite(array: np.ndarray, path: str | os.PathLike[str]) -> None:
    if not np.isfinite(array).all():
        bad = int(array.size - np.isfinite(array).sum())
        raise InputError(f"{path}: {bad} pixels are NaN or infinite; fix or remove those images first")
