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
from pacgan_cli.core.errors import ConfigError
from pacgan_cli.core.evaluation.registry import METRIC_NAMES
from pacgan_cli.core.metrics import RESIZE_MODES


def evaluate_command(
    real: Path = typer.Option(
        ..., "--real", help="Real (test) images: a folder with labels.csv and Real{S}x{S}.nii.gz, or a stack."
    ),
    fake: Path = typer.Option(
        ..., "--fake", help="Synthetic stack; its labels_syn.csv is read from beside it."
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Report folder: metrics.json, report.md, figures."
    ),
    real_labels: Path | None = typer.Option(
        None, "--real-labels", help="Labels of a --real stack (default: labels.csv beside it)."
    ),
    fake_labels: Path | None = typer.Option(
        None, "--fake-labels", help="Labels of the synthetic stack (default: labels_syn.csv beside it)."
    ),
    train: Path | None = typer.Option(
        None,
        "--train",
        help="Real training images (folder or stack): the memorisation reference (default: the real set), "
        "the train-on-real baselines of tstr and classification, and augmentation_gain's training set.",
    ),
    train_labels: Path | None = typer.Option(None, "--train-labels", help="Labels of a --train stack."),
    discriminator: Path | None = typer.Option(
        None, "--discriminator", "-d", help="Discriminator checkpoint: adds the classification metrics."
    ),
    metrics: str | None = typer.Option(
        None,
        "--metrics",
        help=f"Comma-separated subset of {','.join(METRIC_NAMES)} (default: all that apply).",
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
    chosen = _metric_list(metrics)
    if resize not in RESIZE_MODES:
        raise ConfigError(f"--resize must be one of {', '.join(RESIZE_MODES)}; got {resize!r}")
    for name, value in (
        ("--kid-subset-size", kid_subset_size),
        ("--kid-subsets", kid_subsets),
        ("--ssim-pairs", ssim_pairs),
        ("--diversity-pairs", diversity_pairs),
        ("--prdc-k", prdc_k),
        ("--bootstrap-resamples", bootstrap_resamples),
    ):
        if value < 1:
            raise ConfigError(f"{name} must be at least 1; got {value}")

    from pacgan_cli.cli.progress import progress_reporter
    from pacgan_cli.core.evaluation.evaluate import evaluate
    from pacgan_cli.core.evaluation.inputs import load_image_set
    from pacgan_cli.core.evaluation.options import (
        UNAVAILABLE_ERROR,
        UNAVAILABLE_SKIP,
        EvaluationOptions,
    )
    from pacgan_cli.core.io.atomic import ensure_distinct
    from pacgan_cli.core.models.checkpoint import DISCRIMINATOR, load_checkpoint
    from pacgan_cli.core.runtime import resolve_device, use_threads

    # The report folder may not be a file or folder being read: the report would go into the data.
    inputs = {
        "--real": real,
        "--fake": fake,
        "--real-labels": real_labels,
        "--fake-labels": fake_labels,
        "--train": train,
        "--train-labels": train_labels,
        "--discriminator": discriminator,
        "--inception-weights": inception_weights,
    }
    ensure_distinct({"--output": output}, inputs)
    fake_set = load_image_set(fake, fake_labels, role="fake")
    real_set = load_image_set(real, real_labels, size=fake_set.size, role="real")
    train_set = load_image_set(train, train_labels, size=fake_set.size, role="train") if train else None
    checkpoint = load_checkpoint(discriminator, expected_kind=DISCRIMINATOR) if discriminator else None
    options = EvaluationOptions(
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
    )
    target = resolve_device(device)
    used = use_threads(threads)  # the default of a large network: InceptionV3
    with progress_reporter(quiet, first_line=f"evaluating on {target} with {used}") as reporter:
        report = evaluate(
            real_set,
            fake_set,
            output,
            metrics=chosen,
            train=train_set,
            discriminator=checkpoint,
            options=options,
            device=target,
            reporter=reporter,
            force=force,
        )
    for line in report.summary_lines():
        typer.echo(line)
    typer.echo(f"report: {report.report_path}")


def _metric_list(text: str | None) -> list[str] | None:
    """`fid,kid` -> ["fid", "kid"]; None (all that apply) when not given."""
    if text is None:
        return None
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    aliases = {"memorization": "memorisation"}
    names = [aliases.get(name, name) for name in names]
    unknown = [name for name in names if name not in METRIC_NAMES]
    if unknown or not names:
        raise ConfigError(
            f"--metrics: unknown metric {unknown[0] if unknown else text!r}; choose from {', '.join(METRIC_NAMES)}"
        )
    return names
