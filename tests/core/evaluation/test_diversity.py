"""The diversity section of `evaluate`: synthetic pairs next to real pairs, and what the report says."""

from pathlib import Path

import numpy as np
import pytest

from pacgan_cli.core.evaluation.evaluate import evaluate
from pacgan_cli.core.evaluation.inputs import ImageSet
from pacgan_cli.core.evaluation.options import EvaluationOptions
from pacgan_cli.core.metrics.diversity import ms_ssim


def varied_images(count: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(-0.8, 0.8, size=(count, 1, size // 4, size // 4))
    images = np.kron(coarse, np.ones((4, 4))) + rng.normal(0, 0.1, size=(count, 1, size, size))
    return np.clip(images, -1, 1).astype(np.float32)


def sets(size: int) -> tuple[ImageSet, ImageSet]:
    labels = np.arange(16) % 2
    real = ImageSet(varied_images(16, size, 1), labels, "real")
    # A collapsed generator: one image per class, barely perturbed.
    base = varied_images(2, size, 2)
    noise = np.random.default_rng(3).normal(0, 0.02, size=(16, 1, size, size))
    fake = ImageSet(np.clip(base[labels] + noise, -1, 1).astype(np.float32), labels, "fake")
    return real, fake


def test_a_collapsed_generator_scores_higher_than_real_pairs(tmp_path: Path) -> None:
    real, fake = sets(32)
    report = evaluate(real, fake, tmp_path / "r", metrics=["diversity"])
    section = report.data["metrics"]["diversity"]
    assert section["synthetic"]["mean"] > 0.9 > section["real"]["mean"]
    assert section["difference"] == pytest.approx(section["synthetic"]["mean"] - section["real"]["mean"])
    assert [c["pairs"] for c in section["real"]["per_class"]] == [28, 28]  # 8 images: every pair once
    first = real.images[real.labels == 0]
    pairs = [ms_ssim(first[[i]], first[[j]])[0] for i in range(8) for j in range(i)]
    assert section["real"]["per_class"][0]["mean"] == pytest.approx(np.mean(pairs), abs=1e-6)
    assert section["scales"] == 2 and "2 of the 5 standard scales" in report.markdown
    assert "torchmetrics" in report.markdown and "less diverse" in report.markdown
    assert any(line.startswith("MS-SSIM diversity: synthetic") for line in report.summary_lines())


def test_small_images_get_one_scale_with_a_smaller_window_and_the_report_says_so(tmp_path: Path) -> None:
    real, fake = sets(8)
    options = EvaluationOptions(diversity_pairs=5)
    report = evaluate(real, fake, tmp_path / "r", metrics=["diversity"], options=options)
    section = report.data["metrics"]["diversity"]
    assert (section["scales"], section["window"]) == (1, 7)
    assert "one scale with a 7 px window" in report.markdown
    assert [c["pairs"] for c in section["synthetic"]["per_class"]] == [5, 5]
    assert report.data["settings"]["diversity"]["pairs_per_class"] == 5
