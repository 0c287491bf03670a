"""The verdict table report.md leads with: one line per measure, grouped by the four questions a reviewer
of synthetic medical images asks, each with the synthetic value, its real reference and a reading.

A reading follows a stated rule (the rule is printed under the table), so the table summarises the
numbers below it and never replaces them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

FIDELITY = "fidelity"
DIVERSITY = "diversity"
SEPARABILITY = "class separability"
MEMORISATION = "memorisation"
ASPECTS = (FIDELITY, DIVERSITY, SEPARABILITY, MEMORISATION)

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


def verdict_markdown(rows: Sequence[VerdictRow], providers: Mapping[str, Sequence[str]]) -> list[str]:
    """The table, aspects in their fixed order; an aspect no computed metric measured says which would.
    `providers`: aspect -> the metrics that measure it."""
    lines = [
        "## Verdict",
        "",
        "| aspect | measure | synthetic | real reference | reading |",
        "|---|---|---|---|---|",
    ]
    for aspect in ASPECTS:
        measured = [row for row in rows if row.aspect == aspect]
        if not measured:
            names = ", ".join(providers.get(aspect, ()))
            lines.append(f"| {aspect} | not measured | | | measured by {names}; not computed here |")
        lines += [
            f"| {row.aspect} | {row.measure} | {row.synthetic} | {row.reference} | {row.reading} |"
            for row in measured
        ]
    rules = list(dict.fromkeys(f"- {row.measure}: {row.rule}" for row in rows))
    if rules:
        lines += ["", "How each reading is made (the numbers and their details follow below):", "", *rules]
    return lines
