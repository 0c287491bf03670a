"""SSIM between random same-class image pairs, computed for many pairs at once.

`ssim` reproduces `skimage.metrics.structural_similarity` with its defaults (7x7 uniform window,
K1 = 0.01, K2 = 0.03, sample covariance, mean over the window-valid region) for a whole batch of pairs;
the published evaluation uses data range 2 for images in [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter


@dataclass(frozen=True)
class PairSimilarity:
    """SSIM of random same-class pairs: mean and std per class and over all pairs (NaN where no pairs)."""

    mean: float
    std: float
    mean_per_class: tuple[float, ...]
    std_per_class: tuple[float, ...]
    pairs_per_class: tuple[int, ...]
    window_size: int


def window_size_for(size: int, preferred: int = 7) -> int:
    """The largest odd window up to `preferred` that fits an image of side `size` (at least 3)."""
    window = min(preferred, size if size % 2 else size - 1)
    return max(window, 3)


def ssim(
    images_a: np.ndarray, images_b: np.ndarray, data_range: float = 2.0, window_size: int | None = None
) -> np.ndarray:
    """SSIM of each pair `images_a[i]`, `images_b[i]` (`[P, C, H, W]`), averaged over channels -> `[P]`."""
    a = np.asarray(images_a, dtype=np.float64)
    b = np.asarray(images_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"ssim needs two [P, C, H, W] arrays of one shape; got {a.shape} and {b.shape}")
    pairs, channels, height, width = a.shape
    window = window_size or window_size_for(min(height, width))
    a = a.reshape(pairs * channels, height, width)
    b = b.reshape(pairs * channels, height, width)

    def local_mean(x: np.ndarray) -> np.ndarray:
        return uniform_filter(x, size=(1, window, window), mode="reflect")

    covariance_norm = window * window / (window * window - 1)
    mean_a, mean_b = local_mean(a), local_mean(b)
    var_a = covariance_norm * (local_mean(a * a) - mean_a * mean_a)
    var_b = covariance_norm * (local_mean(b * b) - mean_b * mean_b)
    cov_ab = covariance_norm * (local_mean(a * b) - mean_a * mean_b)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    similarity = ((2 * mean_a * mean_b + c1) * (2 * cov_ab + c2)) / (
        (mean_a * mean_a + mean_b * mean_b + c1) * (var_a + var_b + c2)
    )
    pad = (window - 1) // 2
    valid = similarity[:, pad : height - pad, pad : width - pad]
    return valid.mean(axis=(1, 2)).reshape(pairs, channels).mean(axis=1)


def same_class_pair_ssim(
    images_a: np.ndarray,
    labels_a: np.ndarray,
    images_b: np.ndarray,
    labels_b: np.ndarray,
    num_classes: int,
    *,
    pairs_per_class: int = 1000,
    seed: int = 0,
    same_set: bool = False,
    batch_size: int = 256,
    data_range: float = 2.0,
) -> PairSimilarity:
    """SSIM of `pairs_per_class` random pairs (a from set A, b from set B, same class) for each class.

    Pairs are drawn with replacement, as published; with `same_set` (A and B are one set) an image is
    never paired with itself, which would score 1 and inflate the real-real baseline.
    """
    rng = np.random.default_rng(seed)
    window = window_size_for(min(images_a.shape[-2:]))
    means, stds, counts, every_score = [], [], [], []
    for k in range(num_classes):
        index_a = np.flatnonzero(labels_a == k)
        index_b = np.flatnonzero(labels_b == k)
        if len(index_a) == 0 or len(index_b) == 0 or (same_set and len(index_a) < 2):
            means.append(float("nan"))
            stds.append(float("nan"))
            counts.append(0)
            continue
        first = rng.integers(0, len(index_a), pairs_per_class)
        if same_set:
            offset = rng.integers(1, len(index_a), pairs_per_class)
            picks_a, picks_b = index_a[first], index_a[(first + offset) % len(index_a)]
        else:
            picks_a, picks_b = index_a[first], index_b[rng.integers(0, len(index_b), pairs_per_class)]
        scores = np.concatenate(
            [
                ssim(
                    images_a[picks_a[s : s + batch_size]],
                    images_b[picks_b[s : s + batch_size]],
                    data_range,
                    window,
                )
                for s in range(0, pairs_per_class, batch_size)
            ]
        )
        means.append(float(scores.mean()))
        stds.append(float(scores.std()))
        counts.append(pairs_per_class)
        every_score.append(scores)
    pooled = np.concatenate(every_score) if every_score else np.array([np.nan])
    return PairSimilarity(
        mean=float(pooled.mean()),
        std=float(pooled.std()),
        mean_per_class=tuple(means),
        std_per_class=tuple(stds),
        pairs_per_class=tuple(counts),
        window_size=window,
    )
