"""Temperature scaling of the discriminator's classifier: fitted on held-out real images, stored beside the
checkpoint, applied only when asked (`pacgan classify --fit-temperature`, `--calibrated`).

The held-out images are by default the run's own validation fold, rebuilt exactly as training split it
(the run's config.yaml: training folder and labels, `validation_folds`, `seed`; `validation_split`), so no
image the classifier learnt from is used. The fold also chose the best epoch, so it is not untouched: the
fit is the standard one (Guo et al. 2017), not an independent test. The sidecar records the SHA-256 of the
checkpoint it was fitted for, and a sidecar of another checkpoint (say, after retraining) is refused.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pacgan_cli.core.errors import InputError, OutputExistsError, error_reason
from pacgan_cli.core.inference.network import (
    InferenceSettings,
    find_model,
    open_model,
    resolve_stage,
    start_on_device,
)
from pacgan_cli.core.io.atomic import write_json_atomic
from pacgan_cli.core.io.images import read_unit_images
from pacgan_cli.core.io.run_layout import RunLayout, calibration_path
from pacgan_cli.core.io.stage_folder import open_stage_folder
from pacgan_cli.core.metrics.calibration import (
    TEMPERATURE_RANGE,
    brier_score,
    expected_calibration_error,
    fit_temperature,
)
from pacgan_cli.core.metrics.classification import class_probabilities
from pacgan_cli.core.models.checkpoint import DISCRIMINATOR
from pacgan_cli.core.progress import Reporter, SilentReporter
from pacgan_cli.core.stages import stage_size

SIDECAR_FORMAT = 1
FIT_HINT = "fit one with `pacgan classify --fit-temperature --model RUN_FOLDER`"
METHOD = (
    "one temperature T for all classes, probabilities softmax(logits / T); T minimises the mean "
    f"cross-entropy on the fitting images (bounded search on log T, T in [{TEMPERATURE_RANGE[0]:g}, "
    f"{TEMPERATURE_RANGE[1]:g}]); Guo et al. 2017"
)


@dataclass(frozen=True)
class TemperatureRequest:
    """Fit a temperature for `model` (a run folder, a checkpoint inside one, or any discriminator checkpoint
    with `calibration_data`; None: the run `pacgan train` last trained from the current folder): on the run's
    validation fold, or on `calibration_data` (a data folder, `Real{S}x{S}.nii.gz` + labels.csv, of real
    images the model was not trained on)."""

    model: str | os.PathLike[str] | None = None
    calibration_data: str | os.PathLike[str] | None = None
    reference: str | os.PathLike[str] | None = None  # real images to measure the batch statistic on
    force: bool = False


@dataclass(frozen=True)
class TemperatureOutcome:
    """The sidecar written and what it holds."""

    path: Path
    data: dict[str, Any]

    def summary_lines(self) -> list[str]:
        data, before, after = self.data, self.data["before"], self.data["after"]
        return [
            f"temperature {data['temperature']:.4g} fitted on {data['fitted_on']['images']} images "
            f"({data['fitted_on']['description']})",
            f"cross-entropy {before['cross_entropy']:.3f} -> {after['cross_entropy']:.3f}, "
            f"ECE {before['ece']:.3f} -> {after['ece']:.3f}, Brier {before['brier']:.3f} -> {after['brier']:.3f}",
            f"wrote {self.path} (used by `pacgan classify --calibrated`)",
        ]


def fit_model_temperature(
    request: TemperatureRequest,
    settings: InferenceSettings = InferenceSettings(),
    reporter: Reporter | None = None,
) -> TemperatureOutcome:
    """`pacgan classify --fit-temperature`: rebuild the held-out images, classify them, fit T, write the
    sidecar beside the checkpoint (not over an existing one without `force`)."""
    from pacgan_cli.core.inference.classify import classify_images  # which imports this module

    path, note = find_model(request.model, DISCRIMINATOR)
    target = calibration_path(path)
    if target.exists() and not request.force:
        raise OutputExistsError(f"{target}: a temperature is stored already; pass --force to fit it again")
    checkpoint = open_model(request.model, path, DISCRIMINATOR)
    size = stage_size(resolve_stage(checkpoint, None))
    architecture = checkpoint.architecture
    if request.calibration_data is not None:
        folder = open_stage_folder(
            request.calibration_data,
            sizes=[size],
            image_channels=architecture.image_channels,
            num_classes=architecture.num_classes,
            require_subject=False,
        )
        images, labels = folder.read(size)
        description = f"{folder.stack_path(size)}, all listed images"
    else:
        images, labels, description = _validation_fold(_run_folder(request.model, path), size)
    reference = read_unit_images(request.reference) if request.reference is not None else None
    device, reporter = start_on_device(
        settings, checkpoint, reporter or SilentReporter(), "fitting a temperature", note
    )
    result = classify_images(
        checkpoint,
        images,
        reference=reference,
        batch_size=settings.batch_size,
        device=device,
        reporter=reporter,
    )
    fit = fit_temperature(result.logits, labels)
    if fit.degenerate:
        raise InputError(_degenerate_message(fit.temperature, result.logits, labels, len(labels)))
    calibrated = class_probabilities(result.logits, fit.temperature)
    data = {
        "format_version": SIDECAR_FORMAT,
        "temperature": fit.temperature,
        "checkpoint": path.name,
        "checkpoint_sha256": file_sha256(path),
        "image_size": size,
        "fitted_on": {
            "description": description,
            "images": len(labels),
            "per_class": [int(c) for c in np.bincount(labels, minlength=architecture.num_classes)],
        },
        "batch_statistic": {"source": result.statistic_source, "value": result.statistic},
        "before": _scores(labels, result.probabilities, fit.cross_entropy_before),
        "after": _scores(labels, calibrated, fit.cross_entropy_after),
        "method": METHOD,
    }
    write_json_atomic(target, data)
    return TemperatureOutcome(target, data)


def stored_temperature(checkpoint: str | os.PathLike[str]) -> float:
    """The temperature stored beside `checkpoint`, after checking that it was fitted for this very file."""
    checkpoint = Path(checkpoint)
    sidecar = calibration_path(checkpoint)
    if not sidecar.is_file():
        raise InputError(
            f"{checkpoint}: no temperature is stored for it ({sidecar.name} not found); {FIT_HINT}"
        )
    try:
        data = json.loads(sidecar.read_text())
        temperature = float(data["temperature"])
        fitted_for = str(data["checkpoint_sha256"])
    except (ValueError, KeyError, TypeError) as error:
        raise InputError(
            f"{sidecar}: not a temperature file of pacgan ({error_reason(error)}); {FIT_HINT}"
        ) from error
    if not (math.isfinite(temperature) and temperature > 0):
        raise InputError(
            f"{sidecar}: the temperature must be a positive number; got {temperature}; {FIT_HINT}"
        )
    if fitted_for != file_sha256(checkpoint):
        raise InputError(
            f"{sidecar}: was fitted for another {checkpoint.name} (its SHA-256 differs, e.g. after retraining "
            f"or resuming); {FIT_HINT}"
        )
    return temperature


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _run_folder(model: str | os.PathLike[str] | None, checkpoint: Path) -> Path:
    """The run folder holding config.yaml: `model` itself when a folder, else two levels above the
    checkpoint (`RUN/PACGAN_{S}x{S}/discriminator_best.pt`, also the checkpoint found in the last run)."""
    run = Path(model) if model is not None and Path(model).is_dir() else checkpoint.parent.parent
    if not RunLayout(run, run).config_path.is_file():
        raise InputError(
            f"{checkpoint}: no run folder with config.yaml around it, so its validation fold is unknown; pass the "
            "run folder of `pacgan train` as --model, or --calibration-data FOLDER with labelled real images the "
            "model was not trained on"
        )
    return run


def _validation_fold(run: Path, size: int) -> tuple[np.ndarray, np.ndarray, str]:
    """The run's held-out validation fold at `size`, split exactly as training split it."""
    from pacgan_cli.core.config import resolve_config
    from pacgan_cli.core.folds import validation_split

    config_path = RunLayout(run, run).config_path
    config = resolve_config(config_path)
    if not config.validate:
        raise InputError(
            f"{run} was trained without validation (validate: false), so it holds out no fold to fit a "
            "temperature on; pass --calibration-data FOLDER with labelled real images the model was not trained on"
        )
    folder = Path(config.data_train_directory)
    if not folder.is_dir():
        raise InputError(
            f"{config_path} names the training data {folder}, which is not found from here (relative paths are "
            "read from the current folder, as training read them); run from where training ran, or pass "
            "--calibration-data FOLDER"
        )
    data = open_stage_folder(
        folder,
        config.label_train_directory,
        [size],
        image_channels=config.image_channels,
        num_classes=config.class_size,
    )
    _, rows = validation_split(data.labels, config.validation_folds, config.seed)
    images, labels = data.read(size, rows)
    description = (
        f"the validation fold of {folder} as training held it out: {config.validation_folds} folds, seed "
        f"{config.seed}"
    )
    return images, labels, description


def _scores(labels: np.ndarray, probabilities: np.ndarray, cross_entropy: float) -> dict[str, float]:
    return {
        "cross_entropy": cross_entropy,
        "ece": expected_calibration_error(labels, probabilities),
        "brier": brier_score(labels, probabilities),
    }


def _degenerate_message(temperature: float, logits: np.ndarray, labels: np.ndarray, count: int) -> str:
    if bool((logits.argmax(axis=1) == labels).all()):
        why = (
            f"all {count} images are classified right, so the cross-entropy keeps falling as T -> 0 and has "
            "no minimum"
        )
    else:
        why = f"T reached the edge of its range ({temperature:.3g})"
    return f"no temperature can be fitted: {why}; fit on more held-out images with --calibration-data FOLDER"
