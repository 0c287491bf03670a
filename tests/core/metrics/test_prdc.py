import numpy as np
import pytest

from pacgan_cli.core.metrics.prdc import (
    equal_sample,
    nearest_neighbour_radii,
    precision_recall_density_coverage,
)


def brute_force(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float, float, float]:
    """The definitions of Kynkäänniemi et al. and Naeem et al., one point at a time."""

    def radius(points: np.ndarray, i: int) -> float:
        others = [np.linalg.norm(points[i] - points[j]) for j in range(len(points)) if j != i]
        return sorted(others)[k - 1]

    real_radii = [radius(real, i) for i in range(len(real))]
    fake_radii = [radius(fake, j) for j in range(len(fake))]
    distance = [[np.linalg.norm(r - f) for f in fake] for r in real]
    precision = np.mean(
        [any(distance[i][j] < real_radii[i] for i in range(len(real))) for j in range(len(fake))]
    )
    recall = np.mean(
        [any(distance[i][j] < fake_radii[j] for j in range(len(fake))) for i in range(len(real))]
    )
    density = np.mean(
        [sum(distance[i][j] < real_radii[i] for i in range(len(real))) / k for j in range(len(fake))]
    )
    coverage = np.mean([min(distance[i]) < real_radii[i] for i in range(len(real))])
    return float(precision), float(recall), float(density), float(coverage)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_scores_match_a_brute_force_computation(k: int) -> None:
    rng = np.random.default_rng(k)
    real = rng.normal(size=(24, 6))
    fake = rng.normal(0.7, 1.3, size=(20, 6))
    scores = precision_recall_density_coverage(real, fake, k, block_size=5)
    expected = brute_force(real, fake, k)
    assert (scores.precision, scores.recall, scores.density, scores.coverage) == pytest.approx(expected)
    assert 0 < scores.precision < 1 and 0 < scores.coverage < 1  # the case is not degenerate


def test_identical_sets_score_one_and_disjoint_sets_zero() -> None:
    real = np.random.default_rng(0).normal(size=(30, 8))
    same = precision_recall_density_coverage(real, real.copy(), 5)
    assert (same.precision, same.recall, same.coverage) == (1.0, 1.0, 1.0)
    assert same.density == pytest.approx(brute_force(real, real, 5)[2])
    far = precision_recall_density_coverage(real, real + 100.0, 5)
    assert (far.precision, far.recall, far.density, far.coverage) == (0.0, 0.0, 0.0, 0.0)


def test_a_generator_that_repeats_one_mode_keeps_precision_but_loses_recall_and_coverage() -> None:
    rng = np.random.default_rng(1)
    modes = np.array([[0.0, 0.0], [20.0, 0.0]])
    real = np.concatenate([rng.normal(mode, 1.0, size=(16, 2)) for mode in modes])
    collapsed = rng.normal(modes[0], 1.0, size=(32, 2))
    scores = precision_recall_density_coverage(real, collapsed, 5)
    assert scores.precision > 0.9
    assert scores.recall <= 0.5 and scores.coverage <= 0.5


def test_radii_are_the_distance_to_the_kth_nearest_other_point() -> None:
    points = np.array([[0.0], [1.0], [3.0], [7.0]])
    assert list(nearest_neighbour_radii(points, 1)) == [1.0, 1.0, 2.0, 4.0]
    assert list(nearest_neighbour_radii(points, 2, block_size=1)) == [3.0, 2.0, 3.0, 6.0]


def test_too_few_points_for_k_are_refused() -> None:
    with pytest.raises(ValueError, match="more than k = 5"):
        precision_recall_density_coverage(np.zeros((5, 2)), np.ones((9, 2)), 5)


def test_equal_sample_takes_all_of_the_smaller_set_and_a_seeded_subset_of_the_larger() -> None:
    first, second = equal_sample(7, 12, np.random.default_rng(3))
    assert list(first) == list(range(7)) and len(second) == 7 and len(set(second)) == 7
    assert set(second) <= set(range(12))
    again = equal_sample(7, 12, np.random.default_rng(3))[1]
    assert list(second) == list(again)
