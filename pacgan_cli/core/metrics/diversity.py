"""Diversity as the mean MS-SSIM of random pairs of different images of one class (Odena et al. 2017).

MS-SSIM compares two images at several scales, halving the resolution between them; two images of one
class from a generator that varies its output little score near 1. The computation is torchmetrics'
`multiscale_structural_similarity_index_measure` (Gaussian window, data range 2 for images in [-1, 1],
negative similarity at a scale counted as 0 so that no pair gives NaN). Its five standard scales need
images of about 160 px or more; `ms_ssim_scales` picks how many fit a smaller image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pacgan_cli.core.metrics.similarity import PairScores, distinct_pairs

# The exponents of the five scales, finest first (Wang et al. 2003; torchmetrics' defaults).
STANDARD_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
STANDARD_WINDOW = 11  # pixels, for the standard Gaussian of sigma 1.5
STANDARD_SIGMA = 1.5
PIXELS_PER_BATCH = 2**21  # pairs are compared in batches of about this many pixels per side


@dataclass(frozen=True)
class MsSsimScales:
    """How MS-SSIM is computed for one image size: scale count, Gaussian window and sigma, exponents."""

    scales: int
    window: int
    sigma: float

    @property
    def weights(self) -> tuple[float, ...]:
        """The first `scales` standard exponents, renormalised to sum 1 (so identical images score 1)."""
        chosen = STANDARD_WEIGHTS[: self.scales]
        return tuple(weight / sum(chosen) for weight in chosen)


def ms_ssim_scales(size: int) -> MsSsimScales:
    """As many of the five standard scales as keep the coarsest one at least 11 px wide (the standard
    window) and pass torchmetrics' own size check: 5 from 176 px, 4 from 99, 3 from 44, 2 from 22, else 1.
    Below 11 px no standard window fits: one scale with the largest odd window that does, sigma scaled
    with it (1.5 * window / 11)."""
    if size < 3:
        raise ValueError(f"MS-SSIM needs images of at least 3x3 pixels; got {size}x{size}")
    for scales in range(len(STANDARD_WEIGHTS), 0, -1):
        coarsest = size // 2 ** (scales - 1)
        torchmetrics_fits = size // max(1, scales - 1) ** 2 > STANDARD_WINDOW - 1
        if coarsest >= STANDARD_WINDOW and torchmetrics_fits:
            return MsSsimScales(scales, STANDARD_WINDOW, STANDARD_SIGMA)
    window = size if size % 2 else size - 1
    return MsSsimScales(1, window, STANDARD_SIGMA * window / STANDARD_WINDOW)


def ms_ssim(
    images_a: np.ndarray, images_b: np.ndarray, scales: MsSsimScales | None = None, data_range: float = 2.0
) -> np.ndarray:
    """MS-SSIM of each pair `images_a[i]`, `images_b[i]` (`[P, C, H, W]`, square) -> `[P]` float64."""
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

    a = np.asarray(images_a, dtype=np.float32)
    b = np.asarray(images_b, dtype=np.float32)
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"ms_ssim needs two [P, C, H, W] arrays of one shape; got {a.shape} and {b.shape}")
    scales = scales or ms_ssim_scales(a.shape[-1])
    batch = max(1, PIXELS_PER_BATCH // int(np.prod(a.shape[1:])))
    scores = []
    with torch.inference_mode():
        for start in range(0, len(a), batch):
            scores.append(
                multiscale_structural_similarity_index_measure(
                    torch.tensor(a[start : start + batch]),
                    torch.tensor(b[start : start + batch]),
                    gaussian_kernel=True,
                    sigma=scales.sigma,
                    kernel_size=scales.window,
                    reduction="none",
                    data_range=data_range,
                    betas=scales.weights,
                    normalize="relu",
                )
                .double()
                .numpy()
            )
    return np.concatenate(scores) if scores else np.empty(0)


def same_class_pair_ms_ssim(
    images: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    *,
    pairs_per_class: int = 1000,
    seed: int = 0,
    scales: MsSsimScales | None = None,
) -> PairScores:
    """MS-SSIM of up to `pairs_per_class` distinct pairs of different images of each class (every pair when
    a class has fewer), drawn without replacement with `seed`."""
    rng = np.random.default_rng(seed)
    scales = scales or ms_ssim_scales(images.shape[-1])
    per_class = []
    for k in range(num_classes):
        members = np.flatnonzero(labels == k)
        first, second = distinct_pairs(len(members), len(members), pairs_per_class, True, rng)
        per_class.append(
            ms_ssim(images[members[first]], images[members[second]], scales) if len(first) else np.empty(0)
        )
    return PairScores(**PairScores.pooled(per_class))
