"""Memorisation: each synthetic image's nearest training image, against how close unseen real images come."""

from __future__ import annotations

from typing import Any

from pacgan_cli.core import figures
from pacgan_cli.core.evaluation.context import MetricContext, ReportContext
from pacgan_cli.core.evaluation.options import EvaluationOptions
from pacgan_cli.core.evaluation.registry import Metric
from pacgan_cli.core.evaluation.verdict import MEMORISATION, VerdictRow
from pacgan_cli.core.metrics import memorisation

# Flagged synthetic images up to this multiple of the expected share read as no sign of copying.
EXPECTED_MULTIPLE = 2

FIGURE = "closest_pairs.png"


def compute(context: MetricContext) -> dict[str, Any]:
    """Uses the training set when given (the test images are then the held-out baseline), else the real set."""
    options = context.options
    if context.train is not None:
        training, held_out = context.train.images, context.real.images
        reference = "training images"
    else:
        training, held_out = context.real.images, None
        reference = "real images (no training set given)"
    report = memorisation.memorisation_check(
        context.fake.images,
        training,
        held_out,
        quantile=options.memorisation_quantile,
        copy_tolerance=options.copy_tolerance,
    )
    closest = report.closest(min(options.closest_pairs, len(context.fake.images)))
    nearest = _nearest_name(context.train is not None)
    figures.save_image_rows(
        context.output_directory / FIGURE,
        [context.fake.images[closest], training[report.synthetic_nearest[closest]]],
        ["synthetic", nearest],
        cell_titles=[
            [f"#{i} d={report.synthetic_distances[i]:.3f}" for i in closest],
            [f"#{report.synthetic_nearest[i]}" for i in closest],
        ],
        title=f"The synthetic images closest to their {nearest}",
    )
    return {**report.to_data(), "reference_set": reference, "figures": [FIGURE]}


def render(data: dict[str, Any], report: ReportContext) -> list[str]:
    nearest = _nearest_name(data["baseline"] == "held-out")
    baseline_text = (
        "held-out (test) real image to its nearest training image"
        if data["baseline"] == "held-out"
        else "real image to its nearest other real image"
    )
    synthetic, baseline = data["synthetic_to_training"], data["real_baseline"]
    copies = data["copies"]
    return [
        "## Memorisation check",
        "",
        f"Distance of each synthetic image to its nearest image among the {data['reference_set']}, compared "
        f"with the distance of each {baseline_text} (RMS pixel difference, images in [-1, 1]).",
        "",
        "| distances | min | 5th percentile | median | mean |",
        "|---|---|---|---|---|",
        f"| synthetic -> {nearest} | {synthetic['min']:.4f} | {synthetic['p05']:.4f} | "
        f"{synthetic['median']:.4f} | {synthetic['mean']:.4f} |",
        f"| real baseline ({data['baseline']}) | {baseline['min']:.4f} | {baseline['p05']:.4f} | "
        f"{baseline['median']:.4f} | {baseline['mean']:.4f} |",
        "",
        f"- {data['flagged_fraction']:.1%} of synthetic images ({data['flagged_count']}) are closer to their {nearest} "
        f"than {data['quantile']:.0%} of the real baseline (threshold {data['threshold']:.4f}); about "
        f"{data['quantile']:.0%} is expected when synthetic images are as new as unseen real ones.",
        f"- Near-copies (distance <= {data['copy_tolerance']}): {len(copies)}"
        + (f" (synthetic IDs {', '.join(str(i) for i in copies[:20])})" if copies else ""),
        "",
        f"![closest pairs]({FIGURE})",
    ]


def settings(options: EvaluationOptions) -> dict[str, Any]:
    return {"quantile": options.memorisation_quantile, "copy_tolerance": options.copy_tolerance}


def summary(data: dict[str, Any]) -> list[str]:
    return [
        f"memorisation: {data['flagged_fraction']:.1%} of synthetic images below the real "
        f"{data['quantile']:.0%} quantile, {len(data['copies'])} near-copies"
    ]


def verdict(data: dict[str, Any]) -> list[VerdictRow]:
    copies, flagged, expected = len(data["copies"]), data["flagged_fraction"], data["quantile"]
    if copies:
        reading = f"{copies} near-copies of {data['reference_set']}"
    elif flagged <= EXPECTED_MULTIPLE * expected:
        reading = "no sign of copying"
    else:
        reading = "closer to the training images than unseen real images are"
    return [
        VerdictRow(
            MEMORISATION,
            f"share closer to a training image than {expected:.0%} of real images",
            f"{flagged:.1%}, {copies} near-copies",
            f"{expected:.0%} expected ({data['baseline']} baseline)",
            reading,
            f"a near-copy (RMS distance <= {data['copy_tolerance']}) is flagged; otherwise up to "
            f"{EXPECTED_MULTIPLE}x the expected share reads as no sign of copying",
        )
    ]


def _nearest_name(with_training_set: bool) -> str:
    return "nearest training image" if with_training_set else "nearest real image"


METRIC = Metric(
    "memorisation",
    compute,
    render,
    settings=settings,
    summary=summary,
    aspects=(MEMORISATION,),
    verdict=verdict,
)
