"""The artifacts section of `evaluate`."""

from pathlib import Path

from helpers import separable_set
from pacgan_cli.core.evaluation.evaluate import evaluate
from pacgan_cli.core.evaluation.options import EvaluationOptions


def test_a_bright_corner_in_every_synthetic_image_is_reported_with_its_voxel(tmp_path: Path) -> None:
    real, fake = separable_set(12, 1), separable_set(10, 2)
    real.images[:, :, 0, :] = -1  # a dark top row, like a brain slice's background
    fake.images[:, :, 0, :] = -1
    fake.images[:, 0, 0, -1] = -0.25  # the demo's corner: row 0, last column
    report = evaluate(real, fake, tmp_path / "r", metrics=["artifacts"], options=EvaluationOptions())
    assert "| (0, 15) | (15, 0) | -0.250 | -1.000 | -1.000 .. -1.000 |" in report.markdown
    assert report.data["metrics"]["artifacts"]["flagged_count"] == 1
    assert any(line.startswith("artifacts: 1 pixel(s)") for line in report.summary_lines())
