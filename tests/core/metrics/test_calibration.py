"""Calibration arithmetic against values worked out by hand, and temperature scaling where the truth is known."""

import numpy as np
import pytest

from pacgan_cli.core.metrics.calibration import (
    TEMPERATURE_RANGE,
    brier_score,
    calibration_report,
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
)
from pacgan_cli.core.metrics.classification import class_probabilities

# Five images, two classes: top-class probabilities 0.95 and 0.92 (right, bin (0.9, 1]), 0.85 (right,
# bin (0.8, 0.9]), 0.75 (wrong, bin (0.7, 0.8]), 0.6 (right, bin (0.5, 0.6]).
LABELS = np.array([0, 1, 1, 0, 0])
PROBABILITIES = np.array([[0.95, 0.05], [0.15, 0.85], [0.75, 0.25], [0.6, 0.4], [0.92, 0.08]])


def test_expected_calibration_error_by_hand() -> None:
    # 2/5 |1 - 0.935| + 1/5 |1 - 0.85| + 1/5 |0 - 0.75| + 1/5 |1 - 0.6|
    assert expected_calibration_error(LABELS, PROBABILITIES) == pytest.approx(0.286)


def test_reliability_bins_by_hand() -> None:
    table = reliability_bins(LABELS, PROBABILITIES)
    assert table.counts.tolist() == [0, 0, 0, 0, 0, 1, 0, 1, 1, 2]
    assert table.confidence[9] == pytest.approx(0.935) and table.accuracy[9] == 1.0
    assert table.accuracy[7] == 0.0 and np.isnan(table.accuracy[0])
    assert table.to_data()["accuracy"][0] is None


def test_a_probability_on_a_bin_edge_goes_to_the_lower_bin() -> None:
    table = reliability_bins(np.array([0, 0]), np.array([[0.5, 0.5], [1.0, 0.0]]))
    assert table.counts[4] == 1 and table.counts[9] == 1


def test_brier_score_by_hand() -> None:
    # (0.005 + 0.045 + 1.125 + 0.32 + 0.0128) / 5
    assert brier_score(LABELS, PROBABILITIES) == pytest.approx(0.30156)
    assert brier_score(np.array([2]), np.array([[0.2, 0.3, 0.5]])) == pytest.approx(0.38)
    assert brier_score(np.array([0, 1]), np.array([[1.0, 0.0], [0.0, 1.0]])) == 0.0


def test_calibration_report_gathers_the_numbers() -> None:
    report = calibration_report(LABELS, PROBABILITIES)
    assert report.images == 5 and report.accuracy == pytest.approx(0.8)
    assert report.mean_confidence == pytest.approx((0.95 + 0.85 + 0.75 + 0.6 + 0.92) / 5)
    assert report.to_data()["ece"] == pytest.approx(0.286)


@pytest.mark.parametrize("scale", [1.0, 3.0, 0.5])
def test_temperature_recovers_the_scale_of_the_logits(scale: float) -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, size=(20000, 3))
    cumulative = class_probabilities(true_logits, 1.0).cumsum(axis=1)
    labels = (rng.uniform(size=(20000, 1)) > cumulative).sum(axis=1)
    fit = fit_temperature(true_logits * scale, labels)
    assert fit.temperature == pytest.approx(scale, rel=0.05)
    assert fit.cross_entropy_after <= fit.cross_entropy_before and not fit.degenerate


def test_images_all_classified_right_give_a_degenerate_fit() -> None:
    logits = np.array([[5.0, -5.0], [-5.0, 5.0], [0.1, 0.0]])
    assert fit_temperature(logits, np.array([0, 1, 0])).degenerate
    assert not fit_temperature(logits, np.array([0, 1, 1])).degenerate


def test_a_fit_on_the_edge_of_the_range_is_degenerate() -> None:
    logits = np.array([[1e-4, 0.0], [0.0, 1e-4], [1e-4, 0.0]])  # barely informative: T wants to be tiny
    fit = fit_temperature(logits, np.array([0, 1, 1]))
    assert fit.degenerate and fit.temperature == pytest.approx(TEMPERATURE_RANGE[0], rel=1e-2)


def test_class_probabilities_keep_the_predicted_class() -> None:
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 1.0, 0.5]])
    softer = class_probabilities(logits, 4.0)
    assert np.allclose(softer.sum(axis=1), 1) and (softer.argmax(axis=1) == logits.argmax(axis=1)).all()
    assert softer.max() < class_probabilities(logits, 1.0).max()
