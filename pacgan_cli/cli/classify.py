"""`pacgan classify`: class probabilities for a stack of images from a trained discriminator."""

from __future__ import annotations

from pathlib import Path

import typer

from pacgan_cli.cli.options import (
    ClassNamesOption,
    CompileOption,
    DeviceOption,
    ForceOption,
    PrecisionOption,
    QuietOption,
    ThreadsOption,
    class_name_list,
)
from pacgan_cli.core.errors import ConfigError


def classify_command(
    images: Path | None = typer.Argument(
        None,
        help="Image stack (.nii.gz, [W, H, C, N]), or one 2D image (NIfTI, PNG, TIFF, DICOM); optional with "
        "--fit-temperature.",
    ),
    model: Path | None = typer.Option(
        None,
        "--model",
        "-m",
        help="Discriminator checkpoint (ours or the published format), or a run folder: its largest stage's "
        "discriminator_best.pt (default: the run `pacgan train` last trained from this folder).",
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Predictions CSV (published column layout; default: <stem>_predictions.csv beside the images).",
    ),
    labels: Path | None = typer.Option(
        None, "--labels", help="labels.csv of the images: adds accuracy, ROC AUC, confusion matrix and PNGs."
    ),
    reference: Path | None = typer.Option(
        None, "--reference", help="Real images (same size) to measure the batch statistic from."
    ),
    batch_statistic: str = typer.Option(
        "auto",
        "--batch-statistic",
        help="auto: one fixed statistic (checkpoint's, or from --reference) so each prediction depends on its "
        "image only; published: the whole file as one batch.",
    ),
    fit_temperature: bool = typer.Option(
        False,
        "--fit-temperature",
        help="Fit a temperature on the run's validation fold (or --calibration-data) and store it beside the "
        "checkpoint; the probabilities change only with --calibrated.",
    ),
    calibration_data: Path | None = typer.Option(
        None,
        "--calibration-data",
        help="With --fit-temperature: a data folder (labels.csv + Real{S}x{S}.nii.gz) of real images the model "
        "was not trained on, instead of the run's validation fold.",
    ),
    calibrated: bool = typer.Option(
        False,
        "--calibrated",
        help="Divide the class scores by the stored temperature before the softmax (default: the published "
        "softmax, unchanged).",
    ),
    class_names: list[str] | None = ClassNamesOption,
    batch_size: int = typer.Option(
        64, "--batch-size", help="Images per forward pass; does not change results."
    ),
    device: str = DeviceOption,
    threads: int | None = ThreadsOption,
    precision: str | None = PrecisionOption,
    compile_model: bool = CompileOption,
    force: bool = ForceOption,
    quiet: bool = QuietOption,
) -> None:
    """Classify images with the discriminator's auxiliary head; softmax probabilities per class."""
    if images is None and not fit_temperature:
        raise ConfigError("give the IMAGES to classify (or --fit-temperature to fit a temperature only)")
    if calibration_data is not None and not fit_temperature:
        raise ConfigError("--calibration-data is read by --fit-temperature only")

    from pacgan_cli.cli.progress import progress_reporter
    from pacgan_cli.core.inference import (
        ClassificationRequest,
        InferenceSettings,
        TemperatureRequest,
        classify,
        fit_model_temperature,
    )

    settings = InferenceSettings(batch_size, device, precision or "fp32", compile_model, threads)
    if fit_temperature:
        fitting = TemperatureRequest(model, calibration_data, reference, force)
        with progress_reporter(quiet) as reporter:
            fitted = fit_model_temperature(fitting, settings, reporter)
        for line in fitted.summary_lines():
            typer.echo(line)
        if images is None:
            return
    request = ClassificationRequest(
        images,
        model,
        output=output,
        labels=labels,
        reference=reference,
        statistic_mode=batch_statistic,
        class_names=class_name_list(class_names),
        calibrated=calibrated,
        force=force,
    )
    with progress_reporter(quiet) as reporter:
        outcome = classify(request, settings, reporter)
    for line in outcome.summary_lines():
        typer.echo(line)
    for path in outcome.files:
        typer.echo(f"wrote {path}")
