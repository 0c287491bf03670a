"""Every smaller power-of-two copy of an image stack, the per-stage files that progressive training reads.

Resizing follows the published preprocessing: `skimage.transform.resize(order=1, preserve_range=True)` with
skimage's other defaults, each size computed directly from the largest stack (not from the next size up).
Those defaults switch Gaussian anti-aliasing on whenever an image shrinks (sigma = (factor - 1) / 2 per
axis, mirrored edges). We keep it: it is what produced the published training files, and it removes the
aliasing a plain bilinear 256 -> 4 reduction would cause. The published script resized the whole
`[W, H, C, N]` array in one call; along C and N the factor is 1, so the sigma there is 0 and sampling hits
whole indices, which makes resizing one image at a time give the same numbers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from skimage.transform import resize

from pacgan_cli.core.errors import InputError
from pacgan_cli.core.io.atomic import ensure_can_write
from pacgan_cli.core.io.nifti import read_stack, write_stack
from pacgan_cli.core.progress import Reporter, SilentReporter
from pacgan_cli.core.stages import SMALLEST_SIZE, is_stage_size, stage_file_name


@dataclass(frozen=True)
class PyramidResult:
    """What `build_pyramid` wrote: one stack per size, largest first."""

    source: Path
    image_count: int
    written: dict[int, Path] = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        sizes = ", ".join(str(size) for size in self.written)
        folder = next(iter(self.written.values())).parent if self.written else self.source.parent
        return [f"{self.image_count} images from {self.source}", f"wrote sizes {sizes} into {folder}"]


def build_pyramid(
    source: str | os.PathLike[str],
    output_directory: str | os.PathLike[str] | None = None,
    min_size: int = SMALLEST_SIZE,
    force: bool = False,
    reporter: Reporter | None = None,
) -> PyramidResult:
    """Write `Real{S}x{S}.nii.gz` for every power of two S from the source's size down to `min_size`.

    The files go into `output_directory` (default: the source's folder). The full-size file is written too
    unless the source already is that file, so the folder ends up complete for `pacgan train`.
    Nothing is written if any target exists and `force` is off.
    """
    source = Path(source)
    folder = Path(output_directory) if output_directory is not None else source.parent
    images = read_stack(source)
    size = _square_size(images, source)
    sizes = pyramid_sizes(size, min_size)
    targets = {s: folder / stage_file_name(s) for s in sizes}
    if _same_file(targets[size], source):
        del targets[size]
    ensure_can_write(*targets.values(), force=force)
    resized = resize_pyramid(images, [s for s in sizes if s in targets], reporter)
    written = {s: write_stack(targets[s], resized[s], force=force) for s in targets}
    return PyramidResult(source=source, image_count=len(images), written=written)


def pyramid_sizes(max_size: int, min_size: int = SMALLEST_SIZE) -> list[int]:
    """Sizes from `max_size` down to `min_size`, halving each time; both must be powers of two >= 4."""
    for name, value in (("image size", max_size), ("smallest size", min_size)):
        if not is_stage_size(value):
            raise InputError(
                f"{name} {value} is not a power of two of at least 4; progressive training needs 4, 8, 16, ..."
            )
    if min_size > max_size:
        raise InputError(f"smallest size {min_size} is larger than the image size {max_size}")
    sizes = [max_size]
    while sizes[-1] > min_size:
        sizes.append(sizes[-1] // 2)
    return sizes


def resize_pyramid(
    images: np.ndarray, sizes: list[int], reporter: Reporter | None = None, stage_name: str = "pyramid"
) -> dict[int, np.ndarray]:
    """Resize `[N, C, H, W]` images to each size; a size equal to the input's returns the input unchanged."""
    reporter = reporter or SilentReporter()
    resized: dict[int, np.ndarray] = {}
    smaller = [s for s in sizes if s != images.shape[-1]]
    if smaller:
        reporter.stage_started(stage_name, total=len(smaller))
    for size in sizes:
        if size == images.shape[-1]:
            resized[size] = images
            continue
        resized[size] = resize_stack(images, size)
        reporter.advance()
    if smaller:
        reporter.stage_finished()
    return resized


def resize_stack(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of `[N, C, H, W]` float32 images to `[N, C, size, size]`, one image at a time."""
    count, channels = images.shape[:2]
    result = np.empty((count, channels, size, size), dtype=np.float32)
    for index in range(count):
        image = np.moveaxis(images[index], 0, -1)
        shrunk = resize(image, (size, size, channels), order=1, preserve_range=True)
        result[index] = np.moveaxis(shrunk, -1, 0)
    return result


def _square_size(images: np.ndarray, source: Path) -> int:
    height, width = images.shape[-2:]
    if height != width:
        raise InputError(f"{source}: images are {width}x{height}; the pyramid needs square images")
    return int(width)


def _same_file(target: Path, source: Path) -> bool:
    return target.exists() and target.resolve() == source.resolve()
