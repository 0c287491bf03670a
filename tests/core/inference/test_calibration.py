"""Temperature scaling of the discriminator's classifier: fitted on the run's validation fold, stored beside
the checkpoint for that checkpoint only, applied only when asked."""

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import make_run_folder, write_data_folder
from pacgan_cli.core.config import resolve_config
from pacgan_cli.core.errors import InputError, OutputExistsError
from pacgan_cli.core.folds import validation_split
from pacgan_cli.core.inference import (
    ClassificationRequest,
    TemperatureRequest,
    classify,
    classify_images,
    fit_model_temperature,
    stored_temperature,
)
from pacgan_cli.core.inference.calibration import file_sha256
from pacgan_cli.core.io.run_layout import calibration_path
from pacgan_cli.core.io.stage_folder import open_stage_folder
from pacgan_cli.core.io.tables import read_csv
from pacgan_cli.core.metrics.calibration import fit_temperature
from pacgan_cli.core.metrics.classification import class_probabilities
from pacgan_cli.core.models.checkpoint import (
    load_checkpoint,
)


def test_the_temperature_is_fitted_on_the_validation_fold_training_held_out(tmp_path: Path) -> None:
    run = make_run_folder(tmp_path)
    outcome = fit_model_temperature(TemperatureRequest(run))
    checkpoint = run / "PACGAN_16x16" / "discriminator_best.pt"
    assert (
        outcome.path
        == calibration_path(checkpoint)
        == run / "PACGAN_16x16" / "discriminator_best.calibration.json"
    )
    folder = open_stage_folder(tmp_path / "data" / "train", sizes=[16])
    _, rows = validation_split(folder.labels, 5, resolve_config(run / "config.yaml").seed)
    images, labels = folder.read(16, rows)
    logits = classify_images(load_checkpoint(checkpoint), images).logits
    stored = json.loads(outcome.path.read_text())
    assert stored["temperature"] == pytest.approx(fit_temperature(logits, labels).temperature)
    assert stored["fitted_on"]["images"] == len(rows) and sum(stored["fitted_on"]["per_class"]) == len(rows)
    assert stored["checkpoint_sha256"] == file_sha256(checkpoint) and stored["checkpoint"] == checkpoint.name
    assert stored["after"]["cross_entropy"] <= stored["before"]["cross_entropy"]
    assert {"ece", "brier"} <= set(stored["before"]) and "validation fold" in stored["fitted_on"][
        "description"
    ]
    assert stored_temperature(checkpoint) == stored["temperature"]
    assert any(line.startswith("temperature ") for line in outcome.summary_lines())
    with pytest.raises(OutputExistsError, match="a temperature is stored already; pass --force"):
        fit_model_temperature(TemperatureRequest(run))
    fit_model_temperature(TemperatureRequest(checkpoint, force=True))  # a checkpoint inside the run folder


def test_probabilities_change_only_when_asked(tmp_path: Path) -> None:
    run = make_run_folder(tmp_path)
    images = tmp_path / "data" / "train" / "Real16x16.nii.gz"
    plain = classify(ClassificationRequest(images, run, output=tmp_path / "plain.csv"))
    checkpoint = load_checkpoint(run / "PACGAN_16x16" / "discriminator_best.pt")
    in_memory = classify_images(checkpoint, open_stage_folder(images.parent, sizes=[16]).read(16)[0])
    assert np.array_equal(plain.result.probabilities, in_memory.probabilities)  # bit for bit, as published
    assert plain.result.temperature is None
    temperature = fit_model_temperature(TemperatureRequest(run)).data["temperature"]
    again = classify(ClassificationRequest(images, run, output=tmp_path / "again.csv"))
    assert np.array_equal(again.result.probabilities, plain.result.probabilities)
    calibrated = classify(
        ClassificationRequest(images, run, output=tmp_path / "calibrated.csv", calibrated=True)
    )
    expected = class_probabilities(plain.result.logits, temperature)
    assert np.allclose(calibrated.result.probabilities, expected, rtol=0, atol=1e-12)
    assert calibrated.result.temperature == temperature
    assert "temperature" in calibrated.summary_lines()[0]
    written = read_csv(tmp_path / "calibrated.csv")[["Class 0", "Class 1"]].to_numpy()
    assert np.allclose(written, expected, atol=1e-12)


def test_a_temperature_of_another_checkpoint_is_refused(tmp_path: Path) -> None:
    run = make_run_folder(tmp_path)
    fit_model_temperature(TemperatureRequest(run))
    retrained = make_run_folder(tmp_path / "retrained", seed=1) / "PACGAN_16x16" / "discriminator_best.pt"
    checkpoint = run / "PACGAN_16x16" / "discriminator_best.pt"
    checkpoint.write_bytes(retrained.read_bytes())
    with pytest.raises(InputError, match=r"was fitted for another discriminator_best\.pt"):
        stored_temperature(checkpoint)
    with pytest.raises(InputError, match="was fitted for another"):
        classify(ClassificationRequest(tmp_path / "data/train/Real16x16.nii.gz", run, calibrated=True))


def test_without_a_stored_temperature_calibrated_says_how_to_fit_one(tmp_path: Path) -> None:
    run = make_run_folder(tmp_path)
    with pytest.raises(InputError) as error:
        classify(ClassificationRequest(tmp_path / "data/train/Real16x16.nii.gz", run, calibrated=True))
    assert "no temperature is stored for it (discriminator_best.calibration.json not found)" in str(
        error.value
    )
    assert "pacgan classify --fit-temperature --model RUN_FOLDER" in str(error.value)
    assert "\n" not in str(error.value)


def test_a_run_without_validation_needs_calibration_data(tmp_path: Path) -> None:
    run = make_run_folder(tmp_path, validate=False)
    with pytest.raises(
        InputError, match=r"trained without validation \(validate: false\).*--calibration-data"
    ):
        fit_model_temperature(TemperatureRequest(run))
    held_out = write_data_folder(tmp_path / "held_out", 12, 16, seed=5)
    outcome = fit_model_temperature(TemperatureRequest(run, calibration_data=held_out))
    assert (
        outcome.data["fitted_on"]["images"] == 12 and "held_out" in outcome.data["fitted_on"]["description"]
    )


def test_a_checkpoint_outside_a_run_folder_needs_calibration_data(tmp_path: Path) -> None:
    run = make_run_folder(tmp_path)
    alone = tmp_path / "D.pt"
    alone.write_bytes((run / "PACGAN_16x16" / "discriminator_best.pt").read_bytes())
    with pytest.raises(InputError, match=r"no run folder with config\.yaml around it"):
        fit_model_temperature(TemperatureRequest(alone))
    held_out = write_data_folder(tmp_path / "held_out", 12, 16, seed=5)
    assert fit_model_temperature(TemperatureRequest(alone, calibration_data=held_out)).path == tmp_path / (
        "D.calibration.json"
    )
