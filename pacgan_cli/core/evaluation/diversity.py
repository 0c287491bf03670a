"""Diversity: mean MS-SSIM of random same-class synthetic pairs next to the same for real pairs."""

from __future__ import annotations

from typing import Any

from pacgan_cli.core.evaluation.context import MetricContext, ReportContext
from pacgan_cli.core.evaluation.options import EvaluationOptions
from pacgan_cli.core.evaluation.registry import Metric
from pacgan_cli.core.evaluation.report import number
from pacgan_cli.core.evaluation.verdict import DIVERSITY, VerdictRow
from pacgan_cli.core.metrics.diversity import STANDARD_WEIGHTS, ms_ssim_scales, same_class_pair_ms_ssim

# Synthetic minus real mean MS-SSIM: within AS_DIVERSE reads as diverse as real; more than COLLAPSED (or
# a synthetic mean of at least COLLAPSED_LEVEL) as mode collapse.
AS_DIVERSE = 0.05
COLLAPSED = 0.2
COLLAPSED_LEVEL = 0.9


def compute(context: MetricContext) -> dict[str, Any]:
    import torchmetrics

    scales = ms_ssim_scales(context.real.size)
    data: dict[str, Any] = {
        "tool": f"torchmetrics {torchmetrics.__version__} multiscale_structural_similarity_index_measure",
        "scales": scales.scales,
        "window": scales.window,
        "sigma": scales.sigma,
        "weights": list(scales.weights),
    }
    for name, image_set in (("real", context.real), ("synthetic", context.fake)):
        result = same_class_pair_ms_ssim(
            image_set.images,
            image_set.labels,
            context.num_classes,
            pairs_per_class=context.options.diversity_pairs,
            seed=context.options.seed,
            scales=scales,
        )
        data[name] = result.to_data()
    data["difference"] = data["synthetic"]["mean"] - data["real"]["mean"]
    return data


def render(data: dict[str, Any], report: ReportContext) -> list[str]:
    rows = []
    for name in ("real", "synthetic"):
        result = data[name]
        cells = [f"{number(c['mean'])} ± {number(c['std'])} (n={c['pairs']})" for c in result["per_class"]]
        rows.append(
            f"| {name} | {number(result['mean'])} ± {number(result['std'])} | " + " | ".join(cells) + " |"
        )
    header = " | ".join(report.class_titles)
    size, scales, window = report.image_size, data["scales"], data["window"]
    if scales == len(STANDARD_WEIGHTS):
        scale_text = f"all {scales} standard scales"
    elif window == 11:
        scale_text = (
            f"{scales} of the 5 standard scales: the most that keep the coarsest scale at least 11 px wide "
            f"for {size}x{size} images (all 5 need 176 px; torchmetrics' own minimum for 5 is about 160)"
        )
    else:
        scale_text = (
            f"one scale with a {window} px window, sigma {data['sigma']:.2f} (the standard 11 px window, "
            f"sigma 1.5, does not fit {size}x{size} images; sigma shrinks with the window)"
        )
    weights = ", ".join(f"{w:.4f}" for w in data["weights"])
    return [
        "## Diversity: MS-SSIM of random same-class pairs",
        "",
        f"| pairs within | all classes | {header} |",
        "|---|---|" + "---|" * report.num_classes,
        *rows,
        "",
        f"Synthetic minus real: {number(data['difference'])}. Higher = more alike, i.e. less diverse: a "
        "synthetic value above the real one means the generator varies its images less than real images of a "
        "class vary; values near 1 are the mark of mode collapse. n = distinct pairs of different images per "
        f"class, up to {report.options.diversity_pairs} drawn without replacement (seed {report.options.seed}). "
        f"{data['tool']}, data range 2, Gaussian window, negative similarity at a scale counted as 0; "
        f"{scale_text}; scale weights {weights} (the standard exponents of those scales, renormalised to sum 1).",
    ]


def settings(options: EvaluationOptions) -> dict[str, Any]:
    return {"pairs_per_class": options.diversity_pairs, "data_range": 2.0}


def summary(data: dict[str, Any]) -> list[str]:
    return [
        f"MS-SSIM diversity: synthetic {number(data['synthetic']['mean'])}, real "
        f"{number(data['real']['mean'])} (higher = less diverse)"
    ]


def verdict(data: dict[str, Any]) -> list[VerdictRow]:
    fake, real, difference = data["synthetic"]["mean"], data["real"]["mean"], data["difference"]
    if fake >= COLLAPSED_LEVEL or difference > COLLAPSED:
        reading = "much less diverse than real (mode collapse)"
    elif difference > AS_DIVERSE:
        reading = "less diverse than real"
    elif difference >= -AS_DIVERSE:
        reading = "as diverse as real"
    else:
        reading = "more varied than real (check fidelity: noise varies too)"
    return [
        VerdictRow(
            DIVERSITY,
            "MS-SSIM within a class (higher = less diverse)",
            number(fake),
            number(real),
            reading,
            f"synthetic minus real: within ±{AS_DIVERSE} as diverse, above {COLLAPSED} (or synthetic at least "
            f"{COLLAPSED_LEVEL}) mode collapse",
        )
    ]


METRIC = Metric(
    "diversity",
    compute,
    render,
    settings=settings,
    summary=summary,
    aspects=(DIVERSITY,),
    verdict=verdict,
)
