"""Systematic pixel artifacts: a place where the synthetic images agree with each other but not with any real image.

A generator can put the same wrong value at one place of every image (a bright corner pixel, a line along an
edge) when the critic hardly looks there: the zero padding of the convolutions leaves a corner pixel far
fewer paths through the critic than an inner one. Whole-image metrics (FID, SSIM) barely move for one pixel.
This check compares, pixel by pixel, the mean synthetic image with the range of the real images: a mean
that lies outside every real value by more than a tolerance is an artifact, whatever causes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

SHOWN_PIXELS = 20


@dataclass(frozen=True)
class ArtifactReport:
    """Per-pixel statistics `[C, H, W]` of the synthetic and the real images, and the pixels flagged."""

    synthetic_mean: np.ndarray
    real_mean: np.ndarray
    real_low: np.ndarray  # the smallest value any real image has at each pixel
    real_high: np.ndarray  # the largest
    excess: np.ndarray  # how far the synthetic mean lies outside [real_low, real_high]; 0 inside
    tolerance: float
    flagged: np.ndarray  # [F, 3] (channel, row, column) with excess > tolerance, largest excess first
    real_count: int

    def to_data(self) -> dict[str, Any]:
        return {
            "tolerance": self.tolerance,
            "real_images": self.real_count,
            "flagged_count": len(self.flagged),
            "max_excess": float(self.excess.max()),
            "pixels": [self.pixel_data(index) for index in range(min(len(self.flagged), SHOWN_PIXELS))],
        }

    def pixel_data(self, index: int) -> dict[str, Any]:
        """One flagged pixel: tensor position (row, column) and the NIfTI voxel (x, y) = (column, row)."""
        channel, row, column = (int(v) for v in self.flagged[index])
        at = (channel, row, column)
        return {
            "channel": channel,
            "row": row,
            "column": column,
            "nifti_x": column,
            "nifti_y": row,
            "synthetic_mean": float(self.synthetic_mean[at]),
            "real_mean": float(self.real_mean[at]),
            "real_min": float(self.real_low[at]),
            "real_max": float(self.real_high[at]),
        }


def pixel_artifacts(synthetic: np.ndarray, real: np.ndarray, tolerance: float = 0.1) -> ArtifactReport:
    """Flag the pixels where the mean of `synthetic` `[N, C, H, W]` lies more than `tolerance` outside the
    range of `real` `[M, C, H, W]` (images in [-1, 1]); float64 statistics."""
    synthetic_mean = np.asarray(synthetic, dtype=np.float64).mean(axis=0)
    real = np.asarray(real, dtype=np.float64)
    low, high = real.min(axis=0), real.max(axis=0)
    excess = np.maximum(low - synthetic_mean, 0) + np.maximum(synthetic_mean - high, 0)
    positions = np.argwhere(excess > tolerance)
    order = np.argsort(-excess[tuple(positions.T)], kind="stable")
    return ArtifactReport(
        synthetic_mean=synthetic_mean,
        real_mean=real.mean(axis=0),
        real_low=low,
        real_high=high,
        excess=excess,
        tolerance=tolerance,
        flagged=positions[order].reshape(-1, 3),
        real_count=len(real),
    )
