"""SSIM of random same-class pairs: real-real, real-fake and fake-fake (the published evaluation's SSIM).

No verdict: the SSIM of random pairs says how alike two images are on average, not whether the synthetic
images look real; near-copies of one typical image score as well as, or better than, a faithful and varied
set. Fidelity is read from prdc precision, collapse from the diversity metric.
"""

from __future__ import annotations

from typing import Any

from pacgan_cli.core.evaluation.context import MetricContext, ReportContext
from pacgan_cli.core.evaluation.options import EvaluationOptions
from pacgan_cli.core.evaluation.registry import Metric
from pacgan_cli.core.evaluation.report import comparison_title, number
from pacgan_cli.core.metrics import similarity


def compute(context: MetricContext) -> dict[str, Any]:
    real, fake = context.real, context.fake
    pairs = {
        "real_real": (real, real, True),
        "real_fake": (real, fake, False),
        "fake_fake": (fake, fake, True),
    }
    data: dict[str, Any] = {}
    for name, (a, b, same_set) in pairs.items():
        result = similarity.same_class_pair_ssim(
            a.images,
            a.labels,
            b.images,
            b.labels,
            context.num_classes,
            pairs_per_class=context.options.ssim_pairs,
            seed=context.options.seed,
            same_set=same_set,
        )
        data[name] = {**result.to_data(), "window_size": result.window_size}
    return data


def render(data: dict[str, Any], report: ReportContext) -> list[str]:
    options = report.options
    rows = []
    for name, result in data.items():
        cells = [f"{number(c['mean'])} ± {number(c['std'])} (n={c['pairs']})" for c in result["per_class"]]
        rows.append(
            f"| {comparison_title(name)} | {number(result['mean'])} ± {number(result['std'])} | "
            + " | ".join(cells)
            + " |"
        )
    header = " | ".join(report.class_titles)
    window = data["real_fake"]["window_size"]
    return [
        "## SSIM of random same-class pairs",
        "",
        f"| pairs | all classes | {header} |",
        "|---|---|" + "---|" * report.num_classes,
        *rows,
        "",
        f"n = the number of distinct pairs used per class: up to {options.ssim_pairs} drawn at random without "
        f"replacement (seed {options.seed}), or every pair when a class has fewer; within one set an image is "
        f"never paired with itself and (a, b) is the same pair as (b, a). Data range 2, {window}x{window} "
        "uniform window. Higher = more alike; the real-real row is the natural similarity of two different "
        "real images. Not a fidelity measure: near-copies of one typical image are as alike to real images "
        "as a faithful, varied set is, so the verdict reads fidelity from prdc and collapse from diversity.",
    ]


def settings(options: EvaluationOptions) -> dict[str, Any]:
    return {"pairs_per_class": options.ssim_pairs, "data_range": 2.0}


def summary(data: dict[str, Any]) -> list[str]:
    return [f"SSIM real-fake {number(data['real_fake']['mean'])}"]


METRIC = Metric("ssim", compute, render, settings=settings, summary=summary)
