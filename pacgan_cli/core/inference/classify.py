"""Classifying images with a trained discriminator's auxiliary head, with a batch statistic that does not
depend on which other images are in the batch.

`classify` is `pacgan classify` (load, check, run, write); `classify_images` works on images in memory."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pacgan_cli.core.classes import resolve_class_names
from pacgan_cli.core.errors import ConfigError, InputError
from pacgan_cli.core.inference.calibration import stored_temperature
from pacgan_cli.core.inference.network import (
    InferenceSettings,
    check_images,
    fade_alpha,
    find_model,
    open_model,
    prepare_for_inference,
    resolve_stage,
    start_on_device,
)
from pacgan_cli.core.io.atomic import ensure_can_write, ensure_distinct, write_json_atomic
from pacgan_cli.core.io.images import read_unit_images
from pacgan_cli.core.io.nifti import nifti_stem
from pacgan_cli.core.io.tables import read_labels, write_predictions
from pacgan_cli.core.metrics.classification import (
    ClassificationReport,
    class_log_odds,
    class_probabilities,
    classification_report,
)
from pacgan_cli.core.models.checkpoint import DISCRIMINATOR, LoadedCheckpoint
from pacgan_cli.core.models.discriminator import measure_batch_statistic
from pacgan_cli.core.progress import Reporter, SilentReporter
from pacgan_cli.core.runtime import compile_module, forward_precision
from pacgan_cli.core.stages import stage_size

STATISTIC_AUTO = "auto"
STATISTIC_PUBLISHED = "published"
BATCH_STATISTIC_MODES = (STATISTIC_AUTO, STATISTIC_PUBLISHED)


@dataclass(frozen=True)
class ClassificationRequest:
    """What `pacgan classify` does: class probabilities for `images` (a stack, or one 2D image: a NIfTI
    slice, PNG, TIFF, JPEG or DICOM file) from `model` (a checkpoint
    file or a loaded one, or the run folder of `pacgan train`: its largest stage's best discriminator; None:
    the run `pacgan train` last trained from the current folder), written to `output` (default
    `<stem>_predictions.csv` beside the images); with `labels` also the scores and their figures."""

    images: str | os.PathLike[str]
    model: str | os.PathLike[str] | LoadedCheckpoint | None = None
    output: str | os.PathLike[str] | None = None
    labels: str | os.PathLike[str] | None = None
    reference: str | os.PathLike[str] | None = None  # real images to measure the batch statistic on
    statistic_mode: str = STATISTIC_AUTO
    class_names: tuple[str, ...] = ()  # default: the names the model was trained with
    calibrated: bool = False  # divide the logits by the temperature stored beside the checkpoint
    force: bool = False


def classify(
    request: ClassificationRequest,
    settings: InferenceSettings = InferenceSettings(),
    reporter: Reporter | None = None,
) -> ClassificationOutcome:
    """`pacgan classify`: load the discriminator and the images (and labels, reference), classify, write.

    The outputs are checked (writable, none of them an input) before anything is read, and every input
    before the first image is classified; a note on the batch statistic goes to `reporter` and the result.
    With `calibrated`, the probabilities are softmax(logits / T) with the temperature stored beside the
    checkpoint (`calibration.stored_temperature`); otherwise the plain softmax, as published.
    """
    output = request.output if request.output is not None else default_predictions_path(request.images)
    path, note = find_model(request.model, DISCRIMINATOR)
    inputs = {"IMAGES": request.images, "--labels": request.labels, "--reference": request.reference}
    targets = classification_targets(output, request.labels is not None, inputs | {"--model": path})
    ensure_can_write(*targets, force=request.force)
    temperature = stored_temperature(path) if request.calibrated else None
    checkpoint = open_model(request.model, path, DISCRIMINATOR)
    num_classes = checkpoint.architecture.num_classes
    names = resolve_class_names(request.class_names, checkpoint.config, num_classes)
    images = read_unit_images(request.images)
    labels = None
    if request.labels is not None:
        labels = read_labels(
            request.labels, image_count=len(images), num_classes=num_classes, require_subject=False
        )
    reference = read_unit_images(request.reference) if request.reference is not None else None
    device, reporter = start_on_device(
        settings, checkpoint, reporter or SilentReporter(), "classifying", note
    )
    result = classify_images(
        checkpoint,
        images,
        statistic_mode=request.statistic_mode,
        reference=reference,
        batch_size=settings.batch_size,
        device=device,
        precision=settings.precision,
        compile_model=settings.compile_model,
        reporter=reporter,
    )
    if result.note:
        reporter.message(result.note)
    if temperature is not None:
        result = replace(
            result, probabilities=class_probabilities(result.logits, temperature), temperature=temperature
        )
    source = Path(request.images).name
    return write_classification(
        result, output, source=source, labels=labels, class_names=names, force=request.force
    )


@dataclass(frozen=True)
class ClassificationResult:
    """Class probabilities `[N, K]` (softmax of the auxiliary head), its class scores (logits, float64) and
    how the batch statistic was chosen.

    `statistic_source` is one of `checkpoint`, `reference`, `published` (the classified images as one
    batch); `note` is a line worth showing the user, or empty. `temperature` is the stored temperature the
    probabilities were divided by (`pacgan classify --calibrated`), None when they are the plain softmax.
    """

    probabilities: np.ndarray
    size: int
    statistic: float
    statistic_source: str
    note: str
    logits: np.ndarray
    temperature: float | None = None

    @property
    def predictions(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)


def classify_images(
    checkpoint: LoadedCheckpoint,
    images: np.ndarray,
    *,
    statistic_mode: str = STATISTIC_AUTO,
    reference: np.ndarray | None = None,
    reference_statistic: float | None = None,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    compile_model: bool = False,
    reporter: Reporter | None = None,
) -> ClassificationResult:
    """Class probabilities for `images` `[N, C, S, S]` in [-1, 1]; the stage comes from S.

    The minibatch-stddev layer would make a prediction depend on the other images in its batch. In `auto`
    mode one fixed statistic is used for every image: measured on `reference` images when given, else the
    one stored in the checkpoint; a checkpoint without one falls back to `published` (the statistic of all
    `images` together, exactly as if the whole file were one batch) with a note. `reference_statistic` is
    one an earlier call measured on reference images, reused instead of measuring it again. NaN or infinite
    class scores (damaged weights) are an error, never written as predictions.
    """
    if checkpoint.kind != DISCRIMINATOR:
        raise InputError(f"{checkpoint.path}: this is a {checkpoint.kind}; classifying needs a discriminator")
    if statistic_mode not in BATCH_STATISTIC_MODES:
        raise ConfigError(f"--batch-statistic must be auto or published; got {statistic_mode!r}")
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1; got {batch_size}")
    check_images(images, checkpoint, "the images")
    stage = resolve_stage(checkpoint, images.shape[-1])
    alpha = fade_alpha(checkpoint, stage)
    model = prepare_for_inference(checkpoint.model, device)
    tensor = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    if statistic_mode == STATISTIC_AUTO and reference_statistic is not None:
        statistic, source, note = reference_statistic, "reference", ""
    else:
        statistic, source, note = _choose_statistic(
            checkpoint, tensor, statistic_mode, reference, stage, alpha, batch_size
        )
    reporter = reporter or SilentReporter()
    reporter.stage_started("classify", len(images))
    logits = fixed_statistic_logits(
        compile_module(model, compile_model),
        tensor,
        alpha,
        stage,
        statistic,
        checkpoint.architecture.num_classes,
        batch_size=batch_size,
        device=device,
        precision=precision,
        reporter=reporter,
    )
    if not bool(torch.isfinite(logits).all()):
        raise InputError(
            f"{checkpoint.path}: the discriminator gave NaN or infinite class scores; its weights or "
            "batch statistic are damaged (use another checkpoint)"
        )
    logits = logits.double().cpu().numpy()
    reporter.stage_finished()
    return ClassificationResult(
        probabilities=class_probabilities(logits),
        size=images.shape[-1],
        statistic=statistic,
        statistic_source=source,
        note=note,
        logits=logits,
    )


@torch.inference_mode()
def fixed_statistic_logits(
    model: torch.nn.Module,
    images: torch.Tensor,
    alpha: float,
    stage: int,
    statistic: float,
    num_classes: int,
    *,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    reporter: Reporter | None = None,
) -> torch.Tensor:
    """The auxiliary head's class scores `[N, K]` (the K that classify real images, whatever the head) for
    `images` `[N, C, S, S]`, batch by batch with one fixed minibatch statistic, so that no image's scores depend on the others in its batch. The one loop for
    classify, evaluate and training's test and validation scores.

    Scores stay on the device until the end: no host synchronisation between batches, so on a GPU the next
    batch's copy overlaps this batch's forward.
    """
    on_gpu = torch.device(device).type == "cuda"
    scores = []
    with forward_precision(device, precision):
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size]
            batch = (batch.pin_memory() if on_gpu else batch).to(
                device, memory_format=torch.channels_last, non_blocking=on_gpu
            )
            scores.append(model(batch, alpha, stage, batch_statistic=statistic)[1][:, :num_classes])
            if reporter is not None:
                reporter.advance(len(batch))
    return torch.cat(scores).float()


@dataclass(frozen=True)
class ClassificationOutcome:
    """What `write_classification` was given and wrote and, when labels were given, the scores against them."""

    result: ClassificationResult
    files: list[Path]
    report: ClassificationReport | None
    class_names: tuple[str, ...] = ()

    def summary_lines(self) -> list[str]:
        """How many images, the batch statistic used, and with labels the scores."""
        result = self.result
        calibration = f", temperature {result.temperature:.4g}" if result.temperature is not None else ""
        lines = [
            f"{len(result.probabilities)} images {result.size}x{result.size} classified "
            f"(batch statistic: {result.statistic_source}, {result.statistic:.6g}{calibration})"
        ]
        if self.report is None:
            return lines
        report = self.report
        values = ["n/a" if np.isnan(v) else f"{v:.3f}" for v in report.auc_per_class]
        if self.class_names:
            values = [f"{name} {value}" for name, value in zip(self.class_names, values, strict=True)]
        per_class = ", ".join(values)
        return [
            *lines,
            f"accuracy {report.accuracy:.3f}  cross-entropy {report.cross_entropy:.3f}",
            f"ROC AUC macro {report.auc_macro:.3f}  per class [{per_class}]",
            f"confusion matrix (rows: true class) {report.confusion.tolist()}",
        ]


def default_predictions_path(images: str | os.PathLike[str]) -> Path:
    """`<stem>_predictions.csv` beside the classified images (`scans.nii.gz` -> `scans_predictions.csv`), so
    that two stacks in one folder keep their own predictions. (The published `Discriminator.py` writes
    `predictions.csv`; the columns are the same.)"""
    images = Path(images)
    return images.with_name(f"{nifti_stem(images)}_predictions.csv")


def classification_targets(
    path: str | os.PathLike[str],
    with_labels: bool,
    inputs: dict[str, str | os.PathLike[str] | None] | None = None,
) -> list[Path]:
    """The files `write_classification` writes: the CSV, and with labels `<stem>_metrics.json` and two PNGs;
    a ConfigError if one of them is one of the command's `inputs` (option name -> path)."""
    path = Path(path)
    stem = path.with_suffix("")
    extra = [Path(f"{stem}_metrics.json"), Path(f"{stem}_roc.png"), Path(f"{stem}_confusion.png")]
    targets = [path, *extra] if with_labels else [path]
    ensure_distinct({"--output": path} | {f"the file {target}": target for target in targets[1:]}, inputs)
    return targets


def write_classification(
    result: ClassificationResult,
    path: str | os.PathLike[str],
    *,
    source: str,
    labels: pd.DataFrame | None = None,
    class_names: Sequence[str] = (),
    force: bool = False,
) -> ClassificationOutcome:
    """Write the predictions CSV; with a labels table (`read_labels`) also the scores and ROC/confusion PNGs.

    The scores use the images listed in the labels table (by ID); `class_names` label the figures and
    the scores file, while the CSV keeps the published `Class 0`, `Class 1`, ... columns.
    """
    from pacgan_cli.core.figures import save_classification_figures

    targets = classification_targets(path, labels is not None)
    ensure_can_write(*targets, force=force)
    write_predictions(targets[0], result.probabilities, source, force=True)
    if labels is None:
        return ClassificationOutcome(result, targets, None)
    true, rows = labels["Label"].to_numpy(), labels["ID"].to_numpy()
    temperature = result.temperature or 1.0
    report = classification_report(true, result.logits[rows], temperature)
    data = {
        **report.to_data(),
        "images": len(true),
        "class_names": list(class_names),
        "batch_statistic": {"source": result.statistic_source, "value": result.statistic},
        "temperature": result.temperature,
    }
    write_json_atomic(targets[1], data)
    save_classification_figures(
        targets[2],
        targets[3],
        report,
        true,
        class_log_odds(result.logits[rows], temperature),
        source,
        class_names,
    )
    return ClassificationOutcome(result, targets, report, tuple(class_names))


def _choose_statistic(
    checkpoint: LoadedCheckpoint,
    images: torch.Tensor,
    mode: str,
    reference: np.ndarray | None,
    stage: int,
    alpha: float,
    batch_size: int,
) -> tuple[float, str, str]:
    model = checkpoint.model
    if mode == STATISTIC_AUTO and reference is not None:
        check_images(reference, checkpoint, "the reference images")
        if reference.shape[-1] != images.shape[-1]:
            raise InputError(
                f"the reference images are {reference.shape[-1]}x{reference.shape[-1]} but the images to classify "
                f"are {images.shape[-1]}x{images.shape[-1]}; use reference images of the same size"
            )
        if len(reference) < 2:
            raise InputError("the reference stack needs at least 2 images to measure the batch statistic")
        reference_tensor = torch.from_numpy(np.ascontiguousarray(reference, dtype=np.float32))
        return measure_batch_statistic(model, reference_tensor, alpha, stage, batch_size), "reference", ""
    if mode == STATISTIC_AUTO and checkpoint.batch_statistic is not None:
        if checkpoint.stage is not None and checkpoint.stage != stage:
            raise InputError(
                f"{checkpoint.path}: its stored batch statistic belongs to size {stage_size(checkpoint.stage)}, "
                f"not {images.shape[-1]}; pass --reference with real images of this size"
            )
        return checkpoint.batch_statistic, "checkpoint", ""
    if len(images) < 2:
        raise InputError(
            f"{checkpoint.path}: has no stored batch statistic and one image has no spread; "
            "pass --reference STACK with real images of the same size to measure it"
        )
    statistic = measure_batch_statistic(model, images, alpha, stage, batch_size)
    note = ""
    if mode == STATISTIC_AUTO:
        note = (
            "note: the checkpoint stores no batch statistic, so the whole file was used as one batch "
            "(published behaviour; predictions depend on which images are in the file); "
            "pass --reference STACK to make them independent"
        )
    return statistic, "published", note
