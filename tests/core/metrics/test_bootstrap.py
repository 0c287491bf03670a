"""Bootstrap intervals: the vectorised AUC against scikit-learn, pairing, stratification, seeding."""

import numpy as np
from sklearn.metrics import roc_auc_score

from pacgan_cli.core.metrics.bootstrap import _macro_auc, auc_interval, paired_difference, resampled_scores


def noisy_probabilities(labels: np.ndarray, noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scores = np.eye(3)[labels] + rng.normal(0, noise, size=(len(labels), 3))
    return np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)


def test_the_rank_auc_equals_scikit_learns_with_ties() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, size=40)
    probabilities = np.round(rng.uniform(size=(2, 40, 3)), 1)  # many ties
    expected = [
        np.mean([roc_auc_score(labels == k, resample[:, k]) for k in range(3)]) for resample in probabilities
    ]
    assert np.allclose(_macro_auc(labels, probabilities), expected)


def test_a_classifier_against_itself_differs_by_exactly_zero() -> None:
    labels = np.arange(30) % 3
    probabilities = noisy_probabilities(labels, 1.0, 0)
    same = paired_difference(labels, probabilities, probabilities.copy(), resamples=200)
    assert same.auc_difference == 0 and same.auc_interval == (0.0, 0.0)
    assert same.accuracy_interval == (0.0, 0.0) and same.auc_a == same.auc_b


def test_a_clearly_better_classifier_has_an_interval_above_zero() -> None:
    labels = np.arange(60) % 2
    worse, better = noisy_probabilities(labels, 2.0, 1), noisy_probabilities(labels, 0.2, 2)
    result = paired_difference(labels, worse, better, resamples=300, seed=4)
    assert result.auc_difference > 0 and result.auc_interval[0] > 0
    assert result.auc_interval[0] <= result.auc_difference <= result.auc_interval[1]
    assert result == paired_difference(labels, worse, better, resamples=300, seed=4)
    assert result.to_data()["resamples"] == 300 and "paired" in result.to_data()["method"]


def test_resamples_keep_the_class_counts_so_every_auc_is_defined() -> None:
    labels = np.array([0] * 18 + [1] * 2)
    auc, accuracy = resampled_scores(labels, [noisy_probabilities(labels, 1.0, 3)], 500, 0)
    assert not np.isnan(auc).any() and auc.shape == accuracy.shape == (1, 500)


def test_the_interval_of_one_auc_holds_its_value() -> None:
    labels = np.arange(40) % 2
    probabilities = noisy_probabilities(labels, 1.5, 5)
    low, high = auc_interval(labels, probabilities, resamples=400)
    assert low < roc_auc_score(labels == 1, probabilities[:, 1]) < high
