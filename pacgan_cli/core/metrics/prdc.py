"""Precision, recall, density and coverage of a synthetic sample against a real one, in a feature space.

Precision and recall: Kynkäänniemi et al. 2019 (the share of synthetic points inside the real manifold, and of
real points inside the synthetic one, each manifold the union of balls reaching every point's k-th nearest
neighbour); density and coverage: Naeem et al. 2020 (how many real balls hold each synthetic point, over k;
the share of real balls holding at least one synthetic point). Computed as the reference `prdc` package does
(Euclidean distances, a point's radius is the distance to its k-th nearest other point, strict `<`), in
float64 and in blocks of rows, so memory stays at a block times the other set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FidelityDiversity:
    """The four scores of one comparison and the sample sizes they came from."""

    precision: float
    recall: float
    density: float
    coverage: float
    real_count: int
    fake_count: int
    k: int

    def to_data(self) -> dict[str, float | int]:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "density": self.density,
            "coverage": self.coverage,
            "n_real": self.real_count,
            "n_fake": self.fake_count,
        }


def precision_recall_density_coverage(
    real_features: np.ndarray, fake_features: np.ndarray, k: int = 5, block_size: int = 1024
) -> FidelityDiversity:
    """The four scores of `fake_features` `[M, D]` against `real_features` `[N, D]`; both need more than k rows.

    Recall needs the synthetic points' own radii, the others only the real ones'. Density can exceed 1
    (synthetic points crowding where real points are dense); the other three lie in [0, 1].
    """
    real = np.asarray(real_features, dtype=np.float64)
    fake = np.asarray(fake_features, dtype=np.float64)
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"precision/recall need more than k = {k} points in each set")
    real_radii = nearest_neighbour_radii(real, k, block_size)
    fake_radii = nearest_neighbour_radii(fake, k, block_size)
    balls_holding_fake = np.zeros(len(fake), dtype=np.int64)
    real_in_fake_manifold = np.zeros(len(real), dtype=bool)
    real_ball_covered = np.zeros(len(real), dtype=bool)
    for start in range(0, len(real), block_size):
        rows = slice(start, start + block_size)
        distances = pairwise_distances(real[rows], fake)
        inside_real_balls = distances < real_radii[rows, None]
        balls_holding_fake += inside_real_balls.sum(axis=0)
        real_in_fake_manifold[rows] = (distances < fake_radii[None, :]).any(axis=1)
        real_ball_covered[rows] = distances.min(axis=1) < real_radii[rows]
    return FidelityDiversity(
        precision=float((balls_holding_fake > 0).mean()),
        recall=float(real_in_fake_manifold.mean()),
        density=float(balls_holding_fake.mean() / k),
        coverage=float(real_ball_covered.mean()),
        real_count=len(real),
        fake_count=len(fake),
        k=k,
    )


def nearest_neighbour_radii(features: np.ndarray, k: int, block_size: int = 1024) -> np.ndarray:
    """For each row, the distance to its k-th nearest other row (its own distance 0 is the 0-th)."""
    radii = np.empty(len(features))
    for start in range(0, len(features), block_size):
        distances = pairwise_distances(features[start : start + block_size], features)
        radii[start : start + block_size] = np.partition(distances, k, axis=1)[:, k]
    return radii


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances `[len(a), len(b)]` via |a|^2 + |b|^2 - 2 a.b, clipped at 0 (as scikit-learn)."""
    squared = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(squared, 0))


def equal_sample(count_a: int, count_b: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of equally many items from two sets: all of the smaller, a random subset of the larger."""
    size = min(count_a, count_b)
    pick = [
        np.arange(count) if count == size else np.sort(rng.choice(count, size=size, replace=False))
        for count in (count_a, count_b)
    ]
    return pick[0], pick[1]
