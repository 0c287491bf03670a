"""The augmentation_gain section of `evaluate`: real training images alone against real + synthetic, with a
paired bootstrap interval, and the balance fill of the smaller classes."""

from pathlib import Path

import numpy as np
import pytest

from helpers import make_separable_images
from pacgan_cli.core.errors import ConfigError
from pacgan_cli.core.evaluation.augmentation_gain import balance_fill_counts, gain_reading
from pacgan_cli.core.evaluation.evaluate import evaluate
from pacgan_cli.core.evaluation.inputs import ImageSet
from pacgan_cli.core.evaluation.options import EvaluationOptions
from pacgan_cli.core.metrics import tstr


def weakly_separable(labels: np.ndarray, seed: int, size: int = 8) -> ImageSet:
    """Noisy 8x8 images whose left half is a little brighter for class 0: AUC about 0.7, so that a change
    in the training set can show."""
    rng = np.random.default_rng(seed)
    images = rng.normal(0, 0.5, (len(labels), 1, size, size))
    images[:, :, :, : size // 2] += np.where(labels == 0, 0.1, -0.1)[:, None, None, None]
    return ImageSet(np.clip(images, -1, 1).astype(np.float32), labels, f"weak{seed}")


@pytest.fixture(scope="module")
def sets() -> tuple[ImageSet, ImageSet]:
    return weakly_separable(np.arange(40) % 2, 1), weakly_separable(np.arange(32) % 2, 2)


def test_copies_of_the_training_images_gain_nothing_measurable(sets, tmp_path: Path) -> None:
    real, train = sets
    copies = ImageSet(train.images.copy(), train.labels, "copies")
    report = evaluate(real, copies, tmp_path / "r", metrics=["augmentation_gain"], train=train)
    section = report.data["metrics"]["augmentation_gain"]
    for result in section["all_synthetic"]["classifiers"].values():
        difference = result["difference"]
        low, high = difference["auc_interval"]
        assert low <= 0 <= high and abs(difference["auc_difference"]) < 0.05
        assert result["real"]["training_images"] == 32 and result["augmented"]["training_images"] == 64
        assert difference["resamples"] == 1000
    readings = {row["reading"] for row in report.data["verdict"]}
    assert readings == {"no measurable gain (the interval includes 0)"}
    assert section["balance_fill"]["needed"] is False
    assert (
        "Balance fill: not needed, the real training classes are balanced (16 / 16 images)."
        in report.markdown
    )
    assert "class 0 +16 (100% of its 16 real), class 1 +16 (100% of its 16 real)" in report.markdown


def test_label_swapped_synthetic_images_are_a_measurable_loss(sets, tmp_path: Path) -> None:
    real, train = sets
    swapped = weakly_separable(np.arange(64) % 2, 3)
    swapped = ImageSet(swapped.images, 1 - swapped.labels, "swapped")
    report = evaluate(real, swapped, tmp_path / "r", metrics=["augmentation_gain"], train=train)
    for result in report.data["metrics"]["augmentation_gain"]["all_synthetic"]["classifiers"].values():
        assert result["difference"]["auc_difference"] < 0 and result["difference"]["auc_interval"][1] < 0
    rows = report.data["verdict"]
    assert [row["aspect"] for row in rows] == ["augmentation", "augmentation"]
    assert all(row["reading"].startswith("loss (AUC -") for row in rows)
    assert "| augmentation | AUC, small cnn: real + 64 synthetic (all) vs real alone |" in report.markdown
    assert "paired percentile bootstrap over the test images" in report.markdown
    assert "1000 resamples, seed 0" in report.markdown
    assert report.summary_lines()[0].startswith("augmentation gain in AUC (real + synthetic minus real):")


def test_an_imbalanced_training_set_is_filled_up_to_its_largest_class(tmp_path: Path) -> None:
    labels = np.array([0] * 16 + [1] * 6)
    train = ImageSet(make_separable_images(labels, 8, 2), labels, "train")
    real = ImageSet(make_separable_images(np.arange(12) % 2, 8, 1), np.arange(12) % 2, "real")
    fake = ImageSet(make_separable_images(np.arange(24) % 2, 8, 3), np.arange(24) % 2, "fake")
    report = evaluate(real, fake, tmp_path / "r", metrics=["augmentation_gain"], train=train)
    fill = report.data["metrics"]["augmentation_gain"]["balance_fill"]
    assert fill["needed"] and fill["target"] == 16 and fill["added_per_class"] == [0, 10]
    for result in fill["classifiers"].values():
        assert result["augmented"]["training_images"] == 32 and result["difference"] is not None
    measures = [row["measure"] for row in report.data["verdict"]]
    assert "AUC, logistic regression: real + 10 synthetic (balance fill) vs real alone" in measures
    assert len(measures) == 4
    assert "fill the smaller classes up to 16: class 1 +10." in report.markdown
    assert "| balance fill | small cnn | real + synthetic (16 + 0 / 6 + 10) |" in report.markdown


def test_the_balance_fill_counts() -> None:
    assert balance_fill_counts([16, 6, 10], [5, 20, 2]) == {
        "needed": True,
        "target": 16,
        "gap_per_class": [0, 10, 6],
        "added_per_class": [0, 10, 2],
        "short": [2],
    }
    assert balance_fill_counts([8, 8], [3, 4])["needed"] is False
    assert balance_fill_counts([8, 0, 4], [9, 9, 9])["added_per_class"] == [0, 0, 4]  # no real class 1


def test_gain_readings_follow_the_interval() -> None:
    assert gain_reading({"auc_difference": 0.04, "auc_interval": [0.01, 0.07]}) == "gain (AUC +0.040)"
    assert gain_reading({"auc_difference": -0.04, "auc_interval": [-0.07, -0.01]}) == "loss (AUC -0.040)"
    assert gain_reading({"auc_difference": 0.04, "auc_interval": [-0.01, 0.09]}).startswith("no measurable")
    assert gain_reading(None, "the training images hold one class").endswith("hold one class")
    nan = float("nan")
    assert gain_reading({"auc_difference": nan, "auc_interval": [nan, nan]}).startswith("not measurable")


def test_the_classifiers_on_the_real_training_images_are_trained_once_and_shared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    labels = np.arange(12) % 2
    train = ImageSet(make_separable_images(labels, 8, 2), labels, "train")
    real = ImageSet(make_separable_images(labels, 8, 1), labels, "real")
    fake = ImageSet(make_separable_images(labels, 8, 3), labels, "fake")
    trained_on_real = []
    for name, classifier in list(tstr.CLASSIFIERS.items()):

        def counted(images, *args, name=name, classifier=classifier):
            if images is train.images:
                trained_on_real.append(name)
            return classifier(images, *args)

        monkeypatch.setitem(tstr.CLASSIFIERS, name, counted)
    evaluate(real, fake, tmp_path / "r", metrics=["augmentation_gain", "tstr"], train=train)
    assert sorted(trained_on_real) == ["logistic_regression", "small_cnn"]


def test_without_the_training_set_it_says_what_it_needs(tmp_path: Path) -> None:
    labels = np.arange(8) % 2
    real = ImageSet(make_separable_images(labels, 8, 1), labels, "real")
    options = EvaluationOptions(unavailable="skip", ssim_pairs=5, diversity_pairs=5)
    report = evaluate(real, real, tmp_path / "r", metrics=["ssim"], options=options)
    assert (
        "- Not computed: augmentation_gain (needs the real training images; pass --train)" in report.markdown
    )
    assert (
        "| augmentation | not measured | | | measured by augmentation_gain (needs the training images)"
        in (report.markdown)
    )
    with pytest.raises(ConfigError, match="the augmentation_gain metric needs the real training images"):
        evaluate(real, real, tmp_path / "x", metrics=["augmentation_gain"])
