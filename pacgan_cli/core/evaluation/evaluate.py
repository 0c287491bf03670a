"""`evaluate`: the chosen metrics of the registry on checked inputs, written as metrics.json and report.md.

`evaluate_files(EvaluationRequest)` is `pacgan evaluate` (read and check the inputs named, then evaluate),
`evaluate` works on image sets already read, and `generate_and_evaluate` is the end of a training run.

InceptionV3 features are computed once per image set and shared by every metric that needs them; real-real
and fake-fake baselines compare two class-stratified random halves of one set (the published code compared
a set with itself, which gives FID 0 by construction and says nothing).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pacgan_cli.core.classes import resolve_class_names
from pacgan_cli.core.errors import ConfigError, InputError
from pacgan_cli.core.evaluation.context import MetricContext, ReportContext
from pacgan_cli.core.evaluation.inputs import ImageSet, check_sets, load_image_set
from pacgan_cli.core.evaluation.options import UNAVAILABLE_SKIP, EvaluationOptions
from pacgan_cli.core.evaluation.registry import (
    METRIC_NAMES,
    NEED_HINTS,
    NEED_NAMES,
    NEEDS_DISCRIMINATOR,
    NEEDS_INCEPTION,
    NEEDS_TRAINING_SET,
    Metric,
    load_metric,
)
from pacgan_cli.core.evaluation.report import report_markdown, sample_figure, settings_data
from pacgan_cli.core.evaluation.verdict import ASPECTS, VerdictRow, verdict_markdown
from pacgan_cli.core.inference.network import find_model
from pacgan_cli.core.io.atomic import ensure_can_write, ensure_distinct, write_json_atomic, write_text_atomic
from pacgan_cli.core.io.run_layout import EvaluationLayout
from pacgan_cli.core.metrics import fidelity
from pacgan_cli.core.models.checkpoint import DISCRIMINATOR, GENERATOR, LoadedCheckpoint, load_checkpoint
from pacgan_cli.core.progress import FirstLinesReporter, Reporter, SilentReporter
from pacgan_cli.core.runtime import resolve_device, use_threads
from pacgan_cli.core.stages import stage_size

METRICS: dict[str, Metric] = {name: load_metric(name) for name in METRIC_NAMES}


@dataclass
class EvaluationReport:
    """What `evaluate` measured (`data`, also in metrics.json) and the files it wrote."""

    output_directory: Path
    data: dict[str, Any]
    markdown: str
    files: list[Path]
    skipped: dict[str, str]

    @property
    def report_path(self) -> Path:
        return self.output_directory / "report.md"

    def summary_lines(self) -> list[str]:
        """A few headline numbers for the terminal."""
        lines = []
        for name, section in self.data["metrics"].items():
            summary = METRICS[name].summary
            if summary is not None:
                lines += summary(section)
        lines.extend(f"skipped {name}: {why}" for name, why in self.skipped.items())
        return lines


@dataclass(frozen=True)
class EvaluationRequest:
    """What `pacgan evaluate` does: the synthetic stack `fake` measured against the real images `real` (a
    folder with labels.csv and Real{S}x{S}.nii.gz, or a stack) with the chosen `metrics` (None: all that the
    inputs allow), written to the report folder `output`. A stack's labels default to the file beside it;
    `train` (folder or stack) and `discriminator` (a checkpoint file, or the run folder of `pacgan train`: its
    largest stage's best discriminator) add the metrics that need them."""

    real: str | os.PathLike[str]
    fake: str | os.PathLike[str]
    output: str | os.PathLike[str]
    real_labels: str | os.PathLike[str] | None = None
    fake_labels: str | os.PathLike[str] | None = None
    train: str | os.PathLike[str] | None = None
    train_labels: str | os.PathLike[str] | None = None
    discriminator: str | os.PathLike[str] | None = None
    metrics: Sequence[str] | None = None
    options: EvaluationOptions = field(default_factory=EvaluationOptions)
    force: bool = False


def evaluate_files(
    request: EvaluationRequest,
    *,
    device: torch.device | str = "cpu",
    threads: int | None = None,
    reporter: Reporter | None = None,
) -> EvaluationReport:
    """`pacgan evaluate`: read the image sets (the real and training images at the synthetic images' size)
    and the discriminator, then `evaluate` them.

    The report folder may be none of the inputs, and every input is read and checked before the first metric
    runs. `threads` sets torch's CPU threads for the process (`runtime.use_threads`, the default of a large
    network: InceptionV3's); `reporter` hears which device and threads first, once the inputs passed (and,
    for a run folder given as the discriminator, which checkpoint of it is used).
    """
    discriminator, note = None, ""
    if request.discriminator is not None:
        discriminator, note = find_model(request.discriminator, DISCRIMINATOR)
    inputs = {
        "--real": request.real,
        "--fake": request.fake,
        "--real-labels": request.real_labels,
        "--fake-labels": request.fake_labels,
        "--train": request.train,
        "--train-labels": request.train_labels,
        "--discriminator": discriminator,
        "--inception-weights": request.options.inception_weights,
    }
    # The report would go into the data it reads.
    ensure_distinct({"--output": request.output}, inputs)
    fake = load_image_set(request.fake, request.fake_labels, role="fake")
    real, train, discriminator = _read_references(
        request.real,
        request.real_labels,
        request.train,
        request.train_labels,
        discriminator,
        fake.size,
    )
    target = resolve_device(str(device))
    reporter = FirstLinesReporter(
        reporter or SilentReporter(), note, f"evaluating on {target} with {use_threads(threads)}"
    )
    return evaluate(
        real,
        fake,
        request.output,
        metrics=request.metrics,
        train=train,
        discriminator=discriminator,
        options=request.options,
        device=target,
        reporter=reporter,
        force=request.force,
    )


def evaluate(
    real: ImageSet,
    fake: ImageSet,
    output_directory: str | os.PathLike[str],
    *,
    metrics: Sequence[str] | None = None,
    train: ImageSet | None = None,
    discriminator: LoadedCheckpoint | None = None,
    options: EvaluationOptions | None = None,
    device: torch.device | str = "cpu",
    reporter: Reporter | None = None,
    force: bool = False,
) -> EvaluationReport:
    """Measure `fake` against `real` with the chosen metrics (default: all that the inputs allow).

    A metric these inputs cannot serve (InceptionV3 weights absent, too few images of a class): by
    `options.unavailable`, one error line saying what to do, or left out with the reason in the report.
    Memorisation uses `train` as the training set (and `real` as held-out images); without `train`, the
    real set stands in for it. tstr and augmentation_gain need `train`, classification `discriminator`:
    without them they are left out of the default set, and asking for them is an error.
    """
    options = options or EvaluationOptions()
    reporter = reporter or SilentReporter()
    output_directory = Path(output_directory)
    lacking = _lacking_inputs(discriminator is not None, train is not None)
    chosen = _choose_metrics(metrics, lacking)
    num_classes = check_sets(real, fake, train, discriminator)
    context = MetricContext(
        real, fake, train, discriminator, options, output_directory, num_classes, device, reporter
    )
    context.class_names = resolve_class_names(
        options.class_names, discriminator.config if discriminator else None, num_classes
    )
    weights, chosen, skipped = _find_inception_weights(options, chosen)
    chosen, skipped_by_check = _check_metrics(context, chosen)
    skipped.update(skipped_by_check)
    ensure_can_write(output_directory / "metrics.json", output_directory / "report.md", force=force)
    if weights is not None and any(NEEDS_INCEPTION in metric.needs for metric in chosen):
        context.extractor = fidelity.build_inception_extractor(weights, options.resize)
    output_directory.mkdir(parents=True, exist_ok=True)
    sections: dict[str, dict[str, Any]] = {}
    for metric in chosen:
        reporter.message(f"evaluate: {metric.name}")
        sections[metric.name] = metric.compute(context)
    samples = sample_figure(context)
    data = {
        "inputs": {
            "real": real.source,
            "fake": fake.source,
            "train": train.source if train else None,
            "discriminator": str(discriminator.path) if discriminator else None,
            "image_size": real.size,
            "real_per_class": real.counts(num_classes),
            "fake_per_class": fake.counts(num_classes),
            "class_names": list(context.class_names),
        },
        "settings": settings_data(options, chosen),
        "metrics": sections,
        "skipped": skipped,
    }
    verdict = _verdict_rows(sections)
    data["verdict"] = [row.to_data() for row in verdict]
    style = ReportContext(context.class_names, num_classes, real.size, options)
    rendered = {name: METRICS[name].render(section, style) for name, section in sections.items()}
    measured = {aspect for name in sections for aspect in METRICS[name].aspects}
    markdown = report_markdown(
        data, verdict_markdown(verdict, _providers(), measured), rendered, skipped, lacking, samples
    )
    json_path = output_directory / "metrics.json"
    write_json_atomic(json_path, data)
    write_text_atomic(output_directory / "report.md", markdown)
    files = [json_path, output_directory / "report.md", samples]
    files += [output_directory / name for section in sections.values() for name in section.get("figures", [])]
    return EvaluationReport(output_directory, data, markdown, files, skipped)


def generate_and_evaluate(
    generator_path: str | os.PathLike[str],
    counts: Sequence[int],
    test_images: str | os.PathLike[str] | ImageSet,
    output_directory: str | os.PathLike[str],
    *,
    test_labels: str | os.PathLike[str] | None = None,
    train_images: str | os.PathLike[str] | ImageSet | None = None,
    train_labels: str | os.PathLike[str] | None = None,
    discriminator_path: str | os.PathLike[str] | None = None,
    seed: int = 0,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    options: EvaluationOptions | None = None,
    reporter: Reporter | None = None,
    force: bool = False,
) -> EvaluationReport:
    """The end of a training run: `pacgan generate` then `pacgan evaluate`, through the same core calls.

    `counts`: one total or one count per class. Writes `generated/Synthetic{S}x{S}.nii.gz` +
    `generated/labels_syn.csv` and the report in `evaluation/` under `output_directory`. By default, metrics these inputs cannot serve (no InceptionV3
    weights, too few images of a class) are skipped and the report says why, so a long run never fails
    at its very end for want of them.
    `test_images` and `train_images` are folders or stacks, or image sets already read (a validation run
    passes its held-out fold and training part, so that it never reads the test set).
    """
    from pacgan_cli.core.inference import GenerationRequest, InferenceSettings, generate, resolve_stage

    reporter = reporter or SilentReporter()
    output_directory = Path(output_directory)
    options = options or EvaluationOptions(seed=seed, unavailable=UNAVAILABLE_SKIP)
    generator = load_checkpoint(generator_path, expected_kind=GENERATOR)
    size = stage_size(resolve_stage(generator, None))
    # Every input is read before the first image is generated, so a bad path fails before any work.
    real, train, discriminator = _read_references(
        test_images, test_labels, train_images, train_labels, discriminator_path, size
    )
    layout = EvaluationLayout(output_directory)
    stack_path, labels_path = layout.generated_stack(size), layout.generated_labels
    request = GenerationRequest(
        model=generator,
        output=stack_path,
        total=counts[0] if len(counts) == 1 else None,
        per_class=tuple(counts) if len(counts) > 1 else None,
        labels_output=labels_path,
        seed=seed,
        force=force,
    )
    # The thread count stays what the caller set (the end of a training run keeps the run's).
    settings = InferenceSettings(batch_size=batch_size, device=device, threads=torch.get_num_threads())
    generate(request, settings, reporter)
    fake = load_image_set(stack_path, labels_path, size=size, role="fake")
    return evaluate(
        real,
        fake,
        layout.evaluation_directory,
        train=train,
        discriminator=discriminator,
        options=options,
        device=device,
        reporter=reporter,
        force=force,
    )


def _read_references(
    real: str | os.PathLike[str] | ImageSet,
    real_labels: str | os.PathLike[str] | None,
    train: str | os.PathLike[str] | ImageSet | None,
    train_labels: str | os.PathLike[str] | None,
    discriminator: str | os.PathLike[str] | None,
    size: int,
) -> tuple[ImageSet, ImageSet | None, LoadedCheckpoint | None]:
    """What the synthetic images are measured against: the real and the training images at image size `size`
    (read from a folder or a stack, or given already read) and the discriminator (loaded from its file)."""
    if not isinstance(real, ImageSet):
        real = load_image_set(real, real_labels, size=size, role="real")
    if train is not None and not isinstance(train, ImageSet):
        train = load_image_set(train, train_labels, size=size, role="train")
    checkpoint = (
        load_checkpoint(discriminator, expected_kind=DISCRIMINATOR) if discriminator is not None else None
    )
    return real, train, checkpoint


def _choose_metrics(metrics: Sequence[str] | None, lacking: dict[str, str]) -> list[Metric]:
    """The metrics asked for, or (None) every metric the inputs allow; a name that is no metric, or a metric
    asked for whose input was not given, is a config error."""
    names = list(metrics) if metrics else [name for name in METRICS if name not in lacking]
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        raise ConfigError(f"unknown metric {unknown[0]!r}; choose from {', '.join(METRICS)}")
    for name in names:
        if name in lacking:
            raise ConfigError(f"the {name} metric needs {lacking[name]}")
    return [METRICS[name] for name in names]


def _check_metrics(context: MetricContext, chosen: list[Metric]) -> tuple[list[Metric], dict[str, str]]:
    """Each chosen metric's own check of the inputs, before any work: its error line, or (`unavailable`
    skip) the metric left out with that line as the reason."""
    kept, skipped = [], {}
    for metric in chosen:
        try:
            if metric.check is not None:
                metric.check(context)
            kept.append(metric)
        except InputError as error:
            if context.options.unavailable != UNAVAILABLE_SKIP:
                raise
            skipped[metric.name] = str(error)
    return kept, skipped


def _lacking_inputs(with_discriminator: bool, with_training_set: bool) -> dict[str, str]:
    """Metric name -> what to pass for the input it needs and was not given; by default such metrics
    are left out (and the report says what they need), asked for by name they are an error."""
    given = {NEEDS_DISCRIMINATOR: with_discriminator, NEEDS_TRAINING_SET: with_training_set}
    lacking = {}
    for name, metric in METRICS.items():
        missing = [NEED_HINTS[need] for need in sorted(metric.needs) if need in given and not given[need]]
        if missing:
            lacking[name] = ", and ".join(missing)
    return lacking


def _verdict_rows(sections: dict[str, dict[str, Any]]) -> list[VerdictRow]:
    """Every computed metric's rows of the verdict table, in the order of the aspects."""
    rows = [
        row
        for name, section in sections.items()
        if (judge := METRICS[name].verdict) is not None
        for row in judge(section)
    ]
    return sorted(rows, key=lambda row: ASPECTS.index(row.aspect))


def _providers() -> dict[str, list[str]]:
    """Aspect -> the metrics that measure it, each with what it needs (`prdc (needs the InceptionV3 weights)`)."""
    return {
        aspect: [
            metric.name
            + (
                f" (needs {', '.join(NEED_NAMES[need] for need in sorted(metric.needs))})"
                if metric.needs
                else ""
            )
            for metric in METRICS.values()
            if aspect in metric.aspects
        ]
        for aspect in ASPECTS
    }


def _find_inception_weights(
    options: EvaluationOptions, chosen: list[Metric]
) -> tuple[Path | None, list[Metric], dict[str, str]]:
    """The InceptionV3 weights file when a chosen metric needs it; without it, stop with one line or
    (`unavailable` skip) leave those metrics out with the reason. A weights file that was named must
    exist even when no metric needs it."""
    wants_inception = any(NEEDS_INCEPTION in metric.needs for metric in chosen)
    named_or_needed = wants_inception or options.inception_weights is not None
    weights = fidelity.find_inception_weights(options.inception_weights) if named_or_needed else None
    if weights is not None or not wants_inception:
        return weights, chosen, {}
    if options.unavailable != UNAVAILABLE_SKIP:
        raise InputError(fidelity.missing_weights_message())
    reason = (
        f"InceptionV3 weights not found; put {fidelity.INCEPTION_URL} at "
        f"{fidelity.inception_cache_path()} to compute it"
    )
    skipped = {metric.name: reason for metric in chosen if NEEDS_INCEPTION in metric.needs}
    return None, [metric for metric in chosen if metric.name not in skipped], skipped
