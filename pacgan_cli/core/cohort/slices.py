"""From registered 3D volumes to one stack of 2D axial slices, as the published preprocessing did.

The published data were volumes registered to MNI152 at 1 mm, brought to a 256^3 cube, of which the axial
slice 127 was kept; the slices were concatenated into one `[256, 256, 1, N]` NIfTI file together with a text
list of the source volumes in stack order. Registration itself is outside this tool.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pacgan_cli.core.errors import ConfigError, InputError, printable_path
from pacgan_cli.core.io.atomic import ensure_can_write, write_text_atomic
from pacgan_cli.core.io.nifti import is_nifti_path, nifti_stem, read_volume, write_stack
from pacgan_cli.core.progress import Reporter, SilentReporter

DEFAULT_CUBE_SIZE = 256
# A file name that is not valid UTF-8 is written to and read from a source list as its bytes.
LIST_ERRORS = "surrogateescape"


@dataclass(frozen=True)
class SliceOptions:
    """How each volume becomes images: the cube side and the axial slice indices taken from it.

    Without indices, the slice just below the cube's middle is taken: 127 for 256, as published.
    """

    cube_size: int = DEFAULT_CUBE_SIZE
    indices: tuple[int, ...] | None = None
    recursive: bool = False

    @property
    def slice_indices(self) -> tuple[int, ...]:
        return self.indices if self.indices is not None else (self.cube_size // 2 - 1,)


@dataclass(frozen=True)
class SlicesResult:
    """What `extract_slices` wrote and what it had to adapt on the way."""

    stack_path: Path
    list_path: Path
    volume_count: int
    image_count: int
    cube_size: int
    indices: tuple[int, ...]
    skipped: tuple[Path, ...]
    shapes: dict[tuple[int, ...], int]
    warnings: tuple[str, ...]

    def summary_lines(self) -> list[str]:
        lines = [
            f"{self.image_count} images ({self.cube_size}x{self.cube_size}) from {self.volume_count} volumes, "
            f"axial slice(s) {', '.join(str(i) for i in self.indices)}",
            f"stack: {self.stack_path}",
            f"source list: {self.list_path}",
        ]
        cube = (self.cube_size,) * 3
        for shape, count in sorted(self.shapes.items()):
            if shape != cube:
                shown = "x".join(str(s) for s in shape)
                lines.append(
                    f"{count} volume(s) of {shown} were padded/cropped (centred) to {self.cube_size}^3"
                )
        if self.skipped:
            names = ", ".join(p.name for p in self.skipped[:3]) + (" ..." if len(self.skipped) > 3 else "")
            lines.append(f"skipped {len(self.skipped)} file(s) that are not NIfTI: {names}")
        lines.extend(f"warning: {text}" for text in self.warnings)
        return lines


def extract_slices(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    list_path: str | os.PathLike[str] | None = None,
    options: SliceOptions | None = None,
    force: bool = False,
    reporter: Reporter | None = None,
) -> SlicesResult:
    """Take axial slices of every volume in `source` and write them as one stack plus a source list.

    `source` is a folder of `.nii`/`.nii.gz` volumes (sorted by path; other files are skipped and reported)
    or a text file with one volume path per line. Each volume (3D, or 4D with one frame) is padded with zeros
    or cropped, centred, to a cube of `options.cube_size`; with several indices, one volume's slices are
    consecutive in the stack. The stack is `[N, 1, S, S]` with raw intensities (scaling happens in `split`),
    and the list (default: `<output stem>_list.txt`) has one source path per image in stack order.
    """
    options = options or SliceOptions()
    reporter = reporter or SilentReporter()
    _check_options(options)
    output = Path(output)
    if not is_nifti_path(output):
        raise ConfigError(f"{output}: the stack must be written as .nii or .nii.gz")
    list_path = Path(list_path) if list_path is not None else default_list_path(output)
    ensure_can_write(output, list_path, force=force)
    volumes, skipped = find_volumes(source, recursive=options.recursive)
    _check_listable(volumes)

    images: list[np.ndarray] = []
    listed: list[str] = []
    shapes: Counter[tuple[int, ...]] = Counter()
    warnings: list[str] = []
    reporter.stage_started("slices", total=len(volumes))
    for path in volumes:
        volume, affine = read_volume(path)
        shapes[tuple(int(s) for s in volume.shape)] += 1
        if (warning := _orientation_warning(path, affine)) is not None:
            warnings.append(warning)
        for index in options.slice_indices:
            images.append(axial_slice(volume, index, options.cube_size, path).T)
            listed.append(str(path))
        reporter.advance()
    reporter.stage_finished()

    write_stack(output, np.stack(images)[:, None], force=force)
    write_text_atomic(list_path, "".join(f"{line}\n" for line in listed), errors=LIST_ERRORS)
    return SlicesResult(
        stack_path=output,
        list_path=list_path,
        volume_count=len(volumes),
        image_count=len(images),
        cube_size=options.cube_size,
        indices=options.slice_indices,
        skipped=tuple(skipped),
        shapes=dict(shapes),
        warnings=tuple(warnings),
    )


def find_volumes(source: str | os.PathLike[str], recursive: bool = False) -> tuple[list[Path], list[Path]]:
    """The volumes to read, in stack order, and the files that were passed over because they are not NIfTI.

    Relative paths in a list file are taken relative to the list's folder, or to the working folder when
    they exist only there. Blank lines and lines starting with `#` are ignored.
    """
    source = Path(source)
    if source.is_dir():
        pattern = "**/*" if recursive else "*"
        files = sorted(p for p in source.glob(pattern) if p.is_file() and not p.name.startswith("."))
        volumes = [p for p in files if is_nifti_path(p)]
        skipped = [p for p in files if not is_nifti_path(p)]
        if not volumes:
            hint = "" if recursive else " (add --recursive to look in subfolders)"
            raise InputError(f"{source}: the folder holds no .nii or .nii.gz volumes{hint}")
        return volumes, skipped
    if not source.is_file():
        raise InputError(f"{source}: no such folder or list file")
    if is_nifti_path(source):
        raise InputError(
            f"{source}: give a folder of volumes or a text file listing them, not a single volume"
        )
    volumes = []
    for number, line in enumerate(
        source.read_text(encoding="utf-8", errors=LIST_ERRORS).splitlines(), start=1
    ):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        path = resolve_listed(Path(entry), source.parent)
        if not is_nifti_path(path):
            raise InputError(f"{source}: line {number} names {entry}, which is not a .nii or .nii.gz file")
        if not path.is_file():
            raise InputError(f"{source}: line {number} names {entry}, which does not exist")
        volumes.append(path)
    if not volumes:
        raise InputError(f"{source}: the list names no volumes (one path per line expected)")
    return volumes, []


def axial_slice(
    volume: np.ndarray, index: int, cube_size: int, path: str | os.PathLike[str] = "volume"
) -> np.ndarray:
    """Slice `index` along the third voxel axis of `volume` after centring it in a `cube_size`^3 cube.

    Padding adds zeros and cropping removes voxels evenly from both ends (an odd voxel at the end).
    Returns `[cube_size, cube_size]` indexed (x, y) like the volume. Only the one slice is built.
    """
    depth = volume.shape[2]
    source_index = index + _centring_offset(depth, cube_size)
    if not 0 <= source_index < depth:
        raise InputError(
            f"{path}: axial slice {index} of the {cube_size}^3 cube lies in the padding of this volume "
            f"(shape {'x'.join(str(s) for s in volume.shape)}); choose another --slice or --cube-size"
        )
    plane = volume[:, :, source_index]
    for axis in (0, 1):
        plane = centre_axis(plane, axis, cube_size)
    return plane


def centre_axis(array: np.ndarray, axis: int, size: int, fill: float = 0.0) -> np.ndarray:
    """Pad `array` with `fill`, or crop it, along `axis` to `size`, centred: both ends lose or gain alike,
    an odd pixel at the end."""
    length = array.shape[axis]
    offset = _centring_offset(length, size)
    if length >= size:
        return np.take(array, np.arange(offset, offset + size), axis=axis)
    widths = [(0, 0)] * array.ndim
    widths[axis] = (-offset, size - length + offset)
    return np.pad(array, widths, constant_values=fill)


def parse_slice_indices(text: str) -> tuple[int, ...]:
    """`127` -> (127,); `125-129` -> 125..129 inclusive; `120,127,134` -> those three, in that order."""
    try:
        indices: list[int] = []
        for part in text.split(","):
            part = part.strip()
            if "-" in part[1:]:
                start, stop = (int(v) for v in part.split("-", 1))
                if stop < start:
                    raise ValueError
                indices.extend(range(start, stop + 1))
            else:
                indices.append(int(part))
    except ValueError:
        raise ConfigError(
            f"--slice must be an index (127), an inclusive range (125-129) or a list (120,127,134); got {text!r}"
        ) from None
    return tuple(indices)


def default_list_path(output: Path) -> Path:
    """`data/all_slices.nii.gz` -> `data/all_slices_list.txt`."""
    return output.with_name(f"{nifti_stem(output)}_list.txt")


def _check_listable(volumes: list[Path]) -> None:
    """Refuse a volume whose path would not read back from the source list as written (one path per line,
    stripped, `#` starts a comment): a line break in a file name gave the later images the wrong source."""
    for path in volumes:
        text = str(path)
        if text.splitlines() != [text] or text.strip() != text or text.startswith("#"):
            raise InputError(
                f"{printable_path(path)}: the source list (one path per line) cannot hold this name, which has "
                "a line break, blanks at an end or a leading #; rename the file"
            )


def _check_options(options: SliceOptions) -> None:
    if options.cube_size < 1:
        raise ConfigError(f"--cube-size must be positive; got {options.cube_size}")
    indices = options.slice_indices
    if not indices:
        raise ConfigError("--slice names no slice index")
    outside = [i for i in indices if not 0 <= i < options.cube_size]
    if outside:
        raise ConfigError(f"slice index {outside[0]} is outside the cube (0..{options.cube_size - 1})")
    if len(set(indices)) != len(indices):
        raise ConfigError("--slice names the same index twice")


def _centring_offset(length: int, size: int) -> int:
    """Index in the original axis of index 0 of the centred axis (negative when padding)."""
    return (length - size) // 2 if length >= size else -((size - length) // 2)


def _orientation_warning(path: Path, affine: np.ndarray) -> str | None:
    """A volume whose third voxel axis does not run foot-head gives sagittal or coronal 'axial' slices."""
    world_axis = int(np.argmax(np.abs(affine[:3, 2])))
    if world_axis == 2:
        return None
    direction = "left-right" if world_axis == 0 else "front-back"
    return f"{path}: the third voxel axis runs {direction}, so its slices are not axial; reorient it first"


def resolve_listed(entry: Path, list_folder: Path) -> Path:
    """A path named in a list file: relative to the list's folder, or to the working folder when it
    exists only there."""
    if entry.is_absolute():
        return entry
    beside_list = list_folder / entry
    if beside_list.exists() or not entry.exists():
        return beside_list
    return entry
