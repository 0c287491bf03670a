"""`pacgan evaluate`: synthetic vs real images, with the metrics of the core's registry."""

from __future__ import annotations

from pathlib import Path

import typer

from pacgan_cli.cli.options import (
    ClassNamesOption,
    DeviceOption,
    ForceOption,
    QuietOption,
    ThreadsOption,
    class_name_list,
)
from pacgan_cli.core.evaluation.registry import METRIC_NAMES, parse_metric_names


def evaluate_command(
    real: Path = typer.Option(
        ..., "--real", help="Real (test) images: a folder with labels.csv and Real{S}x{S}.nii.gz, or a stack."
    ),
    fake: Path = typer.Option(
        ...,
        "--fake",
        help="Synthetic stack; its labels are read from beside it: <stem>_labels.csv (what generate writes), "
        "else labels_syn.csv.",
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Report folder: metrics.json, report.md, figures."
    ),
    real_labels: Path | None = typer.Option(
        None, "--real-labels", help="Labels of a --real stack (default: labels.csv beside it)."
    ),
    fake_labels: Path | None = typer.Option(
        None,
        "--fake-labels",
        help="Labels of the synthetic stack (default: <stem>_labels.csv beside it, else labels_syn.csv).",
    ),
    train: Path | None = typer.Option(
        None,
        "--train",
        help="Real training images (folder or stack): the memorisation reference (default: the real set), "
        "the train-on-real baselines of tstr and classification, and augmentation_gain's training set.",
    ),
    train_labels: Path | None = typer.Option(None, "--train-labels", help="Labels of a --train stack."),
    discriminator: Path | None = typer.Option(
        None,
        "--discriminator",
        "-d",
        help="Discriminator checkpoint, or a run folder (its largest stage's discriminator_best.pt): adds the "
        "classification metrics.",
    ),
    metrics: str | None = typer.Option(
        None,
        "--metrics",
        help=f"Comma-separated subset of: {', '.join(METRIC_NAMES)} (default: all that apply).",
    ),
    inception_weights: Path | None = typer.Option(
        None,
        "--inception-weights",
        help="InceptionV3 weights file (default: $PACGAN_INCEPTION_WEIGHTS, then the torch hub cache).",
    ),
    skip_unavailable: bool = typer.Option(
        False,
        "--skip-unavailable",
        help="Leave out the metrics these inputs cannot serve (no InceptionV3 weights; fewer than k+1 images of a "
        "class for prdc) instead of stopping; the report says why.",
    ),
    resize: str = typer.Option(
        "antialias",
        "--resize",
        help="Resize to 299 for InceptionV3: antialias (torchmetrics >= 1.8) or legacy (published).",
    ),
    kid_subset_size: int = typer.Option(
        1000, "--kid-subset-size", help="KID subset size (capped at the smallest set)."
    ),
    kid_subsets: int = typer.Option(100, "--kid-subsets", help="Number of KID subsets."),
    ssim_pairs: int = typer.Option(1000, "--ssim-pairs", help="Random same-class pairs per class for SSIM."),
    diversity_pairs: int = typer.Option(
        1000, "--diversity-pairs", help="Random same-class pairs per class and set for MS-SSIM diversity."
    ),
    prdc_k: int = typer.Option(
        5, "--prdc-k", help="Nearest neighbour k for precision, recall, density and coverage."
    ),
    bootstrap_resamples: int = typer.Option(
        1000,
        "--bootstrap-resamples",
        help="Bootstrap resamples of the test images for the 95% intervals of AUC and accuracy "
        "(augmentation_gain, classification).",
    ),
    seed: int = typer.Option(
        0,
        "--seed",
        help="Seed for pairs, KID subsets, equal-size samples, the half splits, the small classifiers and "
        "the bootstrap.",
    ),
    class_names: list[str] | None = ClassNamesOption,
    device: str = DeviceOption,
    threads: int | None = ThreadsOption,
    force: bool = ForceOption,
    quiet: bool = QuietOption,
) -> None:
    """Compare synthetic with real images and write metrics.json and report.md."""
    from pacgan_cli.cli.progress import progress_reporter
    from pacgan_cli.core.evaluation.evaluate import EvaluationRequest, evaluate_files
    from pacgan_cli.core.evaluation.options import UNAVAILABLE_ERROR, UNAVAILABLE_SKIP, EvaluationOptions

    request = EvaluationRequest(
        real,
        fake,
        output,
        real_labels=real_labels,
        fake_labels=fake_labels,
        train=train,
        train_labels=train_labels,
        discriminator=discriminator,
        metrics=parse_metric_names(metrics),
        options=EvaluationOptions(
            ssim_pairs=ssim_pairs,
            diversity_pairs=diversity_pairs,
            prdc_k=prdc_k,
            bootstrap_resamples=bootstrap_resamples,
            seed=seed,
            kid_subset_size=kid_subset_size,
            kid_subsets=kid_subsets,
            resize=resize,
            inception_weights=str(inception_weights) if inception_weights else None,
            unavailable=UNAVAILABLE_SKIP if skip_unavailable else UNAVAILABLE_ERROR,
            class_names=class_name_list(class_names),
        ),
        force=force,
    )
    with progress_reporter(quiet) as reporter:
        report = evaluate_files(request, device=device, threads=threads, reporter=reporter)
    for line in report.summary_lines():
        typer.echo(line)
    typer.echo(f"report: {report.report_path}")
