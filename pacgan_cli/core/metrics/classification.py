"""Classification quality of the auxiliary head: ROC AUC (one-vs-rest), ROC curves, confusion matrix.

One probability path for training, validation, test, `classify` and `evaluate`: the head's logits become
probabilities by a float64 softmax (`class_probabilities`), and AUCs and the cross-entropy are computed from
the logits themselves (the cross-entropy from the float64 log-softmax, the AUCs from each class's log-odds
against the rest, which never saturate: a softmax rounds confident scores to exactly 1, a float32 one
already at a logit gap of 17, making scores tie), so that the per-class AUCs of a two-class problem are
equal and every command agrees."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax, logsumexp
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve

from pacgan_cli.core.io.atomic import json_ready


@dataclass(frozen=True)
class ClassificationReport:
    """Scores of predicted class probabilities against true labels; AUCs are NaN where undefined."""

    accuracy: float
    cross_entropy: float
    auc_per_class: tuple[float, ...]
    auc_macro: float
    confusion: np.ndarray  # [K, K] counts, rows = true class
    confusion_normalised: np.ndarray  # rows sum to 1 (NaN for a class with no images)

    def to_data(self) -> dict[str, object]:
        return {
            "accuracy": self.accuracy,
            "cross_entropy": self.cross_entropy,
            "auc_per_class": json_ready(list(self.auc_per_class)),
            "auc_macro": json_ready(self.auc_macro),
            "confusion_matrix": self.confusion.tolist(),
            "confusion_matrix_normalised": json_ready(self.confusion_normalised.tolist()),
        }


def one_vs_rest_auc(labels: np.ndarray, probabilities: np.ndarray) -> tuple[tuple[float, ...], float]:
    """Per-class one-vs-rest ROC AUC and their mean over the classes where it is defined.

    `labels` [N] ints, `probabilities` [N, K] (or any scores ranking the images as they do, such as the
    class log-odds of `class_log_odds`). A class that is absent (or the only one present) has no
    AUC: NaN, left out of the mean. The published code averaged per-batch AUCs; this is over the whole set.
    """
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    per_class = []
    for k in range(probabilities.shape[1]):
        positives = labels == k
        if positives.all() or not positives.any():
            per_class.append(float("nan"))
        else:
            per_class.append(float(roc_auc_score(positives, probabilities[:, k])))
    defined = [v for v in per_class if not np.isnan(v)]
    return tuple(per_class), float(np.mean(defined)) if defined else float("nan")


def log_class_probabilities(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """log softmax(`logits` / `temperature`) in float64, `[N, K]` (T = 1: the published softmax)."""
    return log_softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)


def class_log_odds(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """log(p_k / (1 - p_k)) = z_k - logsumexp(z_j, j != k) of z = `logits` / `temperature`, float64 `[N, K]`:
    ranks images as p_k does, without rounding (two classes: z_1 - z_0 and z_0 - z_1, exact mirrors)."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    classes = scaled.shape[1]
    others = np.where(np.eye(classes, dtype=bool)[:, None, :], -np.inf, scaled[None, :, :])  # [K, N, K]
    return (scaled.T - logsumexp(others, axis=2)).T


def class_probabilities(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """softmax(`logits` / `temperature`) in float64, `[N, K]`."""
    return np.exp(log_class_probabilities(logits, temperature))


def classification_report(
    labels: np.ndarray, logits: np.ndarray, temperature: float = 1.0
) -> ClassificationReport:
    """Accuracy, cross-entropy, AUCs and confusion matrices of the class scores `logits` [N, K] (divided by
    `temperature` when calibrated) against `labels` [N]."""
    labels = np.asarray(labels, dtype=np.int64)
    log_probabilities = log_class_probabilities(logits, temperature)
    classes = np.arange(log_probabilities.shape[1])
    predicted = log_probabilities.argmax(axis=1)
    per_class, macro = one_vs_rest_auc(labels, class_log_odds(logits, temperature))
    counts = confusion_matrix(labels, predicted, labels=classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        normalised = counts / counts.sum(axis=1, keepdims=True)
    return ClassificationReport(
        accuracy=float((predicted == labels).mean()),
        cross_entropy=float(-log_probabilities[np.arange(len(labels)), labels].mean()),
        auc_per_class=per_class,
        auc_macro=macro,
        confusion=counts,
        confusion_normalised=normalised,
    )


def roc_curves(labels: np.ndarray, probabilities: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """One-vs-rest ROC curve (false positive rate, true positive rate) for each class where it is defined."""
    labels = np.asarray(labels)
    curves = {}
    for k in range(np.asarray(probabilities).shape[1]):
        positives = labels == k
        if positives.any() and not positives.all():
            fpr, tpr, _ = roc_curve(positives, np.asarray(probabilities)[:, k])
            curves[k] = (fpr, tpr)
    return curves
