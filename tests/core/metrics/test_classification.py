"""The one probability path: float64 softmax of the auxiliary head's logits, AUCs from the log-softmax."""

import numpy as np
import torch
from sklearn.metrics import log_loss, roc_auc_score

from pacgan_cli.core.metrics.classification import (
    class_log_odds,
    class_probabilities,
    classification_report,
    log_class_probabilities,
    one_vs_rest_auc,
)


def test_two_classes_give_equal_auc_per_class_even_when_float32_would_round_to_one() -> None:
    # Differences of 20..60 logits: a float32 softmax gives exactly 1.0 for most of them, so their
    # scores tie and the AUCs of class 0 and class 1 come out different.
    rng = np.random.default_rng(3)
    labels = np.array([0, 1] * 20)
    gap = rng.uniform(20, 60, size=40) * np.where(rng.random(40) < 0.8, 2 * labels - 1, 1 - 2 * labels)
    logits = np.stack([np.zeros(40), gap], axis=1).astype(np.float32)
    float32 = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    tied = one_vs_rest_auc(labels, float32)[0]
    assert tied[0] != tied[1]  # what the old float32 path gave
    report = classification_report(labels, logits)
    assert abs(report.auc_per_class[0] - report.auc_per_class[1]) < 1e-12
    expected = roc_auc_score(labels, logits[:, 1].astype(np.float64) - logits[:, 0])
    assert abs(report.auc_macro - expected) < 1e-12


def test_probabilities_are_a_float64_softmax_and_the_report_reads_them() -> None:
    logits = np.array([[2.0, -1.0, 0.5], [0.1, 0.2, 0.3], [-3.0, 4.0, 1.0], [1.0, 1.0, 5.0]])
    labels = np.array([0, 2, 1, 2])
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    probabilities = class_probabilities(logits)
    assert probabilities.dtype == np.float64
    np.testing.assert_allclose(probabilities, expected, rtol=1e-15)
    np.testing.assert_allclose(
        class_probabilities(logits, 2.0), class_probabilities(logits / 2.0), rtol=1e-15
    )
    report = classification_report(labels, logits)
    assert abs(report.cross_entropy - log_loss(labels, expected, labels=[0, 1, 2])) < 1e-12
    assert report.accuracy == 1.0
    assert report.confusion.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 2]]
    per_class = [roc_auc_score(labels == k, expected[:, k]) for k in range(3)]
    np.testing.assert_allclose(report.auc_per_class, per_class, rtol=1e-12)
    np.testing.assert_allclose(log_class_probabilities(logits), np.log(expected), rtol=1e-12)
    np.testing.assert_allclose(class_log_odds(logits), np.log(expected / (1 - expected)), rtol=1e-12)


def test_a_temperature_changes_confidence_not_the_ranking_of_two_classes() -> None:
    logits = np.array([[0.0, 3.0], [0.0, -1.0], [0.0, 0.5], [0.0, -2.0]])
    labels = np.array([1, 0, 0, 1])
    plain, softened = classification_report(labels, logits), classification_report(labels, logits, 4.0)
    assert plain.auc_per_class == softened.auc_per_class
    assert softened.cross_entropy < plain.cross_entropy  # the wrong, confident image costs less
