"""The metrics `pacgan evaluate` offers, in report order, and the shape of a metric.

A metric is one module of this package named after it, holding `METRIC = Metric(...)`: what it needs, its
settings, a compute function returning plain data (also written to metrics.json) and a render function
turning that data into Markdown. Adding a metric is one module plus its name in `METRIC_NAMES`. This
module imports neither torch nor the metric modules, so the command line reads the names for free.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pacgan_cli.core.errors import ConfigError

if TYPE_CHECKING:
    from pacgan_cli.core.evaluation.context import MetricContext, ReportContext
    from pacgan_cli.core.evaluation.options import EvaluationOptions
    from pacgan_cli.core.evaluation.verdict import VerdictRow

METRIC_NAMES = (
    "augmentation_gain",
    "fid",
    "kid",
    "prdc",
    "ssim",
    "diversity",
    "tstr",
    "memorisation",
    "artifacts",
    "classification",
)
METRIC_ALIASES = {"memorization": "memorisation"}

# What a metric may need beyond the real and synthetic images.
NEEDS_INCEPTION = "inception"  # the InceptionV3 weights file
NEEDS_DISCRIMINATOR = "discriminator"
NEEDS_TRAINING_SET = "training set"
# What each need is, for the verdict's "not measured" lines.
NEED_NAMES = {
    NEEDS_INCEPTION: "the InceptionV3 weights",
    NEEDS_DISCRIMINATOR: "a discriminator",
    NEEDS_TRAINING_SET: "the training images",
}
# What to say when an input a metric needs was not given (the weights are looked up: metrics.fidelity).
NEED_HINTS = {
    NEEDS_DISCRIMINATOR: "a discriminator; pass --discriminator D.pt",
    NEEDS_TRAINING_SET: "the real training images; pass --train",
}


@dataclass(frozen=True)
class Metric:
    """One metric of the report.

    `compute` returns JSON-ready data (figures it writes are named in it); `render` turns that data into
    the Markdown lines of its section; `settings` says which options it used (metrics.json `settings`);
    `summary` gives the terminal's headline lines; `check` refuses unusable inputs before any metric runs;
    `aspects` are the questions of the verdict it answers (an aspect none of whose metrics ran reads "not
    measured"); `verdict` gives its lines of the verdict table, which may add checks under other aspects.
    """

    name: str
    compute: Callable[[MetricContext], dict[str, Any]]
    render: Callable[[dict[str, Any], ReportContext], list[str]]
    needs: frozenset[str] = frozenset()
    settings: Callable[[EvaluationOptions], dict[str, Any]] | None = None
    summary: Callable[[dict[str, Any]], list[str]] | None = None
    check: Callable[[MetricContext], None] | None = None
    aspects: tuple[str, ...] = ()
    verdict: Callable[[dict[str, Any]], list[VerdictRow]] | None = None


def load_metric(name: str) -> Metric:
    """The declaration in the module named `name` (which must be one of `METRIC_NAMES`)."""
    if name not in METRIC_NAMES:
        raise KeyError(name)
    metric: Metric = importlib.import_module(f"{__package__}.{name}").METRIC
    if metric.name != name:
        raise RuntimeError(f"module {name} declares the metric {metric.name!r}")
    return metric


def parse_metric_names(text: str | None) -> tuple[str, ...] | None:
    """`--metrics fid,kid` -> ("fid", "kid"), case and spaces aside, with the American spelling too; None
    (every metric the inputs allow) when not given. A name that is no metric is a config error."""
    if text is None:
        return None
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    names = [METRIC_ALIASES.get(name, name) for name in names]
    unknown = [name for name in names if name not in METRIC_NAMES]
    if unknown or not names:
        raise ConfigError(
            f"--metrics: unknown metric {unknown[0] if unknown else text!r}; choose from {', '.join(METRIC_NAMES)}"
        )
    return tuple(names)
