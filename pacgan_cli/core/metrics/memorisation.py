"""Does the generator copy its training images? Nearest-neighbour distances, synthetic vs real.

For every synthetic image: the distance to its nearest training image. The yardstick: the same distance
for real images that were not trained on (held-out to training), or, without held-out images, each
training image's nearest *other* training image. A generator that produces new images should sit in that
range; one that memorises has synthetic images much closer to the training set than real images ever are.
Distance: root-mean-square pixel difference, in image units (images in [-1, 1], so 0..2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class MemorisationReport:
    """Nearest-training-image distances of synthetic images against a real-image baseline.

    `flagged`: synthetic images closer to the training set than the `quantile` of the baseline distances
    (expected fraction `quantile` for a generator whose images are as new as held-out real ones).
    `copies`: synthetic images within `copy_tolerance` of a training image (near-exact copies).
    """

    synthetic_distances: np.ndarray  # [N]
    synthetic_nearest: np.ndarray  # [N] index into the training images
    baseline_distances: np.ndarray  # [M]
    baseline: str  # "held-out" or "leave-one-out"
    quantile: float
    threshold: float
    copy_tolerance: float
    flagged: np.ndarray  # indices of synthetic images below `threshold`
    copies: np.ndarray  # indices of synthetic images within `copy_tolerance`

    def closest(self, count: int) -> np.ndarray:
        """Indices of the `count` synthetic images nearest to a training image, nearest first."""
        return np.argsort(self.synthetic_distances, kind="stable")[:count]

    def to_data(self) -> dict[str, object]:
        def summary(values: np.ndarray) -> dict[str, float]:
            return {
                "min": float(values.min()),
                "p05": float(np.quantile(values, 0.05)),
                "median": float(np.median(values)),
                "mean": float(values.mean()),
            }

        return {
            "distance": "root-mean-square pixel difference (images in [-1, 1])",
            "baseline": self.baseline,
            "synthetic_to_training": summary(self.synthetic_distances),
            "real_baseline": summary(self.baseline_distances),
            "quantile": self.quantile,
            "threshold": self.threshold,
            "flagged_fraction": float(len(self.flagged) / len(self.synthetic_distances)),
            "flagged_count": len(self.flagged),
            "copy_tolerance": self.copy_tolerance,
            "copies": [int(i) for i in self.copies],
        }


def nearest_distances(
    queries: np.ndarray, references: np.ndarray, *, exclude_same_index: bool = False, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """For each query image, the RMS distance to its nearest reference image and that image's index.

    `queries` `[N, ...]`, `references` `[M, ...]` of one image shape. With `exclude_same_index` (queries and
    references are one set), an image is not its own neighbour. Float64, in batches of queries.
    """
    flat_references = torch.from_numpy(np.asarray(references, dtype=np.float64).reshape(len(references), -1))
    pixels = flat_references.shape[1]
    reference_norms = flat_references.square().sum(dim=1)
    distances = np.empty(len(queries))
    nearest = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), batch_size):
        batch = np.asarray(queries[start : start + batch_size], dtype=np.float64)
        flat = torch.from_numpy(batch.reshape(len(batch), -1))
        squared = flat.square().sum(dim=1, keepdim=True) + reference_norms - 2 * flat @ flat_references.T
        if exclude_same_index:
            rows = torch.arange(len(batch))
            squared[rows, rows + start] = float("inf")
        best, index = squared.clamp_min(0).min(dim=1)
        distances[start : start + len(batch)] = (best / pixels).sqrt().numpy()
        nearest[start : start + len(batch)] = index.numpy()
    return distances, nearest


def memorisation_check(
    synthetic: np.ndarray,
    training: np.ndarray,
    held_out: np.ndarray | None = None,
    *,
    quantile: float = 0.05,
    copy_tolerance: float = 0.02,
) -> MemorisationReport:
    """Compare synthetic-to-training nearest distances with the real baseline (see the module docstring)."""
    synthetic_distances, synthetic_nearest = nearest_distances(synthetic, training)
    if held_out is not None and len(held_out) > 0:
        baseline_distances, _ = nearest_distances(held_out, training)
        baseline = "held-out"
    else:
        if len(training) < 2:
            raise ValueError("the memorisation check needs at least 2 training images")
        baseline_distances, _ = nearest_distances(training, training, exclude_same_index=True)
        baseline = "leave-one-out"
    threshold = float(np.quantile(baseline_distances, quantile))
    return MemorisationReport(
        synthetic_distances=synthetic_distances,
        synthetic_nearest=synthetic_nearest,
        baseline_distances=baseline_distances,
        baseline=baseline,
        quantile=quantile,
        threshold=threshold,
        copy_tolerance=copy_tolerance,
        flagged=np.flatnonzero(synthetic_distances < threshold),
        copies=np.flatnonzero(synthetic_distances <= copy_tolerance),
    )
