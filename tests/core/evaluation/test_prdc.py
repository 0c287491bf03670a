"""The prdc section of `evaluate`: equal set sizes, the real-real baseline, and refusals of unusable inputs."""

from pathlib import Path

import numpy as np
import pytest

from helpers import PooledPixels, make_separable_images, use_pooled_pixel_features
from pacgan_cli.core.errors import InputError
from pacgan_cli.core.evaluation.evaluate import evaluate
from pacgan_cli.core.evaluation.inputs import ImageSet
from pacgan_cli.core.evaluation.options import EvaluationOptions
from pacgan_cli.core.metrics import fidelity
from pacgan_cli.core.metrics.prdc import precision_recall_density_coverage


@pytest.fixture(autouse=True)
def pooled_features(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_pooled_pixel_features(monkeypatch, tmp_path)


def image_set(labels: list[int] | np.ndarray, seed: int, size: int = 16) -> ImageSet:
    labels = np.asarray(labels)
    return ImageSet(make_separable_images(labels, size, seed), labels, f"set{seed}")


def test_identical_sets_score_one_overall_and_in_every_class(tmp_path: Path) -> None:
    real = image_set(np.arange(24) % 2, 1)
    report = evaluate(real, real, tmp_path / "r", metrics=["prdc"])
    section = report.data["metrics"]["prdc"]["real_fake"]
    for scores in [section, *section["per_class"]]:
        assert (scores["precision"], scores["recall"], scores["coverage"]) == (1.0, 1.0, 1.0)
    assert section["n_real"] == section["n_fake"] == 24
    assert [c["n_real"] for c in section["per_class"]] == [12, 12]


def test_the_larger_set_is_subsampled_to_the_smaller_and_scored_as_the_reference_computes(
    tmp_path: Path,
) -> None:
    real, fake = image_set(np.arange(20) % 2, 1), image_set(np.arange(36) % 2, 2)
    report = evaluate(real, fake, tmp_path / "r", metrics=["prdc"], options=EvaluationOptions(prdc_k=3))
    section = report.data["metrics"]["prdc"]
    assert section["k"] == 3 and section["real_fake"]["n_real"] == section["real_fake"]["n_fake"] == 20
    features = fidelity.extract_features(real.images, PooledPixels())
    fake_features = fidelity.extract_features(fake.images, PooledPixels())
    rows = np.sort(np.random.default_rng(0).choice(36, size=20, replace=False))  # the seeded draw
    expected = precision_recall_density_coverage(features, fake_features[rows], 3)
    assert section["real_fake"]["precision"] == pytest.approx(expected.precision)
    assert section["real_fake"]["density"] == pytest.approx(expected.density)
    assert section["real_real"]["n_real"] == 10  # two halves of the real set
    text = report.markdown
    assert "k = 3" in text and "subsampled at random (seed 0)" in text and "| real-real (halves) |" in text


def test_disjoint_sets_score_zero(tmp_path: Path) -> None:
    labels = np.arange(16) % 2
    real = image_set(labels, 1)
    fake = ImageSet(np.full_like(real.images, 1.0), labels, "white")
    scores = evaluate(real, fake, tmp_path / "r", metrics=["prdc"]).data["metrics"]["prdc"]["real_fake"]
    assert (scores["precision"], scores["recall"], scores["density"], scores["coverage"]) == (0, 0, 0, 0)


def test_a_class_with_k_or_fewer_images_is_one_line_or_skipped_on_request(tmp_path: Path) -> None:
    real, fake = image_set(np.arange(20) % 2, 1), image_set([0] * 10 + [1] * 4, 2)
    with pytest.raises(InputError) as error:
        evaluate(real, fake, tmp_path / "a", metrics=["prdc", "ssim"])
    message = str(error.value)
    assert "\n" not in message and "k+1 = 6" in message and "4 synthetic" in message
    assert "--prdc-k 3" in message and not (tmp_path / "a").exists()
    options = EvaluationOptions(unavailable="skip", ssim_pairs=5)
    report = evaluate(real, fake, tmp_path / "b", metrics=["prdc", "ssim"], options=options)
    assert set(report.data["metrics"]) == {"ssim"} and "k+1 = 6" in report.skipped["prdc"]
    assert "PRDC skipped" in report.markdown


def test_a_class_the_synthetic_set_lacks_is_left_out_not_refused(tmp_path: Path) -> None:
    real, fake = image_set(np.arange(20) % 2, 1), image_set([0] * 12, 2)
    section = evaluate(real, fake, tmp_path / "r", metrics=["prdc"]).data["metrics"]["prdc"]["real_fake"]
    assert section["per_class"][0]["n_real"] == 10 and np.isnan(section["per_class"][1]["precision"])
    assert section["per_class"][1]["n_fake"] == 0


def test_synthetic_images_of_a_class_the_real_set_lacks_are_refused(tmp_path: Path) -> None:
    real, fake = image_set([0] * 12, 1), image_set(np.arange(12) % 2, 2)
    with pytest.raises(InputError, match="6 synthetic image\\(s\\) of class 1, but the real images"):
        evaluate(real, fake, tmp_path / "r", metrics=["ssim"])
