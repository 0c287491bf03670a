"""Augmentation gain: does adding the synthetic images to the real training images help a classifier?

The small classifiers of tstr are trained on the real training images alone (the shared baselines) and on
the real training images plus synthetic ones, and both are tested on the real test images. Two additions:
all synthetic images, and (when the real training classes differ in size) a balance fill that adds
synthetic images only to the smaller classes, up to the size of the largest. The difference is read from
a paired bootstrap interval over the test images, so that a difference the test set cannot resolve reads
as no measurable gain.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pacgan_cli.core.evaluation.context import MetricContext, ReportContext
from pacgan_cli.core.evaluation.options import EvaluationOptions
from pacgan_cli.core.evaluation.registry import NEEDS_TRAINING_SET, Metric
from pacgan_cli.core.evaluation.report import number
from pacgan_cli.core.evaluation.verdict import AUGMENTATION, VerdictRow, difference_text, interval_side
from pacgan_cli.core.metrics.bootstrap import CONFIDENCE, METHOD, paired_difference
from pacgan_cli.core.metrics.tstr import CLASSIFIERS, DESCRIPTIONS, score_probabilities, trained_probabilities

ADDITIONS = (("all_synthetic", "all"), ("balance_fill", "balance fill"))


def compute(context: MetricContext) -> dict[str, Any]:
    """Both additions; the balance fill draws its synthetic images of a class at random (seeded)."""
    assert context.train is not None
    real_counts = context.train.counts(context.num_classes)
    synthetic_counts = context.fake.counts(context.num_classes)
    fill = balance_fill_counts(real_counts, synthetic_counts)
    rng = np.random.default_rng(context.options.seed)
    fill_rows = np.sort(
        np.concatenate(
            [
                rng.choice(np.flatnonzero(context.fake.labels == k), count, replace=False)
                for k, count in enumerate(fill["added_per_class"])
            ]
        )
    ).astype(np.int64)
    data: dict[str, Any] = {
        "test_images": len(context.real.labels),
        "real_per_class": real_counts,
        "synthetic_per_class": synthetic_counts,
        "confidence": CONFIDENCE,
        "resamples": context.options.bootstrap_resamples,
        "all_synthetic": _measure(context, np.arange(len(context.fake.labels))),
        "balance_fill": fill,
    }
    if fill["needed"] and len(fill_rows):
        fill.update(_measure(context, fill_rows))
    return data


def balance_fill_counts(real_counts: list[int], synthetic_counts: list[int]) -> dict[str, Any]:
    """How many synthetic images of each class bring it up to the largest real training class: the gap,
    capped by the synthetic images there are (`short` lists the classes left below). Classes without
    real training images are not filled."""
    target = max(real_counts)
    gaps = [target - count if count else 0 for count in real_counts]
    added = [min(gap, available) for gap, available in zip(gaps, synthetic_counts, strict=True)]
    return {
        "needed": any(gaps),
        "target": target,
        "gap_per_class": gaps,
        "added_per_class": added,
        "short": [k for k, (gap, count) in enumerate(zip(gaps, added, strict=True)) if count < gap],
    }


def render(data: dict[str, Any], report: ReportContext) -> list[str]:
    titles = report.class_titles
    real_counts = data["real_per_class"]
    lines = [
        "## Augmentation gain: real training images alone and with synthetic ones",
        "",
        "| addition | classifier | trained on (per class) | AUC (macro) | accuracy |",
        "|---|---|---|---|---|",
    ]
    for key, title in ADDITIONS:
        measured = data[key]
        if "classifiers" not in measured:
            continue
        added = measured["added_per_class"]
        for name, result in measured["classifiers"].items():
            real, augmented, difference = result["real"], result["augmented"], result["difference"]
            lines += [
                f"| {title} | {name.replace('_', ' ')} | real ({_per_class(real_counts)}) | "
                f"{number(real['auc_macro'])} | {number(real['accuracy'])} |",
                f"| {title} | {name.replace('_', ' ')} | real + synthetic ({_per_class(real_counts, added)}) | "
                f"{number(augmented['auc_macro'])} | {number(augmented['accuracy'])} |",
                f"| {title} | {name.replace('_', ' ')} | difference | {_difference(difference, 'auc', data)} | "
                f"{_difference(difference, 'accuracy', data)} |",
            ]
    lines += ["", _share_sentence(data["all_synthetic"]["added_per_class"], real_counts, titles), ""]
    lines.append(_balance_sentence(data["balance_fill"], real_counts, data["synthetic_per_class"], titles))
    lines += [
        "",
        f"Every model is tested on the same {data['test_images']} real test images (`--real`); the real-only "
        "models are the ones tstr trains on the real training images. Difference = real + synthetic minus "
        f"real alone, with its {data['confidence']:.0%} interval: {METHOD}; {data['resamples']} resamples, "
        f"seed {report.options.seed}. Classifiers, fixed budgets, seeded:",
        "",
        *(f"- {description}" for description in DESCRIPTIONS.values()),
    ]
    return lines


def settings(options: EvaluationOptions) -> dict[str, Any]:
    return {
        "classifiers": dict(DESCRIPTIONS),
        "test_set": "the real images (--real)",
        "interval": {"method": METHOD, "resamples": options.bootstrap_resamples, "confidence": CONFIDENCE},
        "balance_fill": "synthetic images of each smaller class, drawn at random (seeded), up to the largest "
        "real training class",
    }


def summary(data: dict[str, Any]) -> list[str]:
    parts = []
    for name, result in data["all_synthetic"]["classifiers"].items():
        difference = result["difference"]
        text = "n/a" if difference is None else f"{difference['auc_difference']:+.3f}"
        parts.append(f"{name.replace('_', ' ')} {text}")
    return ["augmentation gain in AUC (real + synthetic minus real): " + ", ".join(parts)]


def verdict(data: dict[str, Any]) -> list[VerdictRow]:
    """One row per classifier and addition; the balance fill's rows only where it was measured."""
    rows = []
    for key, title in ADDITIONS:
        measured = data[key]
        if "classifiers" not in measured:
            continue
        added = sum(measured["added_per_class"])
        for name, result in measured["classifiers"].items():
            difference = result["difference"]
            rows.append(
                VerdictRow(
                    AUGMENTATION,
                    f"AUC, {name.replace('_', ' ')}: real + {added} synthetic ({title}) vs real alone",
                    f"{number(result['augmented']['auc_macro'])}"
                    + (
                        f", difference {_difference(difference, 'auc', data)}"
                        if difference is not None
                        else ""
                    ),
                    f"{number(result['real']['auc_macro'])} (real alone)",
                    gain_reading(difference, result["augmented"]["note"] or result["real"]["note"]),
                    f"macro AUC on the real test images; the difference's {data['confidence']:.0%} paired "
                    "bootstrap interval over the test images: above 0 a gain, below 0 a loss, including 0 no "
                    "measurable gain",
                )
            )
    return rows


def gain_reading(difference: dict[str, Any] | None, note: str = "") -> str:
    """A gain or a loss only where the interval of the AUC difference excludes 0."""
    if difference is None:
        return f"not measurable: {note or 'no AUC'}"
    if math.isnan(difference["auc_difference"]):
        return "not measurable: no AUC (the test images hold one class)"
    side = interval_side(difference["auc_interval"])
    if side > 0:
        return f"gain (AUC {difference['auc_difference']:+.3f})"
    if side < 0:
        return f"loss (AUC {difference['auc_difference']:+.3f})"
    return "no measurable gain (the interval includes 0)"


def _measure(context: MetricContext, synthetic_rows: np.ndarray) -> dict[str, Any]:
    """Each classifier trained on the real training images plus the synthetic images at `synthetic_rows`,
    against the same trained on the real training images alone (the shared baselines)."""
    assert context.train is not None
    images = np.concatenate([context.train.images, context.fake.images[synthetic_rows]])
    labels = np.concatenate([context.train.labels, context.fake.labels[synthetic_rows]])
    test_labels = context.real.labels
    classifiers: dict[str, Any] = {}
    for name, classifier in CLASSIFIERS.items():
        context.reporter.message(f"evaluate: augmentation gain, {name.replace('_', ' ')}")
        alone = context.baseline_probabilities(name)
        augmented = trained_probabilities(
            classifier, images, labels, context.real.images, context.num_classes, context.options.seed
        )
        difference = (
            paired_difference(
                test_labels,
                alone,
                augmented,
                resamples=context.options.bootstrap_resamples,
                seed=context.options.seed,
            ).to_data()
            if alone is not None and augmented is not None
            else None
        )
        classifiers[name] = {
            "real": score_probabilities(len(context.train.labels), alone, test_labels).to_data(),
            "augmented": score_probabilities(len(labels), augmented, test_labels).to_data(),
            "difference": difference,
        }
    added = np.bincount(context.fake.labels[synthetic_rows], minlength=context.num_classes)
    return {"added_per_class": [int(count) for count in added], "classifiers": classifiers}


def _difference(difference: dict[str, Any] | None, score: str, data: dict[str, Any]) -> str:
    if difference is None:
        return "n/a"
    return difference_text(
        difference[f"{score}_difference"], difference[f"{score}_interval"], data["confidence"]
    )


def _per_class(real_counts: list[int], added: list[int] | None = None) -> str:
    if added is None:
        return " / ".join(str(count) for count in real_counts)
    return " / ".join(f"{count} + {extra}" for count, extra in zip(real_counts, added, strict=True))


def _share_sentence(added: list[int], real_counts: list[int], titles: list[str]) -> str:
    """How many synthetic images of each class were added, as a share of its real training images."""
    parts = [
        f"{title} +{count}" + (f" ({count / real:.0%} of its {real} real)" if real else " (no real images)")
        for title, count, real in zip(titles, added, real_counts, strict=True)
    ]
    return "All synthetic images added: " + ", ".join(parts) + "."


def _balance_sentence(
    fill: dict[str, Any], real_counts: list[int], synthetic_counts: list[int], titles: list[str]
) -> str:
    if not fill["needed"]:
        return (
            "Balance fill: not needed, the real training classes are balanced "
            f"({_per_class(real_counts)} images)."
        )
    added = ", ".join(
        f"{title} +{count}" for title, count in zip(titles, fill["added_per_class"], strict=True) if count
    )
    text = (
        f"Balance fill: the real training classes are imbalanced ({_per_class(real_counts)}); synthetic "
        f"images drawn at random (seeded) fill the smaller classes up to {fill['target']}: "
        f"{added or 'nothing could be added'}."
    )
    for k in fill["short"]:
        text += (
            f" {titles[k]} had {synthetic_counts[k]} synthetic images for a gap of {fill['gap_per_class'][k]}, "
            "so it stays smaller."
        )
    if "classifiers" not in fill:
        text += " Not measured: no synthetic images of the smaller classes."
    return text


METRIC = Metric(
    "augmentation_gain",
    compute,
    render,
    needs=frozenset({NEEDS_TRAINING_SET}),
    settings=settings,
    summary=summary,
    aspects=(AUGMENTATION,),
    verdict=verdict,
)
