"""Train on synthetic, test on real: fixed small classifiers trained on the synthetic images, next to the
same trained on the real training images, all tested on the real test images."""

from __future__ import annotations

from typing import Any

from pacgan_cli.core.evaluation.context import MetricContext, ReportContext
from pacgan_cli.core.evaluation.options import EvaluationOptions
from pacgan_cli.core.evaluation.registry import NEEDS_TRAINING_SET, Metric
from pacgan_cli.core.evaluation.report import number
from pacgan_cli.core.metrics.tstr import CLASSIFIERS, DESCRIPTIONS, score_classifier

TRAINING_SETS = (("synthetic", "synthetic images"), ("real", "real training images"))


def compute(context: MetricContext) -> dict[str, Any]:
    assert context.train is not None
    sources = {"synthetic": context.fake, "real": context.train}
    classifiers: dict[str, Any] = {}
    for name, classifier in CLASSIFIERS.items():
        context.reporter.message(f"evaluate: tstr, {name.replace('_', ' ')}")
        classifiers[name] = {
            source: score_classifier(
                classifier,
                image_set.images,
                image_set.labels,
                context.real.images,
                context.real.labels,
                context.num_classes,
                context.options.seed,
            ).to_data()
            for source, image_set in sources.items()
        }
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


METRIC = Metric(
    "tstr",
    compute,
    render,
    needs=frozenset({NEEDS_TRAINING_SET}),
    settings=settings,
    summary=summary,
)
