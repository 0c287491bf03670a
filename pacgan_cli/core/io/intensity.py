"""The one intensity rule: every image fed to a network or a metric is finite and within [-1, 1].

The networks were trained on images scaled as the published preprocessing does, per image
`x -> (x - m/2) / (m/2)` with `m` the image's own maximum. Raw scanner values (0..270, say) are not
an error to the arithmetic: they give confident nonsense (every scan one class, SSIM near 0), so they
are refused with the command that applies the published scaling (`pacgan scale`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pacgan_cli.core.errors import InputError
from pacgan_cli.core.io.atomic import ensure_can_write
from pacgan_cli.core.io.nifti import is_nifti_path, nifti_stem, read_images, read_stack, write_stack

UNIT_RANGE_TOLERANCE = 1e-3  # float rounding of stored stacks and of resizing, nothing more


def check_unit_range(images: np.ndarray, source: str | os.PathLike[str], fix: str | None = None) -> None:
    """Refuse images that are not finite or leave [-1, 1] (beyond `UNIT_RANGE_TOLERANCE`), in one line.

    `source` names the images in the message; `fix` replaces the default advice (scale the stack).
    """
    finite = np.isfinite(images)
    if not finite.all():
        bad = int(images.size - finite.sum())
        raise InputError(f"{source}: {bad} pixels are NaN or infinite; fix or remove those images first")
    low, high = float(images.min()), float(images.max())
    if low < -1 - UNIT_RANGE_TOLERANCE or high > 1 + UNIT_RANGE_TOLERANCE:
        raise InputError(
            f"{source}: intensities span [{low:.4g}, {high:.4g}] but the networks and metrics need [-1, 1]; "
            + (fix or scaling_advice(source))
        )


def scaling_advice(source: str | os.PathLike[str]) -> str:
    """The command that scales a stack as the training data were scaled."""
    if is_nifti_path(source):
        scaled = Path(source).with_name(f"{nifti_stem(source)}_scaled.nii.gz")
        return f"scale it as the training data were: pacgan scale {source} -o {scaled}"
    return "scale the stack as the training data were: pacgan scale STACK -o SCALED.nii.gz"


def read_unit_stack(path: str | os.PathLike[str], expected_size: int | None = None) -> np.ndarray:
    """`read_stack` for images a network or a metric will see: `[N, C, H, W]` float32, checked in [-1, 1]."""
    images = read_stack(path, expected_size=expected_size)
    check_unit_range(images, path)
    return images


def scale_to_unit_range(images: np.ndarray, source: str | os.PathLike[str] = "stack") -> np.ndarray:
    """Per image `x -> (x - m/2) / (m/2)`, m the image's maximum, so [0, m] maps onto [-1, 1] (published).

    Meant for non-negative intensities such as MRI; an image with negative values is refused (it would
    leave [-1, 1]). An all-zero image becomes -1 everywhere, the value of background.
    """
    flat = images.reshape(len(images), -1)
    negative = np.flatnonzero(flat.min(axis=1) < 0)
    if len(negative):
        raise InputError(
            f"{source}: image {negative[0]} has negative values, so scaling by its maximum would leave "
            "[-1, 1]; a stack already in [-1, 1] needs no scaling (split: --no-scale)"
        )
    half = flat.max(axis=1)[:, None, None, None] / 2
    safe = np.where(half > 0, half, 1.0)
    return np.where(half > 0, (images - half) / safe, -1.0).astype(np.float32)


@dataclass(frozen=True)
class ScaleResult:
    """What `scale_stack` wrote, and the intensity span before and after."""

    source: Path
    output: Path
    image_count: int
    before: tuple[float, float]
    after: tuple[float, float]

    def summary_lines(self) -> list[str]:
        return [
            f"{self.image_count} images from {self.source}: intensities [{self.before[0]:.4g}, {self.before[1]:.4g}]"
            f" -> [{self.after[0]:.4g}, {self.after[1]:.4g}]",
            f"wrote {self.output}",
        ]


def scale_stack(
    source: str | os.PathLike[str], output: str | os.PathLike[str], force: bool = False
) -> ScaleResult:
    """Write `source` scaled per image to [-1, 1] exactly as the published preprocessing (and `split`) did,
    so that new scans reach `classify` or `evaluate` as the training images reached the networks. A single
    2D NIfTI image (`[W, H]`) is taken too, and written as a stack of one."""
    source, output = Path(source), Path(output)
    ensure_can_write(output, force=force)
    if output.exists() and output.resolve() == source.resolve():
        raise InputError(f"{output}: is the input stack; write the scaled stack to another file")
    images = read_images(source)
    scaled = scale_to_unit_range(images, source)
    write_stack(output, scaled, force=force)
    return ScaleResult(
        source=source,
        output=output,
        image_count=len(images),
        before=(float(images.min()), float(images.max())),
        after=(float(scaled.min()), float(scaled.max())),
    )
