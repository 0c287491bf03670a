"""The metric registry."""

from pacgan_cli.core.evaluation.evaluate import METRICS
from pacgan_cli.core.evaluation.registry import METRIC_NAMES


def test_registry_matches_the_names_the_command_line_offers() -> None:
    assert tuple(METRICS) == METRIC_NAMES
