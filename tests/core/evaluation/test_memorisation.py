"""The memorisation section of `evaluate`."""

from pathlib import Path

from helpers import separable_set
from pacgan_cli.core.evaluation.evaluate import evaluate


def test_memorisation_table_names_the_nearest_training_image(tmp_path: Path) -> None:
    report = evaluate(
        separable_set(12, 1),
        separable_set(10, 2),
        tmp_path / "r",
        metrics=["memorisation"],
        train=separable_set(14, 3),
    )
    assert "| synthetic -> nearest training image |" in report.markdown
    alone = evaluate(separable_set(12, 1), separable_set(10, 2), tmp_path / "a", metrics=["memorisation"])
    assert "| synthetic -> nearest real image |" in alone.markdown
