"""`classify` and `classify_images`: the batch statistic, published checkpoints, the predictions file."""

from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import Recorder, make_separable_images, published_checkpoint, saved_checkpoint
from pacgan_cli.core.errors import InputError
from pacgan_cli.core.inference import InferenceSettings, classify_images, write_classification
from pacgan_cli.core.io.tables import read_csv, read_labels
from pacgan_cli.core.models.checkpoint import DISCRIMINATOR, load_checkpoint


def test_classify_with_the_stored_statistic_does_not_depend_on_the_batch(
    tmp_path: Path, images: np.ndarray
) -> None:
    checkpoint = load_checkpoint(saved_checkpoint(tmp_path, DISCRIMINATOR, "D.pt", batch_statistic=0.7))
    whole = classify_images(checkpoint, images, batch_size=64)
    pairs = classify_images(checkpoint, images, batch_size=2)
    alone = np.concatenate(
        [classify_images(checkpoint, images[i : i + 1]).probabilities for i in range(len(images))]
    )
    assert whole.statistic_source == "checkpoint" and whole.statistic == pytest.approx(0.7)
    np.testing.assert_allclose(whole.probabilities.sum(axis=1), 1, atol=1e-12)
    np.testing.assert_allclose(pairs.probabilities, whole.probabilities, atol=1e-6)
    np.testing.assert_allclose(alone, whole.probabilities, atol=1e-6)


def test_classify_a_published_checkpoint_with_a_reference_stack(tmp_path: Path, images: np.ndarray) -> None:
    checkpoint = load_checkpoint(published_checkpoint(tmp_path, DISCRIMINATOR, "D_published.pt"))
    reference = make_separable_images(np.arange(12) % 3, 16, seed=9)
    alone = classify_images(checkpoint, images[:1], reference=reference)
    whole = classify_images(checkpoint, images, reference=reference)
    assert alone.statistic_source == "reference" and not alone.note
    np.testing.assert_allclose(alone.probabilities[0], whole.probabilities[0], atol=1e-6)
    reused = classify_images(checkpoint, images, reference_statistic=whole.statistic)
    assert reused.statistic_source == "reference" and reused.statistic == whole.statistic
    np.testing.assert_array_equal(reused.probabilities, whole.probabilities)


def test_published_mode_equals_the_whole_file_as_one_batch(tmp_path: Path, images: np.ndarray) -> None:
    checkpoint = load_checkpoint(published_checkpoint(tmp_path, DISCRIMINATOR, "D_published.pt"))
    result = classify_images(checkpoint, images, batch_size=3)
    assert result.statistic_source == "published" and "--reference" in result.note
    with torch.no_grad():
        _, logits = checkpoint.model(torch.from_numpy(images), 1.0, 2)
    np.testing.assert_allclose(result.probabilities, torch.softmax(logits.double(), 1).numpy(), atol=1e-5)
    explicit = classify_images(checkpoint, images, statistic_mode="published")
    assert explicit.note == "" and explicit.statistic == pytest.approx(result.statistic)


def test_one_image_without_a_statistic_is_an_error_naming_reference(
    tmp_path: Path, images: np.ndarray
) -> None:
    checkpoint = load_checkpoint(published_checkpoint(tmp_path, DISCRIMINATOR, "D_published.pt"))
    with pytest.raises(InputError, match="--reference"):
        classify_images(checkpoint, images[:1])


def test_write_classification_uses_the_published_columns_and_scores_labels(
    tmp_path: Path, images: np.ndarray
) -> None:
    checkpoint = load_checkpoint(saved_checkpoint(tmp_path, DISCRIMINATOR, "D.pt", batch_statistic=0.7))
    result = classify_images(checkpoint, images)
    labels = tmp_path / "labels.csv"
    labels.write_text("ID,Label\n" + "".join(f"{i},{i % 3}\n" for i in range(len(images))))
    table = read_labels(labels, image_count=len(images), num_classes=3, require_subject=False)
    outcome = write_classification(result, tmp_path / "pred.csv", source="scans.nii.gz", labels=table)
    table = read_csv(tmp_path / "pred.csv")
    assert list(table.columns) == [
        "Unnamed: 0",
        "Predictions for scans.nii.gz",
        "Class 0",
        "Class 1",
        "Class 2",
    ]
    np.testing.assert_allclose(table[["Class 0", "Class 1", "Class 2"]].sum(axis=1), 1, atol=1e-9)
    assert list(table["Predictions for scans.nii.gz"]) == list(result.predictions)
    assert outcome.report is not None and outcome.report.confusion.sum() == len(images)
    assert {p.name for p in outcome.files} == {
        "pred.csv",
        "pred_metrics.json",
        "pred_roc.png",
        "pred_confusion.png",
    }


def test_a_discriminator_giving_nan_scores_is_an_error_not_nan_predictions(
    tmp_path: Path, images: np.ndarray
) -> None:
    checkpoint = load_checkpoint(saved_checkpoint(tmp_path, DISCRIMINATOR, "D.pt", batch_statistic=0.5))
    with torch.no_grad():  # loading refuses NaN weights; this checks the scores themselves
        checkpoint.model.aux_layer.bias.fill_(float("nan"))
    with pytest.raises(InputError, match=r"D\.pt: the discriminator gave NaN or infinite class scores"):
        classify_images(checkpoint, images)


def test_classify_reads_scores_and_writes_with_the_device_line_before_work(
    tmp_path: Path, images: np.ndarray
) -> None:
    from pacgan_cli.core.inference import ClassificationRequest, classify
    from pacgan_cli.core.io.nifti import write_stack

    model = saved_checkpoint(tmp_path, DISCRIMINATOR, "D.pt", batch_statistic=0.7)
    write_stack(tmp_path / "scans" / "scans.nii.gz", images)
    (tmp_path / "labels.csv").write_text("ID,Label\n" + "".join(f"{i},{i % 3}\n" for i in range(len(images))))
    reporter = Recorder()
    request = ClassificationRequest(
        tmp_path / "scans" / "scans.nii.gz", model, labels=tmp_path / "labels.csv"
    )
    outcome = classify(request, InferenceSettings(threads=1), reporter)
    assert reporter.events == ["classifying on cpu with 1 CPU thread", "stage classify"]
    expected = classify_images(load_checkpoint(model), images)
    np.testing.assert_allclose(outcome.result.probabilities, expected.probabilities, atol=1e-6)
    assert outcome.files[0] == tmp_path / "scans" / "scans_predictions.csv"
    assert len(read_csv(outcome.files[0])) == len(images) and len(outcome.files) == 4
    assert (
        outcome.summary_lines()[0]
        == f"{len(images)} images 16x16 classified (batch statistic: checkpoint, 0.7)"
    )
    assert outcome.summary_lines()[1].startswith("accuracy ")

    write_stack(tmp_path / "rgb.nii.gz", np.repeat(images, 3, axis=1))
    reporter = Recorder()
    with pytest.raises(InputError, match="expects 1"):
        classify(
            ClassificationRequest(tmp_path / "rgb.nii.gz", model), InferenceSettings(threads=1), reporter
        )
    assert reporter.events == [] and not (tmp_path / "rgb_predictions.csv").exists()
