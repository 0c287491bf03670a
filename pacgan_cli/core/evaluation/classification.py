"""The discriminator's auxiliary head as a classifier of the real and the synthetic images."""

from __future__ import annotations

import math
from typing import Any

from pacgan_cli.core import figures
from pacgan_cli.core.classes import PUBLISHED_AUC, is_adni_like
from pacgan_cli.core.errors import InputError
from pacgan_cli.core.evaluation.context import MetricContext, ReportContext
from pacgan_cli.core.evaluation.registry import NEEDS_DISCRIMINATOR, Metric
from pacgan_cli.core.evaluation.report import number
from pacgan_cli.core.evaluation.verdict import SEPARABILITY, VerdictRow
from pacgan_cli.core.metrics.classification import classification_report
from pacgan_cli.core.stages import size_to_stage, stage_size

# Hosmer, Lemeshow and Sturdivant (2013), Applied Logistic Regression: ROC AUC bands.
AUC_BANDS = ((0.9, "outstanding"), (0.8, "excellent"), (0.7, "acceptable"), (0.0, "poor"))


def compute(context: MetricContext) -> dict[str, Any]:
    """The batch statistic is measured on the training images when given (once, for both sets), unless the
    checkpoint stores one for this image size."""
    from pacgan_cli.core.inference import classify_images

    discriminator = context.discriminator
    assert discriminator is not None
    use_reference = context.train is not None and (
        discriminator.batch_statistic is None or discriminator.stage != size_to_stage(context.real.size)
    )
    reference = context.train.images if use_reference and context.train is not None else None
    data: dict[str, Any] = {}
    figure_names: list[str] = []
    notes: set[str] = set()
    measured: float | None = None
    for name, image_set in (("real", context.real), ("synthetic", context.fake)):
        result = classify_images(
            discriminator,
            image_set.images,
            reference=reference,
            reference_statistic=measured,
            device=context.device,
        )
        measured = result.statistic if result.statistic_source == "reference" else None
        report = classification_report(image_set.labels, result.probabilities)
        data[name] = {
            **report.to_data(),
            "batch_statistic": result.statistic_source,
            "images": len(image_set.labels),
        }
        notes.add(result.note)
        written = figures.save_classification_figures(
            context.output_directory / f"roc_{name}.png",
            context.output_directory / f"confusion_{name}.png",
            report,
            image_set.labels,
            result.probabilities,
            f"{name} images",
            context.class_names,
        )
        figure_names += [path.name for path in written]
    data["notes"] = sorted(note for note in notes if note)
    data["figures"] = figure_names
    return data


def check(context: MetricContext) -> None:
    """Without training images, the statistic stored in the checkpoint must belong to this image size."""
    discriminator = context.discriminator
    if context.train is not None or discriminator is None:
        return
    if discriminator.batch_statistic is None or discriminator.stage is None:
        return
    size = context.real.size
    if discriminator.stage != size_to_stage(size):
        raise InputError(
            f"{discriminator.path}: its stored batch statistic belongs to size {stage_size(discriminator.stage)}, "
            f"not {size}; pass --train with the training images ({size}x{size}) to measure it"
        )


def render(data: dict[str, Any], report: ReportContext) -> list[str]:
    rows = []
    for name in ("real", "synthetic"):
        result = data[name]
        rows.append(
            f"| {name} ({result['images']}) | {number(result['auc_macro'])} | "
            + " | ".join(number(v) for v in result["auc_per_class"])
            + f" | {result['accuracy']:.3f} | {result['cross_entropy']:.3f} |"
        )
    header = " | ".join(f"AUC {title}" for title in report.class_titles)
    return [
        "## Classification by the discriminator's auxiliary head",
        "",
        f"| images | AUC (macro) | {header} | accuracy | cross-entropy |",
        "|---|---|" + "---|" * (report.num_classes + 2),
        *rows,
        "",
        f"Batch statistic: {data['real']['batch_statistic']}. AUC is one-vs-rest over the whole set.",
        *_published_context(report),
        "",
        *data["notes"],
        "",
        " ".join(f"![{name.removesuffix('.png').replace('_', ' ')}]({name})" for name in data["figures"]),
    ]


def summary(data: dict[str, Any]) -> list[str]:
    real = data["real"]
    return [f"classifier on real images: AUC {number(real['auc_macro'])}, accuracy {real['accuracy']:.3f}"]


def verdict(data: dict[str, Any]) -> list[VerdictRow]:
    real = data["real"]["auc_macro"]
    reading = (
        "no AUC (one class in the real images)"
        if real is None or math.isnan(real)
        else f"the classifier: {next(band for floor, band in AUC_BANDS if real >= floor)} on real images"
    )
    return [
        VerdictRow(
            SEPARABILITY,
            "discriminator's auxiliary head, AUC (macro)",
            f"{number(data['synthetic']['auc_macro'])} (synthetic images)",
            f"{number(real)} (real test images)",
            reading,
            "real-image AUC at least 0.9 outstanding, 0.8 excellent, 0.7 acceptable, else poor "
            "(Hosmer and Lemeshow)",
        )
    ]


def _published_context(report: ReportContext) -> list[str]:
    """The published headline AUC, as context only where the data are like the data it was measured on."""
    if not is_adni_like(report.class_names, report.image_size):
        return []
    return [
        "",
        f"Published context (not a target): the PACGAN paper reports AUC {PUBLISHED_AUC} on unseen real ADNI "
        "images, CN vs AD at 256x256; other cohorts, scanners and preprocessing give other numbers.",
    ]


METRIC = Metric(
    "classification",
    compute,
    render,
    needs=frozenset({NEEDS_DISCRIMINATOR}),
    summary=summary,
    check=check,
    aspects=(SEPARABILITY,),
    verdict=verdict,
)
