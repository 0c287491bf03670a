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


def classify_command(
    images: Path = typer.Argument(..., help="Image stack (.nii.gz, [W, H, C, N]) to classify."),
    model: Path = typer.Option(
        ...,
        "--model",
        "-m",
        help="Discriminator checkpoint (ours or the published format), or a run folder: its largest stage's "
        "discriminator_best.pt.",
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Predictions CSV (published column layout; default: predictions.csv beside the images).",
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
    from pacgan_cli.cli.progress import progress_reporter
    from pacgan_cli.core.classes import resolve_class_names
    from pacgan_cli.core.inference import (
        classification_targets,
        classify_images,
        default_predictions_path,
        find_model,
        write_classification,
    )
    from pacgan_cli.core.intensity import read_unit_stack
    from pacgan_cli.core.io.atomic import ensure_can_write
    from pacgan_cli.core.io.tables import read_labels
    from pacgan_cli.core.models.checkpoint import DISCRIMINATOR, load_checkpoint
    from pacgan_cli.core.runtime import resolve_device, use_threads

    output = output if output is not None else default_predictions_path(images)
    model, chosen = find_model(model, DISCRIMINATOR)
    inputs = {"IMAGES": images, "--labels": labels, "--reference": reference, "--model": model}
    ensure_can_write(*classification_targets(output, labels is not None, inputs), force=force)
    if chosen:
        typer.echo(chosen, err=True)
    checkpoint = load_checkpoint(model, expected_kind=DISCRIMINATOR)
    names = resolve_class_names(
        class_name_list(class_names), checkpoint.config, checkpoint.architecture.num_classes
    )
    stack = read_unit_stack(images)
    table = None
    if labels is not None:
        num_classes = checkpoint.architecture.num_classes
        table = read_labels(labels, image_count=len(stack), num_classes=num_classes, require_subject=False)
    reference_images = read_unit_stack(reference) if reference is not None else None
    target = resolve_device(device)
    used = use_threads(threads, checkpoint.architecture.base_channels)
    with progress_reporter(quiet, first_line=f"classifying on {target} with {used}") as reporter:
        result = classify_images(
            checkpoint,
            stack,
            statistic_mode=batch_statistic,
            reference=reference_images,
            batch_size=batch_size,
            device=target,
            precision=precision or "fp32",
            compile_model=compile_model,
            reporter=reporter,
        )
    if result.note:
        typer.echo(result.note, err=True)
    outcome = write_classification(
        result, output, source=images.name, labels=table, class_names=names, force=force
    )
    typer.echo(
        f"{len(result.probabilities)} images {result.size}x{result.size} classified "
        f"(batch statistic: {result.statistic_source}, {result.statistic:.6g})"
    )
    for line in outcome.summary_lines():
        typer.echo(line)
    for path in outcome.files:
        typer.echo(f"wrote {path}")
