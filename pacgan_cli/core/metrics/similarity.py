"""SSIM between random same-class image pairs, computed for many pairs at once.

`ssim` reproduces `skimage.metrics.structural_similarity` with its defaults (7x7 uniform window,
K1 = 0.01, K2 = 0.03, sample covariance, mean over the window-valid region) for a whole batch of pairs;
the published evaluation uses data range 2 for images in [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


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
    a = torch.as_tensor(np.asarray(images_a), dtype=torch.float32)
    b = torch.as_tensor(np.asarray(images_b), dtype=torch.float32)
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(
            f"ssim needs two [P, C, H, W] arrays of one shape; got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    window = window_size or window_size_for(min(a.shape[-2:]))
    with torch.inference_mode():
        return _pair_ssim(a, b, local_statistics(a, window), local_statistics(b, window), window, data_range)


def local_statistics(images: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Local mean and (sample) local variance of `images` `[N, C, H, W]` over the window-valid region.

    Computed once per image, so that an image in many pairs is filtered once.
    """
    mean = _box_mean(images, window)
    variance = (
        _box_mean(images * images, window).sub_(mean * mean).mul_(window * window / (window * window - 1))
    )
    return mean, variance


def _pair_ssim(
    a: torch.Tensor,
    b: torch.Tensor,
    statistics_a: tuple[torch.Tensor, torch.Tensor],
    statistics_b: tuple[torch.Tensor, torch.Tensor],
    window: int,
    data_range: float,
) -> np.ndarray:
    """SSIM `[P]` of pairs `a[i]`, `b[i]` from their local statistics; only the covariance is per pair.

    In place where possible: the temporaries of a batch are the memory traffic that bounds the speed.
    """
    (mean_a, var_a), (mean_b, var_b) = statistics_a, statistics_b
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    product = mean_a * mean_b
    covariance = _box_mean(a * b, window).sub_(product).mul_(2 * window * window / (window * window - 1))
    numerator = product.mul_(2).add_(c1).mul_(covariance.add_(c2))
    denominator = (mean_a * mean_a).addcmul_(mean_b, mean_b).add_(c1).mul_((var_a + var_b).add_(c2))
    return numerator.div_(denominator).double().mean(dim=(2, 3)).mean(dim=1).numpy()


def _box_mean(images: torch.Tensor, window: int) -> torch.Tensor:
    """Unpadded `window` x `window` means `[N, C, H - w + 1, W - w + 1]`: skimage averages SSIM over the
    region where its reflect-padded filter sees no padding, so only these positions matter."""
    rows = images.unfold(2, window, 1).sum(-1)
    return rows.unfold(3, window, 1).sum(-1) / (window * window)


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
    """SSIM of up to `pairs_per_class` different random pairs (a from set A, b from set B, same class)
    for each class; every pair when a class has fewer.

    The published evaluation drew 1000 pairs with replacement, which repeats pairs when a class is small
    (10 images give 45 pairs); here each pair counts once and `pairs_per_class` in the result says how
    many were used. With `same_set` (A and B are one set) an image is never paired with itself, which
    would score 1 and inflate the real-real baseline, and (i, j) is the same pair as (j, i).
    """
    rng = np.random.default_rng(seed)
    window = window_size_for(min(images_a.shape[-2:]))
    means, stds, counts, every_score = [], [], [], []
    for k in range(num_classes):
        index_a = np.flatnonzero(labels_a == k)
        index_b = index_a if same_set else np.flatnonzero(labels_b == k)
        first, second = distinct_pairs(len(index_a), len(index_b), pairs_per_class, same_set, rng)
        if len(first) == 0:
            means.append(float("nan"))
            stds.append(float("nan"))
            counts.append(0)
            continue
        picks_a, picks_b = index_a[first], index_b[second]
        scores = _class_pair_ssim(images_a, picks_a, images_b, picks_b, window, batch_size, data_range)
        means.append(float(scores.mean()))
        stds.append(float(scores.std()))
        counts.append(len(scores))
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


def _class_pair_ssim(
    images_a: np.ndarray,
    picks_a: np.ndarray,
    images_b: np.ndarray,
    picks_b: np.ndarray,
    window: int,
    batch_size: int,
    data_range: float,
) -> np.ndarray:
    """SSIM of the pairs (images_a[picks_a[i]], images_b[picks_b[i]]); each image's own local statistics are
    computed once however many pairs it is in, the cross term batch by batch."""
    with torch.inference_mode():
        sides = []
        for images, picks in ((images_a, picks_a), (images_b, picks_b)):
            unique, position = np.unique(picks, return_inverse=True)
            pixels = torch.as_tensor(np.ascontiguousarray(images[unique]), dtype=torch.float32)
            chunks = [
                local_statistics(pixels[s : s + batch_size], window)
                for s in range(0, len(unique), batch_size)
            ]
            statistics = (torch.cat([c[0] for c in chunks]), torch.cat([c[1] for c in chunks]))
            sides.append((pixels, torch.as_tensor(position), statistics))
        scores = []
        for start in range(0, len(picks_a), batch_size):
            (a, where_a, (mean_a, var_a)), (b, where_b, (mean_b, var_b)) = (
                (pixels, position[start : start + batch_size], statistics)
                for pixels, position, statistics in sides
            )
            scores.append(
                _pair_ssim(
                    a[where_a],
                    b[where_b],
                    (mean_a[where_a], var_a[where_a]),
                    (mean_b[where_b], var_b[where_b]),
                    window,
                    data_range,
                )
            )
    return np.concatenate(scores)


def distinct_pairs(
    count_a: int, count_b: int, wanted: int, same_set: bool, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Up to `wanted` different pairs (i < count_a, j < count_b), drawn without replacement; all of them
    when fewer exist. With `same_set`, i != j and each unordered pair appears once (as i > j)."""
    total = count_a * (count_a - 1) // 2 if same_set else count_a * count_b
    if wanted >= total:
        chosen = np.arange(total, dtype=np.int64)
    else:
        chosen = rng.choice(total, size=wanted, replace=False).astype(np.int64)
    if not same_set:
        return chosen // count_b, chosen % count_b
    # Pair number k = i * (i - 1) / 2 + j with 0 <= j < i: invert the triangular numbers.
    i = np.floor((1 + np.sqrt(1 + 8 * chosen.astype(np.float64))) / 2).astype(np.int64)
    i -= i * (i - 1) // 2 > chosen
    i += (i + 1) * i // 2 <= chosen
    return i, chosen - i * (i - 1) // 2
