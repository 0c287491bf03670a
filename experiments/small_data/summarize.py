"""`python -m experiments.small_data.summarize`: one Markdown table per data set from the per-run JSON files
of `python -m experiments.small_data.run`: mean (min-max) over seeds per variant, and the real-image
reference row (TRTR, the real training images' same-class MS-SSIM)."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from experiments.harness import CLASSIFIER_NAMES, summary
from experiments.small_data.datasets import DATASETS
from experiments.small_data.run import RESULTS, VARIANTS

PRDC_SHOWN = ("precision", "recall", "coverage")  # density is in the JSON files
COLUMNS = (
    "seeds",
    "critic AUC held-out",
    "TSTR AUC, logistic",
    "TSTR AUC, CNN",
    "same-class MS-SSIM",
    "augmentation gain AUC, logistic",
    "augmentation gain AUC, CNN",
    *(f"{score}, pixels" for score in PRDC_SHOWN),
    "artifact pixels",
    "training s",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.small_data.summarize", description=__doc__)
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of the per-run JSON files")
    parser.add_argument(
        "--targets", metavar="VARIANT", help="instead: issue 16's targets for VARIANT against published"
    )
    args = parser.parse_args(argv)
    runs = [json.loads(path.read_text()) for path in sorted(args.results.glob("*.json"))]
    print(targets_table(runs, args.targets) if args.targets else "\n\n".join(markdown_tables(runs)))
    return 0


def targets_table(runs: list[dict[str, Any]], variant: str) -> str:
    """Per data set with runs of both: `variant` / published on each of issue 16's targets (means over seeds),
    the threshold in brackets and whether `variant` meets it."""
    lines = [
        "| data set | same-class MS-SSIM (real + 0.03) | TSTR logistic (0.9 x TRTR) | TSTR CNN (0.9 x TRTR) | "
        "augmentation gain, logistic / CNN | critic held-out AUC (published - 0.02) |",
        "|---" * 6 + "|",
    ]
    for dataset in DATASETS:
        ours, published = (
            [r for r in runs if r["dataset"] == dataset and r["variant"] == v] for v in (variant, "published")
        )
        if not ours or not published:
            continue
        reference = ours[0]
        cells = [
            _target(ours, published, diversity, reference["diversity"]["real"]["mean"] + 0.03, at_most=True),
            *(
                _target(ours, published, partial(tstr, name=name), 0.9 * reference["trtr"][name]["auc"])
                for name in CLASSIFIER_NAMES
            ),
            " / ".join(
                gain_cell([run["augmentation_gain"][name] for run in ours]) for name in CLASSIFIER_NAMES
            ),
            _target(ours, published, critic, statistics.fmean(map(critic, published)) - 0.02),
        ]
        lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _target(
    ours: list[dict[str, Any]],
    published: list[dict[str, Any]],
    measure: Callable[[dict[str, Any]], float],
    threshold: float,
    at_most: bool = False,
) -> str:
    mean, before = statistics.fmean(map(measure, ours)), statistics.fmean(map(measure, published))
    met = mean <= threshold if at_most else mean >= threshold
    return f"{mean:.3f} / {before:.3f} ({threshold:.3f}): {'met' if met else 'missed'}"


def diversity(run: dict[str, Any]) -> float:
    return run["diversity"]["synthetic"]["mean"]


def tstr(run: dict[str, Any], name: str) -> float:
    return run["tstr"][name]["auc"]


def critic(run: dict[str, Any]) -> float:
    return run["critic_auc_test"]


def markdown_tables(runs: list[dict[str, Any]]) -> list[str]:
    """One table per data set (in the study's order), rows in the variants' order."""
    tables = []
    for dataset in DATASETS:
        chosen = [run for run in runs if run["dataset"] == dataset]
        if not chosen:
            continue
        lines = [
            f"### {dataset}",
            "",
            "| variant | " + " | ".join(COLUMNS) + " |",
            "|---" * (len(COLUMNS) + 1) + "|",
        ]
        for variant in VARIANTS:
            of_variant = [run for run in chosen if run["variant"] == variant]
            if of_variant:
                lines.append(f"| {variant} | " + " | ".join(variant_cells(of_variant)) + " |")
        measured = [run for run in chosen if "prdc" in run]
        reference = " | ".join(reference_cells(chosen[0]))
        prdc = [f"{measured[0]['prdc']['real'][name]:.3f}" if measured else "" for name in PRDC_SHOWN]
        lines.append(f"| real training images | | | {reference} | | | {' | '.join(prdc)} | | |")
        tables.append("\n".join(lines))
    return tables


def variant_cells(runs: list[dict[str, Any]]) -> list[str]:
    """The COLUMNS of one variant's runs, each `mean (min-max)` over the seeds."""
    cells = [str(len(runs)), summary([critic(run) for run in runs])]
    cells += [summary([tstr(run, name) for run in runs]) for name in CLASSIFIER_NAMES]
    cells.append(summary([diversity(run) for run in runs]))
    cells += [gain_cell([run["augmentation_gain"][name] for run in runs]) for name in CLASSIFIER_NAMES]
    # Runs scored before precision, recall and the artifact count were measured lack them.
    scored = [run["prdc"]["synthetic"] for run in runs if "prdc" in run]
    cells += [summary([scores[name] for scores in scored]) if scored else "" for name in PRDC_SHOWN]
    counted = [run["artifact_pixels"] for run in runs if "artifact_pixels" in run]
    cells.append(f"{sum(counted) / len(counted):.1f} ({min(counted)}-{max(counted)})" if counted else "")
    cells.append(f"{sum(run['training_seconds'] for run in runs) / len(runs):.0f}")
    return cells


def reference_cells(run: dict[str, Any]) -> list[str]:
    """TRTR of both classifiers and the real training images' same-class MS-SSIM."""
    cells = [f"{run['trtr'][name]['auc']:.3f}" for name in CLASSIFIER_NAMES]
    cells.append(f"{run['diversity']['real']['mean']:.3f}")
    return cells


def gain_cell(gains: list[dict[str, Any]]) -> str:
    """The AUC differences over seeds, and in how many runs the 95% interval lay wholly below or above 0
    (a measurable loss or gain on that run's held-out images)."""
    losses = sum(gain["auc_interval"][1] < 0 for gain in gains)
    wins = sum(gain["auc_interval"][0] > 0 for gain in gains)
    counted = [f"{losses} loss" + ("es" if losses > 1 else "")] if losses else []
    counted += [f"{wins} gain" + ("s" if wins > 1 else "")] if wins else []
    return signed_summary([gain["auc_difference"] for gain in gains]) + "".join(f"; {c}" for c in counted)


def signed_summary(values: list[float]) -> str:
    """`summary` with a sign on every number, for differences."""
    if len(values) == 1:
        return f"{values[0]:+.3f}"
    return f"{sum(values) / len(values):+.3f} ({min(values):+.3f} to {max(values):+.3f})"


if __name__ == "__main__":
    sys.exit(main())
