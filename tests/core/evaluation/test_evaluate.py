"""`evaluate` and `generate_and_evaluate`: every metric written, missing weights, bad inputs, the end of a run."""

import json
from pathlib import Path

import pytest

from helpers import PooledPixels, separable_set, write_data_folder
from pacgan_cli.core.errors import ConfigError, InputError, OutputExistsError
from pacgan_cli.core.evaluation.evaluate import evaluate, generate_and_evaluate
from pacgan_cli.core.evaluation.options import EvaluationOptions
from pacgan_cli.core.metrics import fidelity
from pacgan_cli.core.models.checkpoint import GENERATOR, NetworkArchitecture, save_checkpoint


def test_evaluate_writes_every_metric_and_fid_matches_the_reference(small_extractor, tmp_path: Path) -> None:
    real, fake, train = separable_set(24, 1), separable_set(20, 2), separable_set(30, 3)
    options = EvaluationOptions(ssim_pairs=50, kid_subsets=5, kid_subset_size=8)
    report = evaluate(real, fake, tmp_path / "report", train=train, options=options)
    data = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert set(data["metrics"]) == {
        "augmentation_gain",
        "fid",
        "kid",
        "prdc",
        "ssim",
        "diversity",
        "tstr",
        "memorisation",
        "artifacts",
    }
    extractor = PooledPixels()
    expected = fidelity.frechet_distance(
        fidelity.extract_features(real.images, extractor), fidelity.extract_features(fake.images, extractor)
    )
    assert data["metrics"]["fid"]["real_fake"] == pytest.approx(expected)
    kid = data["metrics"]["kid"]["real_fake"]
    assert kid["subset_size"] == 8 and [c["subset_size"] for c in kid["per_class"]] == [8, 8]
    assert data["metrics"]["kid"]["real_real"]["per_class"][0]["subset_size"] == 6  # halves of 12
    assert data["settings"]["inception"]["resize"] == "antialias"
    assert data["metrics"]["memorisation"]["baseline"] == "held-out"
    text = (tmp_path / "report" / "report.md").read_text()
    for heading in ("## FID", "## KID", "## SSIM", "## Memorisation", "InceptionV3 resize: antialias"):
        assert heading in text
    assert {p.name for p in report.files} >= {"metrics.json", "report.md", "samples.png", "closest_pairs.png"}
    assert any(line.startswith("FID real-fake") for line in report.summary_lines())


def test_missing_weights_stop_with_one_line_or_are_skipped_on_request(no_weights, tmp_path: Path) -> None:
    real, fake = separable_set(10, 1), separable_set(10, 2)
    with pytest.raises(InputError) as error:
        evaluate(real, fake, tmp_path / "a")
    assert "\n" not in str(error.value) and "--inception-weights" in str(error.value)
    options = EvaluationOptions(ssim_pairs=10, unavailable="skip")
    report = evaluate(real, fake, tmp_path / "b", options=options)
    assert set(report.skipped) == {"fid", "kid", "prdc"}
    assert "FID skipped" in report.markdown and "KID skipped" in report.markdown
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["skipped"]["fid"]
    only = evaluate(real, fake, tmp_path / "c", metrics=["ssim", "memorisation"], options=options)
    assert "Not computed (not requested): fid, kid" in only.markdown


def test_bad_inputs_give_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="real images are 16x16"):
        evaluate(separable_set(10, 1), separable_set(10, 2, size=8), tmp_path / "r", metrics=["ssim"])
    with pytest.raises(ConfigError, match="unknown metric 'psnr'"):
        evaluate(separable_set(10, 1), separable_set(10, 2), tmp_path / "r", metrics=["psnr"])
    evaluate(separable_set(10, 1), separable_set(10, 2), tmp_path / "r", metrics=["ssim"])
    with pytest.raises(OutputExistsError):
        evaluate(separable_set(10, 1), separable_set(10, 2), tmp_path / "r", metrics=["ssim"])


def test_generate_and_evaluate_at_the_end_of_a_run(no_weights, tmp_path: Path) -> None:
    data = write_data_folder(tmp_path / "test", 12, 16)
    train = write_data_folder(tmp_path / "train", 20, 16, seed=3)
    architecture = NetworkArchitecture(8, (1.0, 1.0, 1.0), 1, 2, 6, 2)
    generator = save_checkpoint(
        tmp_path / "G.pt", architecture.build(GENERATOR), architecture, epoch=1, stage=2, alpha=1.0
    )
    options = EvaluationOptions(ssim_pairs=20, kid_subsets=2, unavailable="skip")
    report = generate_and_evaluate(
        generator, [10], data, tmp_path / "run", train_images=train, options=options
    )
    assert (tmp_path / "run" / "generated" / "Synthetic16x16.nii.gz").is_file()
    assert (tmp_path / "run" / "generated" / "labels_syn.csv").is_file()
    assert report.report_path == tmp_path / "run" / "evaluation" / "report.md"
    assert set(report.skipped) == {"fid", "kid", "prdc"}
    assert report.data["metrics"]["memorisation"]["baseline"] == "held-out"
