"""Systematic pixel artifacts: pixels where the mean synthetic image lies outside every real value.

A check under fidelity, not a measure of it (no artifact says nothing about how real the images look), so
it answers no aspect of the verdict: without prdc, fidelity reads "not measured" above this row.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pacgan_cli.core import figures
from pacgan_cli.core.evaluation.context import MetricContext, ReportContext
from pacgan_cli.core.evaluation.options import EvaluationOptions
from pacgan_cli.core.evaluation.registry import Metric
from pacgan_cli.core.evaluation.verdict import FIDELITY, VerdictRow
from pacgan_cli.core.metrics import artifacts

FIGURE = "artifacts.png"


def compute(context: MetricContext) -> dict[str, Any]:
    """The real range is taken over the test images and, when given, the training images too."""
    real = context.real.images
    if context.train is not None:
        real = np.concatenate([real, context.train.images])
    report = artifacts.pixel_artifacts(context.fake.images, real, context.options.artifact_tolerance)
    figures.save_artifact_maps(context.output_directory / FIGURE, report)
    reference = "test and training" if context.train is not None else "real"
    return {**report.to_data(), "reference_set": reference, "figures": [FIGURE]}


def render(data: dict[str, Any], report: ReportContext) -> list[str]:
    pixels = data["pixels"]
    markdown = [
        "## Systematic pixel artifacts",
        "",
        f"The mean of the synthetic images against the range of the {data['real_images']} "
        f"{data['reference_set']} images, pixel by pixel: {data['flagged_count']} pixel(s) lie outside every "
        f"real value by more than {data['tolerance']} (images in [-1, 1]). A generator can put the same wrong "
        "value at one place of every image, typically a corner, where the zero-padded critic hardly looks; "
        "whole-image metrics barely notice one pixel.",
        "",
    ]
    if pixels:
        markdown += [
            "| pixel (row, column) | NIfTI voxel (x, y) | synthetic mean | real mean | real range |",
            "|---|---|---|---|---|",
            *(
                f"| ({p['row']}, {p['column']}) | ({p['nifti_x']}, {p['nifti_y']}) | {p['synthetic_mean']:.3f} | "
                f"{p['real_mean']:.3f} | {p['real_min']:.3f} .. {p['real_max']:.3f} |"
                for p in pixels
            ),
            "",
        ]
        if data["flagged_count"] > len(pixels):
            markdown += [f"The {len(pixels)} furthest outside are listed.", ""]
    markdown.append(f"![pixel artifacts]({FIGURE})")
    return markdown


def settings(options: EvaluationOptions) -> dict[str, Any]:
    return {"tolerance": options.artifact_tolerance}


def summary(data: dict[str, Any]) -> list[str]:
    return [
        f"artifacts: {data['flagged_count']} pixel(s) of the mean synthetic image outside every "
        f"real value by more than {data['tolerance']}"
    ]


def verdict(data: dict[str, Any]) -> list[VerdictRow]:
    count = data["flagged_count"]
    return [
        VerdictRow(
            FIDELITY,
            "pixels of the mean synthetic image outside every real value",
            str(count),
            "0",
            "none" if count == 0 else f"systematic pixel artifacts at {count} pixel(s)",
            f"any pixel more than {data['tolerance']} outside the real range is an artifact",
        )
    ]


METRIC = Metric(
    "artifacts",
    compute,
    render,
    settings=settings,
    summary=summary,
    verdict=verdict,
)
