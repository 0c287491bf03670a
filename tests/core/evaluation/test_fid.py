"""The FID section of `evaluate`."""

from pathlib import Path

from helpers import separable_set
from pacgan_cli.core.evaluation.evaluate import evaluate


def test_identical_sets_give_fid_near_zero(small_extractor, tmp_path: Path) -> None:
    real = separable_set(20, 1)
    report = evaluate(real, real, tmp_path / "r", metrics=["fid"])
    assert abs(report.data["metrics"]["fid"]["real_fake"]) < 1e-6
