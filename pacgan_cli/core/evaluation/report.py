"""The report around the metrics' sections: the inputs, the settings used, what was skipped, samples.

Also the number formatting every section shares, so that a missing value reads `n/a` everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pacgan_cli.core import figures
from pacgan_cli.core.classes import class_legend
from pacgan_cli.core.evaluation.context import MetricContext
from pacgan_cli.core.evaluation.markdown import markdown_code, markdown_text
from pacgan_cli.core.evaluation.options import EvaluationOptions
from pacgan_cli.core.evaluation.registry import METRIC_NAMES, NEEDS_INCEPTION, Metric


def settings_data(options: EvaluationOptions, chosen: Sequence[Metric]) -> dict[str, Any]:
    """The options the chosen metrics used, for metrics.json: the seed, InceptionV3's input, each metric's."""
    settings: dict[str, Any] = {"seed": options.seed}
    if any(NEEDS_INCEPTION in metric.needs for metric in chosen):
        settings["inception"] = {
            "features": 2048,
            "resize_to": 299,
            "resize": options.resize,
            "resize_note": (
                "bilinear with antialiasing (torchmetrics >= 1.8 default)"
                if options.resize == "antialias"
                else "TF1-compatible bilinear without antialiasing (torch-fidelity; torchmetrics 0.11, published)"
            ),
            "input": "[-1, 1] -> [0, 1] -> x255 uint8, grey repeated to 3 channels",
        }
    for metric in chosen:
        if metric.settings is not None:
            settings[metric.name] = metric.settings(options)
    return settings


def report_markdown(
    data: Mapping[str, Any],
    verdict: list[str],
    sections: Mapping[str, list[str]],
    skipped: Mapping[str, str],
    lacking: Mapping[str, str],
    samples: Path,
) -> str:
    """report.md: the verdict table, what was compared and how, what was not computed and why, then one
    section per metric in registry order. `lacking`: metric name -> the input it needs and was not given.
    What a user named (paths, class names, a skipped metric's reason) is escaped."""
    inputs = data["inputs"]
    lines = [
        "# PACGAN evaluation",
        "",
        *verdict,
        "",
        "## Inputs",
        "",
        f"- Real images: {_described_set(inputs['real'], inputs['real_per_class'])}",
        f"- Synthetic images: {_described_set(inputs['fake'], inputs['fake_per_class'])}",
    ]
    if inputs["train"]:
        lines.append(
            "- Training images (memorisation reference, train-on-real baselines, augmentation gain): "
            f"{markdown_code(inputs['train'])}"
        )
    if inputs["discriminator"]:
        lines.append(f"- Discriminator: {markdown_code(inputs['discriminator'])}")
    lines.append(f"- Image size: {inputs['image_size']}x{inputs['image_size']}")
    if inputs["class_names"]:
        legend = markdown_text(class_legend(inputs["class_names"]))
        lines.append(f"- Classes: {legend} (the label numbers of the CSV files)")
    inception = data["settings"].get("inception")
    if inception:
        lines.append(f"- InceptionV3 resize: {inception['resize']} ({inception['resize_note']})")
    for name, why in skipped.items():
        lines.append(f"- **{name.upper()} skipped**: {markdown_text(why)}")
    not_run = [name for name in METRIC_NAMES if name not in sections and name not in skipped]
    not_requested = [name for name in not_run if name not in lacking]
    if not_requested:
        lines.append(f"- Not computed (not requested): {', '.join(not_requested)}")
    lines += [f"- Not computed: {name} (needs {lacking[name]})" for name in not_run if name in lacking]
    lines += ["", f"![samples]({samples.name})", ""]
    for section in sections.values():
        lines += [*section, ""]
    return "\n".join(lines)


def _described_set(path: str, per_class: list[int]) -> str:
    """`path` (41; per class [20, 21])."""
    return f"{markdown_code(path)} ({sum(per_class)}; per class {per_class})"


def sample_figure(context: MetricContext) -> Path:
    """samples.png: up to 8 real and 8 synthetic images of each class, one row each."""
    rows, titles = [], []
    for k, class_title in enumerate(context.class_titles):
        for name, image_set in (("real", context.real), ("synthetic", context.fake)):
            rows.append(image_set.images[image_set.labels == k][:8])
            titles.append(f"{name} {class_title}")
    return figures.save_image_rows(
        context.output_directory / "samples.png", rows, titles, title="Real and synthetic images per class"
    )


def comparison_title(name: str) -> str:
    """`real_fake` -> `real-fake`."""
    return name.replace("_", "-")


def number(value: float | None, digits: int = 3) -> str:
    """`value` with `digits` decimals; `n/a` for a missing or NaN value."""
    return (
        "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"
    )
