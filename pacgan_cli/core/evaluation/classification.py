"""The discriminator's auxiliary head as a classifier of the real and the synthetic images.

Read against what it is for: the small classifiers tstr trains on the same real training images (when
`--train` is given) and chance (AUC 0.5), with paired bootstrap intervals over the test images, never
against fixed AUC bands alone; and its calibration (ECE, Brier score, reliability diagram), since a
classifier that is right on average can still give probabilities far from how often it is right.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pacgan_cli.core import figures
from pacgan_cli.core.classes import PUBLISHED_AUC, is_adni_like
from pacgan_cli.core.errors import InputError
from pacgan_cli.core.evaluation.context import MetricContext, ReportContext
from pacgan_cli.core.evaluation.registry import NEEDS_DISCRIMINATOR, Metric
from pacgan_cli.core.evaluation.report import number
from pacgan_cli.core.evaluation.verdict import (
    CALIBRATION,
    SEPARABILITY,
    VerdictRow,
    difference_text,
    interval_side,
)
from pacgan_cli.core.metrics.bootstrap import CONFIDENCE, METHOD, auc_interval, paired_difference
from pacgan_cli.core.metrics.calibration import ECE_BINS, CalibrationReport, calibration_report
from pacgan_cli.core.metrics.classification import class_log_odds, classification_report
from pacgan_cli.core.metrics.tstr import CLASSIFIERS, ONE_CLASS
from pacgan_cli.core.stages import size_to_stage, stage_size

# What the baselines (metrics.tstr) are called in readings.
BASELINE_TITLES = {"logistic_regression": "pixel logistic regression", "small_cnn": "small CNN"}
# An ECE on the real test images up to this reads as calibrated.
CALIBRATED_ECE = 0.05
RELIABILITY_FIGURE = "reliability.png"


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
    calibration: dict[str, CalibrationReport] = {}
    real_probabilities = np.empty(0)
    for name, image_set in (("real", context.real), ("synthetic", context.fake)):
        result = classify_images(
            discriminator,
            image_set.images,
            reference=reference,
            reference_statistic=measured,
            device=context.device,
        )
        measured = result.statistic if result.statistic_source == "reference" else None
        report = classification_report(image_set.labels, result.logits)
        calibration[name] = calibration_report(image_set.labels, result.probabilities)
        data[name] = {
            **report.to_data(),
            "batch_statistic": result.statistic_source,
            "images": len(image_set.labels),
            "calibration": calibration[name].to_data(),
        }
        if name == "real":
            real_probabilities = result.probabilities
        notes.add(result.note)
        written = figures.save_classification_figures(
            context.output_directory / f"roc_{name}.png",
            context.output_directory / f"confusion_{name}.png",
            report,
            image_set.labels,
            class_log_odds(result.logits),
            f"{name} images",
            context.class_names,
        )
        figure_names += [path.name for path in written]
    figures.save_reliability_diagrams(
        context.output_directory / RELIABILITY_FIGURE,
        {f"{name} images": report for name, report in calibration.items()},
        "Reliability of the discriminator's auxiliary head",
    )
    resamples, seed = context.options.bootstrap_resamples, context.options.seed
    labels = context.real.labels
    data["real"]["auc_interval"] = list(
        auc_interval(labels, real_probabilities, resamples=resamples, seed=seed)
    )
    data["baselines"] = _baselines(context, real_probabilities) if context.train is not None else None
    data["confidence"], data["resamples"] = CONFIDENCE, resamples
    data["notes"] = sorted(note for note in notes if note)
    data["figures"] = [*figure_names, RELIABILITY_FIGURE]
    return data


def _baselines(context: MetricContext, head: np.ndarray) -> dict[str, Any]:
    """Each small classifier trained on the real training images (shared with tstr), and the head minus
    it on the same real test images with a paired bootstrap interval."""
    baselines: dict[str, Any] = {}
    for name in CLASSIFIERS:
        probabilities = context.baseline_probabilities(name)
        if probabilities is None:
            baselines[name] = {"note": ONE_CLASS}
            continue
        difference = paired_difference(
            context.real.labels,
            probabilities,
            head,
            resamples=context.options.bootstrap_resamples,
            seed=context.options.seed,
        )
        baselines[name] = {
            "auc_macro": difference.auc_a,
            "accuracy": difference.accuracy_a,
            "head_minus_baseline": difference.to_data(),
        }
    return baselines


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
        *_render_baselines(data),
        "",
        *_render_calibration(data),
        "",
        *data["notes"],
        "",
        " ".join(f"![{name.removesuffix('.png').replace('_', ' ')}]({name})" for name in data["figures"]),
    ]


def _render_baselines(data: dict[str, Any]) -> list[str]:
    real, confidence = data["real"], data["confidence"]
    low, high = real["auc_interval"]
    head = (
        f"| discriminator's auxiliary head | {number(real['auc_macro'])} ({confidence:.0%} CI "
        f"{number(low)} to {number(high)}) | {real['accuracy']:.3f} | | |"
    )
    lines = [
        "### Against chance and against classifiers trained on the same real images",
        "",
        "| classifier | AUC (macro), real test images | accuracy | head minus it, AUC | head minus it, accuracy |",
        "|---|---|---|---|---|",
        head,
    ]
    if data["baselines"] is None:
        return [
            *lines,
            "",
            "Chance is AUC 0.5. No classifier was trained on the same real images (pass --train): the small "
            "classifiers of tstr trained on them would show what the same images teach a simple model.",
        ]
    for name, baseline in data["baselines"].items():
        if "note" in baseline:
            lines.append(f"| {BASELINE_TITLES[name]} | n/a | n/a | n/a | n/a ({baseline['note']}) |")
            continue
        difference = baseline["head_minus_baseline"]
        lines.append(
            f"| {BASELINE_TITLES[name]} | {number(baseline['auc_macro'])} | {baseline['accuracy']:.3f} | "
            f"{difference_text(difference['auc_difference'], difference['auc_interval'], confidence)} | "
            f"{difference_text(difference['accuracy_difference'], difference['accuracy_interval'], confidence)} |"
        )
    return [
        *lines,
        "",
        "The baselines are the small classifiers of tstr (a logistic regression on pixels, a small CNN) "
        "trained on the same real training images (`--train`) and tested on the same real test images. "
        f"Chance is AUC 0.5. Intervals ({confidence:.0%}): {METHOD}; {data['resamples']} resamples.",
    ]


def _render_calibration(data: dict[str, Any]) -> list[str]:
    rows = []
    for name in ("real", "synthetic"):
        calibration = data[name]["calibration"]
        rows.append(
            f"| {name} | {calibration['ece']:.3f} | {calibration['brier']:.3f} | "
            f"{calibration['mean_confidence']:.3f} | {calibration['accuracy']:.3f} | {calibration['images']} |"
        )
    return [
        "### Calibration",
        "",
        "| images | ECE | Brier score | mean top-class probability | accuracy | n |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"Expected calibration error (ECE), top-label: the images are binned by their top-class probability "
        f"into {ECE_BINS} equal-width bins ((0, 0.1], ..., (0.9, 1]); ECE is the image-weighted mean over the "
        "bins of |accuracy - mean top-class probability| (Guo et al. 2017; 0 is perfect, and a small set "
        "biases it upwards). Brier score: the mean over images of the sum over classes of (p - one-hot)^2 "
        "(0 perfect, 2 worst). A mean top-class probability above the accuracy is overconfidence. "
        "`pacgan classify --fit-temperature` fits a temperature on the run's validation fold, and "
        "`pacgan classify --calibrated` applies it.",
    ]


def summary(data: dict[str, Any]) -> list[str]:
    real = data["real"]
    return [
        f"classifier on real images: AUC {number(real['auc_macro'])}, accuracy {real['accuracy']:.3f}, "
        f"ECE {real['calibration']['ece']:.3f}"
    ]


def verdict(data: dict[str, Any]) -> list[VerdictRow]:
    return [_separability_row(data), _calibration_row(data)]


def _separability_row(data: dict[str, Any]) -> VerdictRow:
    """The head's AUC on real test images against chance and the best baseline on the same images."""
    real = data["real"]["auc_macro"]
    confidence = data["confidence"]
    usable = {
        name: baseline for name, baseline in (data["baselines"] or {}).items() if "note" not in baseline
    }
    best = max(usable, key=lambda name: usable[name]["auc_macro"], default=None)
    if real is None or math.isnan(real):
        reading = "no AUC (one class in the real images)"
    elif interval_side(np.subtract(data["real"]["auc_interval"], 0.5)) <= 0:
        reading = f"no better than chance (AUC 0.5 lies in its {confidence:.0%} interval)"
    elif best is None:
        reading = "above chance; not compared with a classifier trained on the same images (pass --train)"
    else:
        title, reference = BASELINE_TITLES[best], usable[best]["auc_macro"]
        side = interval_side(usable[best]["head_minus_baseline"]["auc_interval"])
        compared = f"the {title} trained on the same images ({real:.3f} vs {reference:.3f})"
        reading = (
            f"above {compared}"
            if side > 0
            else f"below {compared}"
            if side < 0
            else f"on par with {compared}; the interval of the difference includes 0"
        )
    return VerdictRow(
        SEPARABILITY,
        "discriminator's auxiliary head, AUC (macro) on real test images",
        f"{number(real)} (on synthetic images {number(data['synthetic']['auc_macro'])})",
        f"{number(usable[best]['auc_macro'])} ({BASELINE_TITLES[best]}, same training images)"
        if best is not None
        else "0.5 (chance)",
        reading,
        f"against chance (AUC 0.5) and the better of the baselines trained on the same real images, by the "
        f"{confidence:.0%} paired bootstrap interval of the difference over the test images: above, below, "
        "or on par when it includes 0",
    )


def _calibration_row(data: dict[str, Any]) -> VerdictRow:
    real, synthetic = data["real"]["calibration"], data["synthetic"]["calibration"]
    ece, gap = real["ece"], real["mean_confidence"] - real["accuracy"]
    if ece <= CALIBRATED_ECE:
        reading = "calibrated on real images"
    else:
        reading = (
            f"{'overconfident' if gap > 0 else 'underconfident'} on real images: mean top-class probability "
            f"{real['mean_confidence']:.2f} against accuracy {real['accuracy']:.2f}"
        )
    return VerdictRow(
        CALIBRATION,
        f"discriminator's auxiliary head, ECE ({ECE_BINS} bins, top class)",
        f"{synthetic['ece']:.3f} (synthetic images)",
        f"{ece:.3f} (real test images, n={real['images']}; Brier {real['brier']:.3f})",
        reading,
        f"ECE on the real test images up to {CALIBRATED_ECE} reads as calibrated; above, over- or "
        "underconfident by the sign of mean top-class probability minus accuracy",
    )


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
    aspects=(SEPARABILITY, CALIBRATION),
    verdict=verdict,
)
