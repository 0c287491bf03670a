"""The train-on-synthetic-test-on-real section of `evaluate`, and metrics that need the training set."""

from pathlib import Path

import numpy as np
import pytest

from helpers import make_separable_images
from pacgan_cli.core.errors import ConfigError
from pacgan_cli.core.evaluation.evaluate import evaluate
from pacgan_cli.core.evaluation.inputs import ImageSet
from pacgan_cli.core.evaluation.options import EvaluationOptions


def image_set(labels: np.ndarray, seed: int) -> ImageSet:
    return ImageSet(make_separable_images(labels, 16, seed), labels, f"set{seed}")


def test_synthetic_images_that_carry_the_class_difference_score_like_real_ones(tmp_path: Path) -> None:
    labels = np.arange(16) % 2
    real, train = image_set(labels, 1), image_set(np.arange(20) % 2, 2)
    right = image_set(np.arange(24) % 2, 3)
    swapped = ImageSet(right.images, 1 - right.labels, "swapped")
    good = evaluate(real, right, tmp_path / "good", metrics=["tstr"], train=train)
    bad = evaluate(real, swapped, tmp_path / "bad", metrics=["tstr"], train=train)
    for name in ("logistic_regression", "small_cnn"):
        scores = good.data["metrics"]["tstr"]["classifiers"][name]
        assert scores["synthetic"]["auc_macro"] == scores["real"]["auc_macro"] == 1.0
        assert scores["synthetic"]["training_images"] == 24 and scores["real"]["training_images"] == 20
        assert bad.data["metrics"]["tstr"]["classifiers"][name]["synthetic"]["auc_macro"] == 0.0
    text = good.markdown
    assert "## Train on synthetic, test on real" in text and "the same 16 real test images" in text
    assert "| small cnn | synthetic images | 24 | 1.000 |" in text
    assert "| logistic regression | real training images | 20 | 1.000 |" in text
    assert any(line.startswith("train on synthetic, test on real:") for line in good.summary_lines())


def test_one_synthetic_class_is_reported_not_refused(tmp_path: Path) -> None:
    real, train = image_set(np.arange(12) % 2, 1), image_set(np.arange(12) % 2, 2)
    fake = image_set(np.zeros(8, dtype=np.int64), 3)
    report = evaluate(real, fake, tmp_path / "r", metrics=["tstr"], train=train)
    scores = report.data["metrics"]["tstr"]["classifiers"]["small_cnn"]
    assert scores["synthetic"]["auc_macro"] is None and scores["real"]["auc_macro"] == 1.0
    assert "| n/a | n/a | n/a | n/a | the training images hold one class" in report.markdown


def test_without_the_training_set_tstr_is_left_out_or_refused_by_name(tmp_path: Path) -> None:
    real, fake = image_set(np.arange(12) % 2, 1), image_set(np.arange(12) % 2, 2)
    options = EvaluationOptions(unavailable="skip", ssim_pairs=5, diversity_pairs=5)
    report = evaluate(real, fake, tmp_path / "r", options=options)
    assert "tstr" not in report.data["metrics"] and "ssim" in report.data["metrics"]
    assert "- Not computed: tstr (needs the real training images; pass --train)" in report.markdown
    assert (
        "- Not computed: classification (needs a discriminator; pass --discriminator D.pt)" in report.markdown
    )
    with pytest.raises(ConfigError, match="the tstr metric needs the real training images; pass --train"):
        evaluate(real, fake, tmp_path / "x", metrics=["ssim", "tstr"])
