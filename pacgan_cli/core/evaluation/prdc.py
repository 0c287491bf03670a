"""Precision, recall, density and coverage on the InceptionV3 features FID uses, overall and per class.

Both sets are brought to equal size (the larger subsampled with the seed), since the k-nearest-neighbour
radii, and so every score, depend on the sample size. Two class-stratified halves of the real set give what
a generator as good as the real data would score.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pacgan_cli.core.errors import InputError
from pacgan_cli.core.evaluation.context import MetricContext, ReportContext
from pacgan_cli.core.evaluation.options import EvaluationOptions
from pacgan_cli.core.evaluation.registry import NEEDS_INCEPTION, Metric
from pacgan_cli.core.evaluation.report import number
from pacgan_cli.core.evaluation.verdict import DIVERSITY, FIDELITY, SHARE_RULE, VerdictRow, share_reading
from pacgan_cli.core.metrics.prdc import equal_sample, precision_recall_density_coverage

SCORES = ("precision", "recall", "density", "coverage")


def compute(context: MetricContext) -> dict[str, Any]:
    rng = np.random.default_rng(context.options.seed)
    real, fake = context.features("real"), context.features("fake")
    half_a, half_b = context.halves("real")
    return {
        "k": context.options.prdc_k,
        "real_fake": _compare(context, real, context.real.labels, fake, context.fake.labels, rng),
        "real_real": _compare(
            context, real[half_a], context.real.labels[half_a], real[half_b], context.real.labels[half_b], rng
        ),
    }


def check(context: MetricContext) -> None:
    """Every class the synthetic set holds needs more than k images in both sets (after equalising)."""
    k = context.options.prdc_k
    real_counts, fake_counts = (
        context.real.counts(context.num_classes),
        context.fake.counts(context.num_classes),
    )
    for title, real_count, fake_count in zip(context.class_titles, real_counts, fake_counts, strict=True):
        usable = min(real_count, fake_count)
        if fake_count and usable <= k:
            smaller_k = f"pass --prdc-k {usable - 1}, " if usable > 1 else ""
            raise InputError(
                f"prdc needs at least k+1 = {k + 1} real and {k + 1} synthetic images of each generated class; "
                f"{title} has {real_count} real and {fake_count} synthetic; {smaller_k}use more images "
                "or leave prdc out of --metrics"
            )


def render(data: dict[str, Any], report: ReportContext) -> list[str]:
    rows = []
    for name, label in (("real_fake", "real-fake"), ("real_real", "real-real (halves)")):
        comparison = data[name]
        groups = [
            ("all classes", comparison),
            *zip(report.class_titles, comparison["per_class"], strict=True),
        ]
        for group, scores in groups:
            cells = " | ".join(number(scores[score]) for score in SCORES)
            rows.append(f"| {label} | {group} | {cells} | {scores['n_real']} |")
    seed = report.options.seed
    return [
        f"## Precision, recall, density and coverage (InceptionV3 features, k = {data['k']})",
        "",
        "| comparison | images | precision | recall | density | coverage | n per set |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Equal numbers of real and synthetic images: the larger set is subsampled at random (seed "
        f"{seed}) to the size of the smaller, overall and within each class; n is that size. Each real image's "
        f"ball reaches its {data['k']}-th nearest real neighbour (the synthetic images' balls likewise). "
        "Precision (fidelity): the share of synthetic images inside some real ball. Recall (diversity): the "
        "share of real images inside some synthetic ball. Density: how many real balls hold a synthetic image, "
        "over k, averaged (about 1 when the two samples are alike, above 1 when synthetic images crowd where "
        "real ones are dense). Coverage: the share of real balls holding at least one synthetic image. "
        "Real-real compares two class-stratified random halves of the real set: what a generator as good as "
        "the real data would score, at that smaller n. Kynkäänniemi et al. 2019, Naeem et al. 2020; computed "
        "in float64 as the reference `prdc` package does.",
    ]


def settings(options: EvaluationOptions) -> dict[str, Any]:
    return {
        "k": options.prdc_k,
        "features": "InceptionV3 pool features (2048-d), as FID",
        "equal_counts": f"the larger set subsampled at random to the smaller (seed {options.seed})",
    }


def summary(data: dict[str, Any]) -> list[str]:
    scores = data["real_fake"]
    return [
        "precision {} recall {} density {} coverage {} (k={}, n={})".format(
            *(number(scores[score]) for score in SCORES), data["k"], scores["n_real"]
        )
    ]


def verdict(data: dict[str, Any]) -> list[VerdictRow]:
    """Fidelity read from precision, diversity from coverage (steadier than recall: one synthetic outlier
    can inflate recall, Naeem et al. 2020), each against the real halves."""
    fake, real = data["real_fake"], data["real_real"]
    rows = []
    for aspect, first, second in ((FIDELITY, "precision", "density"), (DIVERSITY, "coverage", "recall")):
        rows.append(
            VerdictRow(
                aspect,
                f"{first} / {second} (k={data['k']})",
                f"{number(fake[first])} / {number(fake[second])}",
                f"{number(real[first])} / {number(real[second])} (real halves)",
                share_reading(fake[first], real[first]),
                f"{first} {SHARE_RULE}",
            )
        )
    return rows


def _compare(
    context: MetricContext,
    features_a: np.ndarray,
    labels_a: np.ndarray,
    features_b: np.ndarray,
    labels_b: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """The scores of B against A overall and within each class; NaN where a group has k images or fewer."""
    k = context.options.prdc_k
    groups = [(np.arange(len(labels_a)), np.arange(len(labels_b)))] + [
        (np.flatnonzero(labels_a == c), np.flatnonzero(labels_b == c)) for c in range(context.num_classes)
    ]
    results = []
    for rows_a, rows_b in groups:
        pick_a, pick_b = equal_sample(len(rows_a), len(rows_b), rng)
        if len(pick_a) <= k:
            results.append(
                {**dict.fromkeys(SCORES, float("nan")), "n_real": len(pick_a), "n_fake": len(pick_b)}
            )
            continue
        scores = precision_recall_density_coverage(features_a[rows_a[pick_a]], features_b[rows_b[pick_b]], k)
        results.append(scores.to_data())
    return {**results[0], "per_class": results[1:]}


METRIC = Metric(
    "prdc",
    compute,
    render,
    needs=frozenset({NEEDS_INCEPTION}),
    settings=settings,
    summary=summary,
    check=check,
    aspects=(FIDELITY, DIVERSITY),
    verdict=verdict,
)
