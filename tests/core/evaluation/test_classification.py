"""The classification section of `evaluate`: the discriminator's head against the baselines trained on the
same real images (shared with tstr), its calibration, and the published AUC as context only where it applies."""

from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import make_separable_images, separable_set, small_discriminator
from pacgan_cli.core.errors import ConfigError
from pacgan_cli.core.evaluation.evaluate import evaluate
from pacgan_cli.core.evaluation.inputs import ImageSet
from pacgan_cli.core.evaluation.options import EvaluationOptions
from pacgan_cli.core.inference import classify_images
from pacgan_cli.core.metrics import tstr
from pacgan_cli.core.metrics.calibration import calibration_report
from pacgan_cli.core.models.checkpoint import (
    DISCRIMINATOR,
    LoadedCheckpoint,
    NetworkArchitecture,
    load_checkpoint,
    save_checkpoint,
)


@pytest.fixture(scope="module")
def discriminator(tmp_path_factory: pytest.TempPathFactory) -> LoadedCheckpoint:
    architecture = NetworkArchitecture(8, (1.0, 1.0, 1.0), 1, 2, 6, 2)
    torch.manual_seed(0)
    path = save_checkpoint(
        tmp_path_factory.mktemp("d") / "D.pt",
        architecture.build(DISCRIMINATOR),
        architecture,
        epoch=1,
        stage=2,
        alpha=1,
        batch_statistic=0.5,
    )
    return load_checkpoint(path)


def image_set(count: int, seed: int) -> ImageSet:
    labels = np.arange(count) % 2
    return ImageSet(make_separable_images(labels, 16, seed), labels, f"set{seed}")


def test_the_head_is_compared_with_the_baselines_tstr_trains_once(
    discriminator: LoadedCheckpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real, train, fake = image_set(16, 1), image_set(16, 2), image_set(12, 3)
    trained_on_real = []
    for name, classifier in list(tstr.CLASSIFIERS.items()):

        def counted(images, *args, name=name, classifier=classifier):
            if images is train.images:
                trained_on_real.append(name)
            return classifier(images, *args)

        monkeypatch.setitem(tstr.CLASSIFIERS, name, counted)
    report = evaluate(
        real,
        fake,
        tmp_path / "r",
        metrics=["tstr", "classification"],
        train=train,
        discriminator=discriminator,
    )
    assert sorted(trained_on_real) == ["logistic_regression", "small_cnn"]
    section = report.data["metrics"]["classification"]
    tstr_real = report.data["metrics"]["tstr"]["classifiers"]["logistic_regression"]["real"]
    baseline = section["baselines"]["logistic_regression"]
    assert baseline["auc_macro"] == tstr_real["auc_macro"] and baseline["accuracy"] == tstr_real["accuracy"]
    assert baseline["head_minus_baseline"]["auc_difference"] == pytest.approx(
        section["real"]["auc_macro"] - baseline["auc_macro"]
    )
    assert "| pixel logistic regression | 1.000 | 1.000 |" in report.markdown
    aspects = [row["aspect"] for row in report.data["verdict"]]
    assert aspects == ["class separability", "class separability", "calibration"]


def test_calibration_of_the_head_on_real_and_synthetic_images(
    discriminator: LoadedCheckpoint, tmp_path: Path
) -> None:
    real, fake = image_set(16, 1), image_set(12, 3)
    report = evaluate(real, fake, tmp_path / "r", metrics=["classification"], discriminator=discriminator)
    section = report.data["metrics"]["classification"]
    probabilities = classify_images(discriminator, real.images).probabilities
    expected = calibration_report(real.labels, probabilities)
    assert section["real"]["calibration"]["ece"] == pytest.approx(expected.ece)
    assert section["real"]["calibration"]["brier"] == pytest.approx(expected.brier)
    assert sum(section["synthetic"]["calibration"]["bins"]["counts"]) == 12
    assert (tmp_path / "r" / "reliability.png").is_file()
    assert tmp_path / "r" / "reliability.png" in report.files
    assert "![reliability](reliability.png)" in report.markdown and "### Calibration" in report.markdown
    assert section["baselines"] is None
    assert "No classifier was trained on the same real images (pass --train)" in report.markdown
    rows = {row["aspect"]: row for row in report.data["verdict"]}
    assert rows["calibration"]["measure"] == "discriminator's auxiliary head, ECE (10 bins, top class)"
    assert rows["class separability"]["reference"] == "0.5 (chance)"


def test_classification_section_with_a_discriminator(tmp_path: Path) -> None:
    from pacgan_cli.core.models.checkpoint import load_checkpoint

    architecture = NetworkArchitecture(8, (1.0, 1.0, 1.0), 1, 2, 6, 2)
    path = save_checkpoint(
        tmp_path / "D.pt",
        architecture.build(DISCRIMINATOR),
        architecture,
        epoch=1,
        stage=2,
        alpha=1,
        batch_statistic=0.3,
    )
    discriminator = load_checkpoint(path)
    report = evaluate(
        separable_set(12, 1),
        separable_set(10, 2),
        tmp_path / "r",
        metrics=["classification"],
        discriminator=discriminator,
    )
    section = report.data["metrics"]["classification"]
    assert section["real"]["batch_statistic"] == "checkpoint"
    assert sum(map(sum, section["real"]["confusion_matrix"])) == 12
    assert (tmp_path / "r" / "roc_real.png").is_file() and (
        tmp_path / "r" / "confusion_synthetic.png"
    ).is_file()
    with pytest.raises(ConfigError, match="--discriminator"):
        evaluate(separable_set(12, 1), separable_set(10, 2), tmp_path / "x", metrics=["classification"])


@pytest.mark.parametrize(
    ("size", "names", "shown"),
    [(16, ("CN", "AD"), False), (256, ("CN", "AD"), True), (256, (), False), (256, ("HC", "PD"), False)],
)
def test_published_auc_is_context_only_for_adni_like_data(
    tmp_path: Path, size: int, names: tuple[str, ...], shown: bool
) -> None:
    report = evaluate(
        separable_set(6, 1, size),
        separable_set(6, 2, size),
        tmp_path / "r",
        metrics=["classification"],
        discriminator=small_discriminator(tmp_path, size),
        options=EvaluationOptions(class_names=names),
    )
    assert ("0.813" in report.markdown) is shown
