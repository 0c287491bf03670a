"""SSIM between random same-class image pairs, computed for many pairs at once.

`ssim` reproduces `skimage.metrics.structural_similarity` with its defaults (7x7 uniform window,
K1 = 0.01, K2 = 0.03, sample covariance, mean over the window-valid region) for a whole batch of pairs;
the published evaluation uses data range 2 for images in [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

# One chunk of images or pairs ([n, C, H, W] float32): 1 MiB, so that a chunk with its few temporaries
# stays in the two cores' L2 caches (2 MiB each here) instead of streaming every pass through main memory.
CHUNK_BYTES = 2**20


@dataclass(frozen=True)
class PairScores:
    """Scores of random same-class pairs: mean and std over all pairs and per class (NaN where a class has
    no pairs)."""

    mean: float
    std: float
    mean_per_class: tuple[float, ...]
    std_per_class: tuple[float, ...]
    pairs_per_class: tuple[int, ...]

    @staticmethod
    def pooled(per_class: list[np.ndarray]) -> dict[str, Any]:
        """The fields for each class's scores (an empty array for a class without pairs)."""
        scored = [scores for scores in per_class if scores.size]
        every = np.concatenate(scored) if scored else np.empty(0)
        return {
            "mean": float(every.mean()) if every.size else float("nan"),
            "std": float(every.std()) if every.size else float("nan"),
            "mean_per_class": tuple(float(s.mean()) if s.size else float("nan") for s in per_class),
            "std_per_class": tuple(float(s.std()) if s.size else float("nan") for s in per_class),
            "pairs_per_class": tuple(len(s) for s in per_class),
        }

    def to_data(self) -> dict[str, Any]:
        """Plain data for metrics.json: the pooled mean and std, and per class mean, std and pair count."""
        per_class = zip(self.mean_per_class, self.std_per_class, self.pairs_per_class, strict=True)
        return {
            "mean": self.mean,
            "std": self.std,
            "per_class": [{"mean": m, "std": s, "pairs": n} for m, s, n in per_class],
        }


@dataclass(frozen=True)
class PairSimilarity(PairScores):
    """SSIM of random same-class pairs, with the window it used."""

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
    every = torch.arange(a.shape[0])
    with torch.inference_mode():
        first = ImageStatistics.of(a, window, data_range, first=True)
        second = ImageStatistics.of(b, window, data_range, first=False)
        return pair_scores(first, every, second, every).numpy()


@dataclass(frozen=True)
class ImageStatistics:
    """One side of the pairs: its images and what SSIM needs of each image alone, computed once however
    many pairs the image is in, so that only the cross term is left per pair.

    `pixels` [N, C, H, W] float32; `moments` [N, 2, C, h, w] over the h x w window-valid positions: the local
    mean mu, and (w²-1) var / 2 with var the local sample variance; the first side's second moment also
    carries (w²-1) c2 / 2, so that the pair formula only adds the two sides.
    """

    pixels: torch.Tensor
    moments: torch.Tensor
    window: int
    data_range: float

    @classmethod
    def of(cls, pixels: torch.Tensor, window: int, data_range: float, first: bool) -> ImageStatistics:
        count, channels, height, width = pixels.shape
        area = window * window
        moments = torch.empty(count, 2, channels, height - window + 1, width - window + 1)
        step = _chunk_length(pixels, count)
        for start in range(0, count, step):
            chunk, mean, spread = pixels[start : start + step], *moments[start : start + step].unbind(1)
            sums = _box_sum(chunk, window)
            torch.div(sums, area, out=mean)
            # sum(x²) - sum(x)² / w² cancels exactly where the image is constant; constants come after.
            torch.addcmul(_box_sum(chunk * chunk, window), mean, sums, value=-1, out=spread).mul_(0.5)
            if first:
                spread.add_(_constants(data_range)[1] * (area - 1) / 2)
        return cls(pixels, moments, window, data_range)


def pair_scores(
    first: ImageStatistics,
    where_first: torch.Tensor,
    second: ImageStatistics,
    where_second: torch.Tensor,
    batch_size: int | None = None,
) -> torch.Tensor:
    """SSIM `[P]` (float64) of the pairs (first image `where_first[i]`, second image `where_second[i]`).

    skimage's SSIM = t (2 cov + c2) / ((mu_a² + mu_b² + c1)(var_a + var_b + c2)) with t = 2 mu_a mu_b + c1
    is computed as t X / (E V) with X = sum(ab) - w² mu_a mu_b + (w²-1) c2 / 2 (= (w²-1)(2 cov + c2) / 2),
    E = (mu_a - mu_b)² + t and V the sum of the two sides' second moments (= (w²-1)(var_a + var_b + c2) / 2),
    which leaves a handful of passes over each pixel of a pair; sum(ab) - w² mu_a mu_b comes first, so that
    it is exactly 0 where both images are constant, as in float64. Pairs are taken in chunks small enough
    that a chunk's temporaries stay in the CPU caches (memory traffic, not arithmetic, bounds the speed),
    ordered by their first image so that consecutive chunks reuse it.
    """
    window, area = first.window, first.window * first.window
    c1, c2 = (torch.tensor(constant) for constant in _constants(first.data_range))
    order = torch.as_tensor(np.lexsort((where_second.numpy(), where_first.numpy())))
    where_first, where_second = where_first[order], where_second[order]
    step = _chunk_length(first.pixels, batch_size or len(order))
    scores = torch.empty(len(order), dtype=torch.float64)
    for start in range(0, len(order), step):
        i, j = where_first[start : start + step], where_second[start : start + step]
        a = first.pixels.index_select(0, i)
        cross = _box_sum(torch.mul(a, second.pixels.index_select(0, j), out=a), window)
        mean_a, spread_a = first.moments.index_select(0, i).unbind(1)
        mean_b, spread_b = second.moments.index_select(0, j).unbind(1)
        product = mean_a * mean_b
        covariance = cross.sub_(product, alpha=area).add_(c2 * (area - 1) / 2)
        luminance = torch.add(c1, product, alpha=2, out=product)
        difference = mean_a.sub_(mean_b)
        denominator = torch.addcmul(luminance, difference, difference).mul_(spread_a.add_(spread_b))
        ssim_map = covariance.mul_(luminance).div_(denominator)
        scores[start : start + step] = ssim_map.sum(dim=(1, 2, 3), dtype=torch.float64) / ssim_map[0].numel()
    return scores[torch.argsort(order)]


def _constants(data_range: float) -> tuple[float, float]:
    """skimage's c1 = (K1 L)², c2 = (K2 L)² with K1 = 0.01, K2 = 0.03 and L the data range."""
    return (0.01 * data_range) ** 2, (0.03 * data_range) ** 2


def _chunk_length(pixels: torch.Tensor, most: int) -> int:
    """How many images (or pairs) to take at once: a chunk of `CHUNK_BYTES`, at most `most`, at least one."""
    image_bytes = pixels[0].numel() * pixels.element_size() if len(pixels) else 1
    return max(1, min(most, CHUNK_BYTES // image_bytes))


def _box_sum(images: torch.Tensor, window: int) -> torch.Tensor:
    """Unpadded `window` x `window` sums `[N, C, H - w + 1, W - w + 1]` (skimage averages SSIM over the
    region where its reflect-padded filter sees no padding, so only these positions matter): a sliding sum
    down the columns, then along the rows."""
    return _sliding_sum(_sliding_sum(images, window, 2), window, 3)


def _sliding_sum(values: torch.Tensor, window: int, dim: int) -> torch.Tensor:
    """Sums of `window` neighbours along `dim` from sums of 1, 2, 4, ... neighbours (a window of 7 = 4 + 2 + 1
    takes 4 vectorised additions instead of 6, each over contiguous rows)."""
    length = values.shape[dim] - window + 1
    spans = {1: values}
    span = 1
    while span * 2 <= window:
        shorter = spans[span]
        size = shorter.shape[dim] - span
        spans[span * 2] = shorter.narrow(dim, 0, size) + shorter.narrow(dim, span, size)
        span *= 2
    terms, offset = [], 0
    for span in sorted(spans, reverse=True):
        if window & span:
            terms.append(spans[span].narrow(dim, offset, length))
            offset += span
    if len(terms) == 1:
        return terms[0]
    total = terms[0] + terms[1]
    for term in terms[2:]:
        total.add_(term)
    return total


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
    per_class = []
    for k in range(num_classes):
        index_a = np.flatnonzero(labels_a == k)
        index_b = index_a if same_set else np.flatnonzero(labels_b == k)
        first, second = distinct_pairs(len(index_a), len(index_b), pairs_per_class, same_set, rng)
        per_class.append(
            _class_pair_ssim(
                images_a, index_a[first], images_b, index_b[second], window, batch_size, data_range
            )
            if len(first)
            else np.empty(0)
        )
    return PairSimilarity(**PairScores.pooled(per_class), window_size=window)


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
    computed once however many pairs it is in, the cross term chunk by chunk."""
    with torch.inference_mode():
        sides = []
        for images, picks, first in ((images_a, picks_a, True), (images_b, picks_b, False)):
            unique, position = np.unique(picks, return_inverse=True)
            pixels = torch.as_tensor(np.ascontiguousarray(images[unique]), dtype=torch.float32)
            statistics = ImageStatistics.of(pixels, window, data_range, first)
            sides.append((statistics, torch.as_tensor(position.reshape(-1))))
        (first_side, where_a), (second_side, where_b) = sides
        return pair_scores(first_side, where_a, second_side, where_b, batch_size).numpy()


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
