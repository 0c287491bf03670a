"""2D image files (PNG, JPEG, TIFF, DICOM, a 2D NIfTI slice) read as `[F, C, H, W]` float32 images, for
users' own data: what `pacgan import` stacks, and what `pacgan classify` takes as a single image.

Rows stay rows: pixel (row r, column c) of a file becomes `image[r, c]`, the way pacgan's figures draw an
image (row 0 at the top), and `write_stack` owns the step from there to the NIfTI axes. Values stay as
stored (8- or 16-bit integers and floats become float32 unchanged), except that DICOM's RescaleSlope and
RescaleIntercept turn stored values into the modality's units (CT: Hounsfield units), as every DICOM
viewer does. Each format's library is imported when a file of that format is read: Pillow (PNG, JPEG),
tifffile (TIFF), pydicom (DICOM); NIfTI goes through `nifti.py`, the one NIfTI reader.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pacgan_cli.core.errors import InputError, PacganError, error_reason
from pacgan_cli.core.io.intensity import check_unit_range
from pacgan_cli.core.io.limits import IMAGE_BYTES_VARIABLE, check_byte_limit
from pacgan_cli.core.io.nifti import is_nifti_path, nifti_stem, read_images

SUFFIX_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".dcm": "DICOM",
    ".dicom": "DICOM",
}
READABLE_FILES = ".png, .jpg, .jpeg, .tif, .tiff, .dcm (or DICOM files without extension), .nii, .nii.gz"
DICOM_MAGIC_OFFSET = 128  # a DICOM file: a 128-byte preamble, then b"DICM"
EXIF_ORIENTATION = 0x0112
LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601, as Pillow's convert("L")
PILLOW_MODES_KEPT = ("1", "L", "LA", "RGB", "RGBA", "I", "F")  # others become RGB


class NotAnImage(InputError):
    """A DICOM file without pixel data (a structured report, a DICOMDIR): skipped when a folder is read."""


@dataclass(frozen=True)
class FileImages:
    """The images of one file: `pixels` `[F, C, H, W]` float32 (F frames, 1 for most files; C = 1 or 3).

    `kind` is the format and bit depth (`PNG 16-bit`), `notes` what was done to the values on the way
    (alpha dropped, DICOM rescale), `window` a DICOM file's own (WindowCenter, WindowWidth), not applied,
    and `patient` a DICOM file's PatientID.
    """

    path: Path
    pixels: np.ndarray
    kind: str
    notes: tuple[str, ...] = ()
    window: tuple[float, float] | None = None
    patient: str = ""


def image_format(path: str | os.PathLike[str]) -> str | None:
    """`PNG`, `JPEG`, `TIFF`, `DICOM` or `NIfTI` from the file name; a file with another or no suffix is
    DICOM when it carries DICOM's marker (exports often name files `IM0001` or by UID); else None."""
    path = Path(path)
    if is_nifti_path(path):
        return "NIfTI"
    known = SUFFIX_FORMATS.get(path.suffix.lower())
    if known is not None:
        return known
    try:
        with open(path, "rb") as handle:
            handle.seek(DICOM_MAGIC_OFFSET)
            return "DICOM" if handle.read(4) == b"DICM" else None
    except OSError:
        return None


def read_image_file(path: str | os.PathLike[str]) -> FileImages:
    """Read every image of one file (frames of a multi-frame DICOM or multi-page TIFF are images).

    The memory an image needs is checked against PACGAN_MAX_IMAGE_BYTES from the file's header, before its
    pixels are decoded. Raises InputError naming the file when it cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    kind = image_format(path)
    if kind is None:
        raise InputError(f"{path}: not an image file pacgan reads ({READABLE_FILES})")
    if kind == "NIfTI":
        images = FileImages(path, read_images(path), "NIfTI")
    elif kind == "TIFF":
        images = _read_tiff(path)
    elif kind == "DICOM":
        images = _read_dicom(path)
    else:
        images = _read_with_pillow(path, kind)
    finite = np.isfinite(images.pixels)
    if not finite.all():
        raise InputError(
            f"{path}: {int(finite.size - finite.sum())} pixels are NaN or infinite; fix or remove the file"
        )
    return images


def read_unit_images(path: str | os.PathLike[str]) -> np.ndarray:
    """The images a network is given from one file, checked in [-1, 1]: `[N, C, H, W]` float32.

    A stack (as `read_unit_stack`), one 2D NIfTI slice, or one image file (PNG, JPEG, TIFF, DICOM); such a
    file's values are almost never in [-1, 1], and the message says how to import and scale it.
    """
    path = Path(path)
    if path.is_dir() or image_format(path) in (None, "NIfTI"):
        images = read_images(path)
        check_unit_range(images, path)
        return images
    images = read_image_file(path).pixels
    stack = path.with_name(f"{image_stem(path)}.nii.gz")
    scaled = path.with_name(f"{image_stem(path)}_scaled.nii.gz")
    check_unit_range(
        images,
        path,
        fix=f"import and scale it first: pacgan import {path} -o {stack}, then pacgan scale {stack} -o {scaled}",
    )
    return images


def image_stem(path: str | os.PathLike[str]) -> str:
    """The file name without its image suffix: `a.nii.gz` -> `a`, `b.png` -> `b`; a DICOM `IM.0001` stays."""
    path = Path(path)
    if is_nifti_path(path):
        return nifti_stem(path)
    return path.stem if path.suffix.lower() in SUFFIX_FORMATS else path.name


def to_grey(images: np.ndarray) -> np.ndarray:
    """`[..., 3, H, W]` RGB -> `[..., 1, H, W]` grey, weighted as ITU-R BT.601 luma (Pillow's convert("L"))."""
    weights = np.asarray(LUMA_WEIGHTS, dtype=np.float32).reshape(3, 1, 1)
    return (images * weights).sum(axis=-3, keepdims=True, dtype=np.float32)


def _check_image_bytes(path: Path, shape: tuple[int, ...]) -> None:
    """From the header: the pixels, as float32, must fit PACGAN_MAX_IMAGE_BYTES."""
    shown = "x".join(str(size) for size in shape)
    check_byte_limit(path, math.prod(shape) * 4, f"its {shown} image data (header)", IMAGE_BYTES_VARIABLE)


def _bit_depth(dtype: np.dtype) -> str:
    """`uint8` -> `8-bit`, `int16` -> `16-bit signed`, `float32` -> `32-bit float`, `bool` -> `1-bit`."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return "1-bit"
    kind = {"f": " float", "i": " signed"}.get(dtype.kind, "")
    return f"{dtype.itemsize * 8}-bit{kind}"


def _channels_first(array: np.ndarray, path: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    """`[F, H, W, S]` samples per pixel -> `[F, C, H, W]` float32 with C = 1 or 3: an alpha sample (S = 2 or
    4) is dropped and said so; other sample counts are refused."""
    samples = array.shape[-1]
    notes: tuple[str, ...] = ()
    if samples in (2, 4):
        array, notes = array[..., :-1], ("alpha channel dropped",)
    elif samples not in (1, 3):
        raise InputError(f"{path}: has {samples} samples per pixel; pacgan reads grey or RGB images only")
    return np.ascontiguousarray(np.moveaxis(array, -1, 1), dtype=np.float32), notes


def _read_with_pillow(path: Path, kind: str) -> FileImages:
    from PIL import Image, ImageOps

    if kind == "PNG":
        _refuse_deep_colour_png(path)
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            # Our byte limit decides what is too large; Pillow's own check still refuses extreme claims.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                _check_image_bytes(path, (image.height, image.width, len(image.getbands())))
                if image.getexif().get(EXIF_ORIENTATION, 1) != 1:
                    image = ImageOps.exif_transpose(image)
                    notes.append("turned upright by its EXIF orientation")
                palette = image.mode in ("P", "PA")
                if palette:
                    image = image.convert("RGB")
                elif image.mode not in PILLOW_MODES_KEPT and not image.mode.startswith("I;16"):
                    notes.append(f"{image.mode} converted to RGB")
                    image = image.convert("RGB")
                array = np.asarray(image)
    except Image.DecompressionBombError as error:
        raise InputError(
            f"{path}: its header claims an image too large to decode safely ({error_reason(error)}); the file "
            "is damaged or hostile"
        ) from error
    except PacganError:
        raise
    except Exception as error:  # Pillow raises many types for damaged files
        raise InputError(f"{path}: cannot be read as {kind} ({error_reason(error)})") from error
    depth = _bit_depth(array.dtype)
    samples = array[..., None] if array.ndim == 2 else array
    if palette and (samples == samples[..., :1]).all():
        samples = samples[..., :1]  # a palette of greys is a grey image
    pixels, dropped = _channels_first(samples[None], path)
    return FileImages(path, pixels, f"{kind} {depth}", (*notes, *dropped))


def _refuse_deep_colour_png(path: Path) -> None:
    """Pillow reads 16-bit colour (or grey+alpha) PNG as 8 bits per sample: refused rather than cut."""
    with open(path, "rb") as handle:
        header = handle.read(26)
    if len(header) == 26 and header[12:16] == b"IHDR" and header[24] == 16 and header[25] in (2, 4, 6):
        raise InputError(
            f"{path}: a 16-bit colour PNG, which Pillow (the PNG reader here) reads with 8 bits per colour only; "
            "save the images as 16-bit TIFF, or as grey PNG"
        )


def _read_tiff(path: Path) -> FileImages:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tiff:
            series = tiff.series[0]
            _check_image_bytes(path, tuple(int(size) for size in series.shape))
            array, axes = series.asarray(), series.axes
    except PacganError:
        raise
    except Exception as error:  # tifffile raises many types for damaged files
        raise InputError(f"{path}: cannot be read as TIFF ({error_reason(error)})") from error
    if "Y" not in axes or "X" not in axes:
        raise InputError(f"{path}: its image axes are {axes!r}; a TIFF image needs rows (Y) and columns (X)")
    # Every axis but rows, columns and samples (pages, time, depth, ...) counts frames.
    frames = [index for index, axis in enumerate(axes) if axis not in "YXS"]
    samples = [axes.index("S")] if "S" in axes else []
    array = np.transpose(array, [*frames, axes.index("Y"), axes.index("X"), *samples])
    if not samples:
        array = array[..., None]
    height, width, channels = array.shape[-3:]
    pixels, notes = _channels_first(array.reshape(-1, height, width, channels), path)
    return FileImages(path, pixels, f"TIFF {_bit_depth(array.dtype)}", notes)


def _read_dicom(path: Path) -> FileImages:
    import pydicom

    try:
        dataset = pydicom.dcmread(path)
    except Exception as error:  # pydicom raises many types for damaged files
        raise InputError(f"{path}: cannot be read as DICOM ({error_reason(error)})") from error
    if not any(name in dataset for name in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise NotAnImage(f"{path}: a DICOM file without pixel data (a report or a DICOMDIR, not an image)")
    if "ModalityLUTSequence" in dataset:
        raise InputError(
            f"{path}: uses a Modality LUT Sequence, which pacgan does not apply; export plain values"
        )
    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    if photometric.startswith("PALETTE"):
        raise InputError(f"{path}: a PALETTE COLOR image; convert it to RGB or grey first")
    rows, columns = int(dataset.Rows), int(dataset.Columns)
    frames = int(dataset.get("NumberOfFrames") or 1)
    samples = int(dataset.get("SamplesPerPixel") or 1)
    _check_image_bytes(path, (frames, samples, rows, columns))
    try:
        stored = np.asarray(dataset.pixel_array)
    except Exception as error:  # a compressed transfer syntax without its decoder, damaged data
        raise InputError(f"{path}: its DICOM pixel data cannot be decoded ({error_reason(error)})") from error
    depth = f"{dataset.BitsStored}-bit" if "BitsStored" in dataset else _bit_depth(stored.dtype)
    values = stored.astype(np.float32).reshape(frames, rows, columns, samples)
    notes = []
    slope, intercept = _rescale(dataset)
    if (slope, intercept) != (1.0, 0.0):
        values = values * np.float32(slope) + np.float32(intercept)
        notes.append(f"DICOM rescale applied (slope {slope:g}, intercept {intercept:g})")
    window = _dicom_window(dataset)
    if photometric == "MONOCHROME1":
        # Low values display bright: mirror them within the rescaled stored range, so bright means high as
        # in every other image; the file's window moves with them.
        low, high = (slope * value + intercept for value in _stored_range(dataset))
        values = np.float32(low + high) - values
        window = None if window is None else (low + high - window[0], window[1])
        notes.append("MONOCHROME1 inverted (bright = high, as displayed)")
    pixels, dropped = _channels_first(values, path)
    patient = str(dataset.get("PatientID", "") or "")
    return FileImages(path, pixels, f"DICOM {depth}", (*notes, *dropped), window=window, patient=patient)


def _stored_range(dataset: Any) -> tuple[int, int]:
    """The values BitsStored bits can hold: [0, 2^b - 1], or [-2^(b-1), 2^(b-1) - 1] when signed."""
    bits = int(dataset.get("BitsStored") or 16)
    if int(dataset.get("PixelRepresentation") or 0) == 1:
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def _shared_group_item(dataset: Any, sequence: str) -> Any:
    """The first item of `sequence` in an enhanced multi-frame file's shared functional groups, else None."""
    shared = dataset.get("SharedFunctionalGroupsSequence")
    if not shared or sequence not in shared[0] or not shared[0][sequence].value:
        return None
    return shared[0][sequence].value[0]


def _rescale(dataset: Any) -> tuple[float, float]:
    """(RescaleSlope, RescaleIntercept) from the dataset or an enhanced file's shared groups; (1, 0) if none."""
    source = dataset
    if "RescaleSlope" not in dataset:
        source = _shared_group_item(dataset, "PixelValueTransformationSequence") or dataset
    slope, intercept = source.get("RescaleSlope"), source.get("RescaleIntercept")
    return float(1.0 if slope in (None, "") else slope), float(0.0 if intercept in (None, "") else intercept)


def _dicom_window(dataset: Any) -> tuple[float, float] | None:
    """The file's first (WindowCenter, WindowWidth), from the dataset or an enhanced file's shared groups."""
    source = dataset
    if "WindowCenter" not in dataset:
        source = _shared_group_item(dataset, "FrameVOILUTSequence") or dataset
    center, width = source.get("WindowCenter"), source.get("WindowWidth")
    if center in (None, "") or width in (None, ""):
        return None
    return float(_first_value(center)), float(_first_value(width))


def _first_value(value: Any) -> Any:
    """A DICOM element may hold several values (several windows): the first one."""
    return value[0] if isinstance(value, Sequence) and not isinstance(value, str) else value
