"""The verdict table report.md leads with: one line per measure, grouped by the questions a user and a reviewer
of synthetic medical images ask, each with the synthetic value, its real reference and a reading.

A reading follows a stated rule (the rule is printed under the table), so the table summarises the
numbers below it and never replaces them. An aspect whose measuring metrics did not run reads "not
measured" even when other metrics add checks under it (pixel artifacts under fidelity), so that a check
never stands in for the measure.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass

AUGMENTATION = "augmentation"
FIDELITY = "fidelity"
DIVERSITY = "diversity"
SEPARABILITY = "class separability"
CALIBRATION = "calibration"
MEMORISATION = "memorisation"
# The first question is the one users come with: do the synthetic images help a classifier?
ASPECTS = (AUGMENTATION, FIDELITY, DIVERSITY, SEPARABILITY, CALIBRATION, MEMORISATION)

# A synthetic score as a share of its real reference (both higher = better): at least CLOSE is "close to
# real", at least PART "below real", less "far below real".
CLOSE_SHARE = 0.9
PART_SHARE = 0.6


@dataclass(frozen=True)
class VerdictRow:
    """One measure: what it is, its synthetic value and real reference as text, a reading, and the rule
    that gave the reading."""

    aspect: str
    measure: str
    synthetic: str
    reference: str
    reading: str
    rule: str

    def to_data(self) -> dict[str, str]:
        return asdict(self)


def share_reading(synthetic: float | None, reference: float | None) -> str:
    """`synthetic` against `reference` (higher = better for both) as close to, below or far below real."""
    if synthetic is None or reference is None or math.isnan(synthetic) or math.isnan(reference):
        return "no real reference"
    if reference <= 0:
        return "no real reference (the real value is 0)"
    share = synthetic / reference
    if share >= CLOSE_SHARE:
        return "close to real"
    return "below real" if share >= PART_SHARE else "far below real"


SHARE_RULE = (
    f"as a share of the real reference: at least {CLOSE_SHARE:.0%} close to real, {PART_SHARE:.0%} to "
    f"{CLOSE_SHARE:.0%} below real, less far below real"
)


def difference_text(difference: float, interval: Sequence[float], confidence: float) -> str:
    """`+0.012 (95% CI -0.010 to +0.030)`; `n/a` when undefined (no class with an AUC)."""
    low, high = interval
    if math.isnan(difference):
        return "n/a"
    return f"{difference:+.3f} ({confidence:.0%} CI {low:+.3f} to {high:+.3f})"


def interval_side(interval: Sequence[float]) -> int:
    """1 when an interval of a difference lies above 0, -1 below 0, 0 when it includes 0 (or is NaN)."""
    low, high = interval
    if low > 0:
        return 1
    return -1 if high < 0 else 0


def verdict_markdown(
    rows: Sequence[VerdictRow], providers: Mapping[str, Sequence[str]], measured: Collection[str]
) -> list[str]:
    """The table, aspects in their fixed order; an aspect not in `measured` says which metrics would
    measure it, above any checks other metrics gave under it. `providers`: aspect -> those metrics."""
    lines = [
        "## Verdict",
        "",
        "| aspect | measure | synthetic | real reference | reading |",
        "|---|---|---|---|---|",
    ]
    for aspect in ASPECTS:
        if aspect not in measured:
            names = ", ".join(providers.get(aspect, ()))
            lines.append(f"| {aspect} | not measured | | | measured by {names}; not computed here |")
        lines += [
            f"| {row.aspect} | {row.measure} | {row.synthetic} | {row.reference} | {row.reading} |"
            for row in rows
            if row.aspect == aspect
        ]
    rules = _rule_lines(rows)
    if rules:
        lines += ["", "How each reading is made (the numbers and their details follow below):", "", *rules]
    return lines


def _rule_lines(rows: Sequence[VerdictRow]) -> list[str]:
    """One line per rule: `- measure: rule`, or `- the aspect rows: rule` for a rule several rows share."""
    measures: dict[str, list[VerdictRow]] = {}
    for row in rows:
        measures.setdefault(row.rule, []).append(row)
    lines = []
    for rule, sharing in measures.items():
        names = list(dict.fromkeys(row.measure for row in sharing))
        aspects = list(dict.fromkeys(row.aspect for row in sharing))
        subject = names[0] if len(names) == 1 else f"the {' and '.join(aspects)} rows"
        lines.append(f"- {subject}: {rule}")
    return lines
