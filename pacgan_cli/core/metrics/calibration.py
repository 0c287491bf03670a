"""Calibration of class probabilities: do the probabilities a classifier gives match how often it is right?

- Expected calibration error (ECE), top-label form (Guo et al. 2017): the images are binned by their
  top-class probability into `bins` equal-width bins ((0, 0.1], (0.1, 0.2], ..., 0 falling in the first);
  ECE = sum over bins of (images in the bin / all images) x |accuracy in the bin - mean top-class
  probability in the bin|. 0 is perfect; small sets give it a positive bias.
- Brier score, multi-class (Brier 1950): the mean over images of sum over classes of (p_k - [y = k])^2;
  0 is perfect, 2 the worst.
- Temperature scaling (Guo et al. 2017): one T > 0 for all classes, probabilities softmax(logits / T),
  fitted by minimising the cross-entropy on held-out labelled images; T > 1 softens an overconfident
  classifier. The arg-max class, and so accuracy and AUC, do not change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from pacgan_cli.core.metrics.classification import log_class_probabilities

ECE_BINS = 10
# The search range of T: a factor of 100 either way; a fit on its edge says the images cannot pin T down.
TEMPERATURE_RANGE = (0.01, 100.0)


@dataclass(frozen=True)
class ReliabilityBins:
    """Images binned by top-class probability: bin edges `[B + 1]`, and per bin the image count, the mean
    top-class probability and the accuracy (NaN for an empty bin)."""

    edges: np.ndarray
    counts: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray

    def to_data(self) -> dict[str, list[float | None]]:
        def plain(values: np.ndarray) -> list[float | None]:
            return [None if math.isnan(v) else float(v) for v in values]

        return {
            "edges": [float(e) for e in self.edges],
            "counts": [int(c) for c in self.counts],
            "confidence": plain(self.confidence),
            "accuracy": plain(self.accuracy),
        }


@dataclass(frozen=True)
class CalibrationReport:
    """ECE, Brier score, mean top-class probability and accuracy of probabilities against labels."""

    images: int
    ece: float
    brier: float
    mean_confidence: float
    accuracy: float
    bins: ReliabilityBins

    def to_data(self) -> dict[str, object]:
        return {
            "images": self.images,
            "ece": self.ece,
            "brier": self.brier,
            "mean_confidence": self.mean_confidence,
            "accuracy": self.accuracy,
            "bins": self.bins.to_data(),
        }


def calibration_report(
    labels: np.ndarray, probabilities: np.ndarray, bins: int = ECE_BINS
) -> CalibrationReport:
    """Calibration of `probabilities` `[N, K]` against `labels` `[N]` (see the module docstring)."""
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    binned = reliability_bins(labels, probabilities, bins)
    return CalibrationReport(
        images=len(labels),
        ece=expected_calibration_error(labels, probabilities, bins),
        brier=brier_score(labels, probabilities),
        mean_confidence=float(probabilities.max(axis=1).mean()),
        accuracy=float((probabilities.argmax(axis=1) == labels).mean()),
        bins=binned,
    )


def reliability_bins(labels: np.ndarray, probabilities: np.ndarray, bins: int = ECE_BINS) -> ReliabilityBins:
    """The top-label reliability table: `bins` equal-width bins of the top-class probability."""
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    # Bin b holds (edges[b], edges[b + 1]]; a probability of exactly 0 goes to the first bin.
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(which, weights=confidence, minlength=bins) / counts
        accuracy = np.bincount(which, weights=correct.astype(np.float64), minlength=bins) / counts
    return ReliabilityBins(edges, counts, mean_confidence, accuracy)


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = ECE_BINS) -> float:
    """Top-label ECE with `bins` equal-width bins (module docstring)."""
    table = reliability_bins(labels, probabilities, bins)
    filled = table.counts > 0
    gaps = np.abs(table.accuracy[filled] - table.confidence[filled])
    return float((table.counts[filled] * gaps).sum() / table.counts.sum())


def brier_score(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Multi-class Brier score: mean over images of sum over classes of (p_k - onehot_k)^2."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    onehot = np.eye(probabilities.shape[1])[np.asarray(labels, dtype=np.int64)]
    return float(((probabilities - onehot) ** 2).sum(axis=1).mean())


@dataclass(frozen=True)
class TemperatureFit:
    """The fitted temperature, the cross-entropy before (T = 1) and after, and whether the fit is
    degenerate: every image classified right (the cross-entropy then keeps falling as T -> 0, so there is
    no finite minimum) or T on the edge of `TEMPERATURE_RANGE`."""

    temperature: float
    cross_entropy_before: float
    cross_entropy_after: float
    degenerate: bool


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> TemperatureFit:
    """The T > 0 minimising the mean cross-entropy of softmax(`logits` / T) against `labels`.

    `logits` `[N, K]`; a bounded 1-D search on log T over `TEMPERATURE_RANGE` (the cross-entropy is convex
    in 1/T, so there is one minimum), in float64.
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    low, high = np.log(TEMPERATURE_RANGE)
    found = minimize_scalar(
        lambda log_t: _cross_entropy(logits / np.exp(log_t), labels),
        bounds=(low, high),
        method="bounded",
        options={"xatol": 1e-6},
    )
    temperature = float(np.exp(found.x))
    all_right = bool((logits.argmax(axis=1) == labels).all())
    on_edge = min(abs(found.x - low), abs(found.x - high)) < 1e-3
    return TemperatureFit(
        temperature,
        _cross_entropy(logits, labels),
        _cross_entropy(logits / temperature, labels),
        all_right or on_edge,
    )


def _cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(-log_class_probabilities(logits)[np.arange(len(labels)), labels].mean())
