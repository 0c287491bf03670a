"""KID overall and per class, subset sizes capped at the smaller set, with real-real and fake-fake halves."""

from __future__ import annotations

from typing import Any

from pacgan_cli.core.evaluation.context import MetricContext, ReportContext
from pacgan_cli.core.evaluation.options import EvaluationOptions
from pacgan_cli.core.evaluation.registry import NEEDS_INCEPTION, Metric
from pacgan_cli.core.evaluation.report import comparison_title, number
from pacgan_cli.core.metrics import fidelity


def compute(context: MetricContext) -> dict[str, Any]:
    options = context.options
    data: dict[str, Any] = {}
    for index, (name, features_a, labels_a, features_b, labels_b) in enumerate(context.comparisons()):
        overall = fidelity.kernel_inception_distance(
            features_a, features_b, options.kid_subset_size, options.kid_subsets, options.seed + index
        )
        per_class = [
            fidelity.kernel_inception_distance(
                features_a[labels_a == k],
                features_b[labels_b == k],
                options.kid_subset_size,
                options.kid_subsets,
                options.seed + index,
            )
            for k in range(context.num_classes)
        ]
        data[name] = {
            "mean": overall.mean,
            "std": overall.std,
            "subset_size": overall.subset_size,
            "per_class": [
                {"mean": kid.mean, "std": kid.std, "subset_size": kid.subset_size} for kid in per_class
            ],
        }
    return data


def render(data: dict[str, Any], report: ReportContext) -> list[str]:
    rows = []
    for name, result in data.items():
        cells = [
            f"{number(kid['mean'], 5)} ± {number(kid['std'], 5)} (n={kid['subset_size']})"
            for kid in result["per_class"]
        ]
        rows.append(
            f"| {comparison_title(name)} | {number(result['mean'], 5)} ± {number(result['std'], 5)} "
            f"(n={result['subset_size']}) | " + " | ".join(cells) + " |"
        )
    header = " | ".join(report.class_titles)
    return [
        "## KID (unbiased MMD², cubic polynomial kernel)",
        "",
        f"| comparison | all classes | {header} |",
        "|---|---|" + "---|" * report.num_classes,
        *rows,
        "",
        f"Mean ± std over {report.options.kid_subsets} random subsets; n = subset size, capped at the smaller set.",
    ]


def settings(options: EvaluationOptions) -> dict[str, Any]:
    return {"subset_size": options.kid_subset_size, "subsets": options.kid_subsets, "degree": 3}


def summary(data: dict[str, Any]) -> list[str]:
    return [f"KID real-fake {number(data['real_fake']['mean'], 5)}"]


METRIC = Metric(
    "kid", compute, render, needs=frozenset({NEEDS_INCEPTION}), settings=settings, summary=summary
)
