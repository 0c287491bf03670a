"""Bootstrap intervals over test images for ROC AUC and accuracy, of one classifier or of the difference
between two classifiers scored on the same images.

Paired: both classifiers are scored on the same resampled test images, so the interval of their difference
is not widened by which images happened to be drawn. Stratified: the test images are resampled within each
true class, so every resample keeps the class counts of the test set and every class's one-vs-rest AUC stays
defined. Percentile intervals (Efron and Tibshirani 1993). AUC is computed from ranks with ties averaged, the
Mann-Whitney form of what scikit-learn's `roc_auc_score` gives, vectorised over the resamples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from pacgan_cli.core.metrics.classification import one_vs_rest_auc

RESAMPLES = 1000
CONFIDENCE = 0.95
METHOD = (
    "paired percentile bootstrap over the test images, resampled with replacement within each true class "
    "(class counts kept); both classifiers scored on the same resampled images"
)
CHUNK = 200  # resamples ranked at a time, bounding memory to CHUNK x test images per class


@dataclass(frozen=True)
class PairedDifference:
    """Classifier B against classifier A on the same test images: each one's macro AUC and accuracy, and
    B minus A with its bootstrap interval `(low, high)`. AUCs are NaN where no class has one."""

    auc_a: float
    auc_b: float
    auc_difference: float
    auc_interval: tuple[float, float]
    accuracy_a: float
    accuracy_b: float
    accuracy_difference: float
    accuracy_interval: tuple[float, float]
    resamples: int
    confidence: float
    seed: int

    def to_data(self) -> dict[str, object]:
        return {
            "auc_a": self.auc_a,
            "auc_b": self.auc_b,
            "auc_difference": self.auc_difference,
            "auc_interval": list(self.auc_interval),
            "accuracy_a": self.accuracy_a,
            "accuracy_b": self.accuracy_b,
            "accuracy_difference": self.accuracy_difference,
            "accuracy_interval": list(self.accuracy_interval),
            "resamples": self.resamples,
            "confidence": self.confidence,
            "seed": self.seed,
            "method": METHOD,
        }


def paired_difference(
    labels: np.ndarray,
    probabilities_a: np.ndarray,
    probabilities_b: np.ndarray,
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> PairedDifference:
    """B minus A in macro one-vs-rest ROC AUC and in accuracy on the test images `labels` `[N]`, each
    model's class probabilities `[N, K]`; the interval is the paired, class-stratified percentile bootstrap."""
    labels = np.asarray(labels, dtype=np.int64)
    auc, accuracy = resampled_scores(labels, [probabilities_a, probabilities_b], resamples, seed)
    auc_a, auc_b = (one_vs_rest_auc(labels, p)[1] for p in (probabilities_a, probabilities_b))
    accuracy_a, accuracy_b = (_accuracy(labels, p) for p in (probabilities_a, probabilities_b))
    return PairedDifference(
        auc_a=auc_a,
        auc_b=auc_b,
        auc_difference=auc_b - auc_a,
        auc_interval=percentile_interval(auc[1] - auc[0], confidence),
        accuracy_a=accuracy_a,
        accuracy_b=accuracy_b,
        accuracy_difference=accuracy_b - accuracy_a,
        accuracy_interval=percentile_interval(accuracy[1] - accuracy[0], confidence),
        resamples=resamples,
        confidence=confidence,
        seed=seed,
    )


def auc_interval(
    labels: np.ndarray,
    probabilities: np.ndarray,
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> tuple[float, float]:
    """The class-stratified percentile bootstrap interval of one classifier's macro AUC."""
    auc, _ = resampled_scores(np.asarray(labels, dtype=np.int64), [probabilities], resamples, seed)
    return percentile_interval(auc[0], confidence)


def resampled_scores(
    labels: np.ndarray, probabilities: Sequence[np.ndarray], resamples: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Macro AUC and accuracy `[M, resamples]` of M classifiers on the same stratified resamples of the
    test images (the draws depend on `labels` and `seed` only, so every classifier sees the same images)."""
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1; got {resamples}")
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(labels == k) for k in np.unique(labels)]
    rows = np.concatenate(
        [group[rng.integers(0, len(group), size=(resamples, len(group)))] for group in members], axis=1
    )
    resampled_labels = labels[rows[0]]  # the same in every resample: the class counts are kept
    auc = np.empty((len(probabilities), resamples))
    accuracy = np.empty((len(probabilities), resamples))
    for m, model in enumerate(probabilities):
        model = np.asarray(model, dtype=np.float64)
        for start in range(0, resamples, CHUNK):
            chunk = rows[start : start + CHUNK]
            auc[m, start : start + CHUNK] = _macro_auc(resampled_labels, model[chunk])
            hits = model[chunk].argmax(axis=2) == resampled_labels
            accuracy[m, start : start + CHUNK] = hits.mean(axis=1)
    return auc, accuracy


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The central `confidence` percentile interval of bootstrap values (NaN when any is NaN)."""
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def _macro_auc(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Macro one-vs-rest AUC of each resample: `probabilities` `[R, N, K]`, `labels` `[N]` (the same for
    every resample) -> `[R]`; classes absent from `labels`, or the only one present, are left out."""
    per_class = []
    for k in range(probabilities.shape[2]):
        positives = labels == k
        count = int(positives.sum())
        if count in (0, len(labels)):
            continue
        ranks = rankdata(probabilities[:, :, k], axis=1)
        negatives = len(labels) - count
        per_class.append((ranks[:, positives].sum(axis=1) - count * (count + 1) / 2) / (count * negatives))
    if not per_class:
        return np.full(len(probabilities), np.nan)
    return np.mean(per_class, axis=0)


def _accuracy(labels: np.ndarray, probabilities: np.ndarray) -> float:
    return float((np.asarray(probabilities).argmax(axis=1) == labels).mean())
