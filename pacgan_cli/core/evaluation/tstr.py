"""Train on synthetic, test on real: fixed small classifiers trained on the synthetic images, next to the
same trained on the real training images, all tested on the real test images."""

from __future__ import annotations

import math
from typing import Any

from pacgan_cli.core.evaluation.context import MetricContext, ReportContext
from pacgan_cli.core.evaluation.options import EvaluationOptions
from pacgan_cli.core.evaluation.registry import NEEDS_TRAINING_SET, Metric
from pacgan_cli.core.evaluation.report import number
from pacgan_cli.core.evaluation.verdict import SEPARABILITY, VerdictRow
from pacgan_cli.core.metrics.tstr import CLASSIFIERS, DESCRIPTIONS, score_classifier, score_probabilities

TRAINING_SETS = (("synthetic", "synthetic images"), ("real", "real training images"))
# The share of the real-trained classifier's AUC above chance that the synthetic-trained one reaches: at
# least CARRIES reads as carrying the class difference, at least PARTLY as carrying part of it. A
# real-trained AUC up to SEPARABLE leaves nothing to compare with.
CARRIES = 0.9
PARTLY = 0.5
SEPARABLE = 0.55


def compute(context: MetricContext) -> dict[str, Any]:
    """The real-trained rows are the shared baselines (`MetricContext.baseline_probabilities`)."""
    assert context.train is not None
    classifiers: dict[str, Any] = {}
    for name, classifier in CLASSIFIERS.items():
        context.reporter.message(f"evaluate: tstr, {name.replace('_', ' ')}")
        synthetic = score_classifier(
            classifier,
            context.fake.images,
            context.fake.labels,
            context.real.images,
            context.real.labels,
            context.num_classes,
            context.options.seed,
        )
        real = score_probabilities(
            len(context.train.labels), context.baseline_probabilities(name), context.real.labels
        )
        classifiers[name] = {"synthetic": synthetic.to_data(), "real": real.to_data()}
    return {"test_images": len(context.real.labels), "classifiers": classifiers}


def render(data: dict[str, Any], report: ReportContext) -> list[str]:
    rows = []
    for name, scores in data["classifiers"].items():
        for source, title in TRAINING_SETS:
            score = scores[source]
            per_class = score["auc_per_class"] or [None] * report.num_classes
            rows.append(
                f"| {name.replace('_', ' ')} | {title} | {score['training_images']} | "
                f"{number(score['auc_macro'])} | " + " | ".join(number(v) for v in per_class) + " | "
                f"{number(score['accuracy'])} |" + (f" {score['note']}" if score["note"] else "")
            )
    header = " | ".join(f"AUC {title}" for title in report.class_titles)
    return [
        "## Train on synthetic, test on real",
        "",
        f"| classifier | trained on | n | AUC (macro) | {header} | accuracy |",
        "|---|---|---|---|" + "---|" * (report.num_classes + 1),
        *rows,
        "",
        f"Each classifier is trained once on the synthetic images with their labels and once on the real "
        f"training images, and tested on the same {data['test_images']} real test images; AUC is one-vs-rest "
        "over the whole test set. The synthetic rows say whether the generator captured what separates the "
        "classes, independently of the discriminator; the real rows are what the same classifier reaches with "
        "real data. Fixed budgets, seeded:",
        "",
        *(f"- {description}" for description in DESCRIPTIONS.values()),
    ]


def settings(options: EvaluationOptions) -> dict[str, Any]:
    return {"classifiers": dict(DESCRIPTIONS), "test_set": "the real images (--real)"}


def summary(data: dict[str, Any]) -> list[str]:
    scores = data["classifiers"]
    parts = [
        f"{name.replace('_', ' ')} AUC {number(s['synthetic']['auc_macro'])} "
        f"(trained on real {number(s['real']['auc_macro'])})"
        for name, s in scores.items()
    ]
    return ["train on synthetic, test on real: " + ", ".join(parts)]


def verdict(data: dict[str, Any]) -> list[VerdictRow]:
    """Read from the classifier that does best when trained on real images (the more capable one here)."""
    name, scores = max(
        data["classifiers"].items(),
        key=lambda item: item[1]["real"]["auc_macro"] if item[1]["real"]["auc_macro"] is not None else -1,
    )
    synthetic, real = scores["synthetic"]["auc_macro"], scores["real"]["auc_macro"]
    if real is None or math.isnan(real) or real <= SEPARABLE:
        reading = "the real classes are not separable by these classifiers: nothing to compare"
    elif synthetic is None or math.isnan(synthetic):
        reading = f"not measurable: {scores['synthetic']['note'] or 'no AUC'}"
    else:
        share = (synthetic - 0.5) / (real - 0.5)
        reading = (
            "carries the class difference as real images do"
            if share >= CARRIES
            else "carries part of the class difference"
            if share >= PARTLY
            else "hardly carries the class difference"
        )
    return [
        VerdictRow(
            SEPARABILITY,
            f"AUC on real test images, {name.replace('_', ' ')} trained on synthetic / on real",
            number(synthetic),
            number(real),
            reading,
            f"the share of the real-trained AUC above 0.5 that the synthetic-trained one reaches: at least "
            f"{CARRIES:.0%} carries, {PARTLY:.0%} to {CARRIES:.0%} part, less hardly; read from the classifier "
            "best on real images",
        )
    ]


METRIC = Metric(
    "tstr",
    compute,
    render,
    needs=frozenset({NEEDS_TRAINING_SET}),
    settings=settings,
    summary=summary,
    aspects=(SEPARABILITY,),
    verdict=verdict,
)
