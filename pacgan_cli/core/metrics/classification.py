"""Classification quality of the auxiliary head: ROC AUC (one-vs-rest), ROC curves, confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import confusion_matrix, log_loss, roc_auc_score, roc_curve

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

    `labels` [N] ints, `probabilities` [N, K]. A class that is absent (or the only one present) has no
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


def classification_report(labels: np.ndarray, probabilities: np.ndarray) -> ClassificationReport:
    """Accuracy, cross-entropy, AUCs and confusion matrices for `probabilities` [N, K] against `labels` [N]."""
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    classes = np.arange(probabilities.shape[1])
    per_class, macro = one_vs_rest_auc(labels, probabilities)
    counts = confusion_matrix(labels, probabilities.argmax(axis=1), labels=classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        normalised = counts / counts.sum(axis=1, keepdims=True)
    return ClassificationReport(
        accuracy=float((probabilities.argmax(axis=1) == labels).mean()),
        cross_entropy=float(log_loss(labels, _renormalised(probabilities), labels=classes)),
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


def _renormalised(probabilities: np.ndarray) -> np.ndarray:
    """Clip away exact zeros (log 0) and keep each row summing to one, as log_loss expects."""
    clipped = np.clip(probabilities, 1e-12, 1.0)
    return clipped / clipped.sum(axis=1, keepdims=True)
