"""The SSIM section of `evaluate`."""

from pathlib import Path

from helpers import separable_set
from pacgan_cli.core.evaluation.evaluate import evaluate
from pacgan_cli.core.evaluation.options import EvaluationOptions


def test_ssim_states_the_number_of_distinct_pairs_used(tmp_path: Path) -> None:
    real = separable_set(20, 1)  # 10 per class: 45 distinct pairs each, whatever --ssim-pairs asks
    report = evaluate(
        real,
        separable_set(40, 2),
        tmp_path / "r",
        metrics=["ssim"],
        options=EvaluationOptions(ssim_pairs=1000),
    )
    ssim = report.data["metrics"]["ssim"]
    assert [c["pairs"] for c in ssim["real_real"]["per_class"]] == [45, 45]
    assert [c["pairs"] for c in ssim["real_fake"]["per_class"]] == [200, 200]  # 10 x 20
    assert [c["pairs"] for c in ssim["fake_fake"]["per_class"]] == [190, 190]
    row = next(line for line in report.markdown.splitlines() if line.startswith("| real-real |"))
    assert row.count("(n=45)") == 2
    assert "1000 random pairs per class" not in report.markdown
    assert "number of distinct pairs used per class: up to 1000" in report.markdown
