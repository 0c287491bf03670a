"""FID between InceptionV3 pool features, with real-real and fake-fake halves as the noise floor."""

from __future__ import annotations

from typing import Any

from pacgan_cli.core.evaluation.context import MetricContext, ReportContext
from pacgan_cli.core.evaluation.registry import NEEDS_INCEPTION, Metric
from pacgan_cli.core.evaluation.report import comparison_title, number
from pacgan_cli.core.metrics import fidelity


def compute(context: MetricContext) -> dict[str, Any]:
    return {
        name: fidelity.frechet_distance(features_a, features_b)
        for name, features_a, _, features_b, _ in context.comparisons()
    }


def render(data: dict[str, Any], report: ReportContext) -> list[str]:
    rows = [
        f"| {comparison_title(name)} | {number(data[name])} |"
        for name in ("real_real", "real_fake", "fake_fake")
    ]
    return [
        "## FID (InceptionV3 pool features, 2048-d)",
        "",
        "| comparison | FID |",
        "|---|---|",
        *rows,
        "",
        "Real-real and fake-fake compare two class-stratified random halves of one set: the noise floor "
        "for sets of that size. FID is biased upwards for small sets, so compare numbers only at equal set sizes.",
    ]


def summary(data: dict[str, Any]) -> list[str]:
    return [f"FID real-fake {number(data['real_fake'])}"]


METRIC = Metric("fid", compute, render, needs=frozenset({NEEDS_INCEPTION}), summary=summary)
