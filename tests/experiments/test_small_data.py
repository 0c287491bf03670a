"""The small-data study's harness end to end on the smallest setting: one data set, variant, seed and epoch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.small_data import run, summarize


def test_one_run_writes_its_scores_and_the_summary_tables_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    arguments = ["--datasets", "digits2", "--variants", "mode-seeking", "--seeds", "0", "--epochs", "1"]
    arguments += ["--synthetic", "20", "--data", str(tmp_path / "data"), "--runs", str(tmp_path / "runs")]
    assert run.main([*arguments, "--results", str(results)]) == 0

    scores = json.loads((results / "digits2-mode-seeking-seed0.json").read_text())
    assert scores["variant_settings"] == {"mode_seeking_weight": 0.3}
    assert 0 <= scores["critic_auc_test"] <= 1
    assert set(scores["tstr"]) == set(scores["trtr"]) == {"logistic_regression", "small_cnn"}
    assert 0 < scores["diversity"]["real"]["mean"] < 1
    assert len(scores["diversity"]["synthetic"]["per_class"]) == 2
    assert {path.name for path in (results / "grids").iterdir()} == {
        "digits2-real.png",
        "digits2-mode-seeking-seed0.png",
    }
    assert scores["artifact_pixels"] >= 0
    for side in ("synthetic", "real"):
        prdc = scores["prdc"][side]
        assert set(prdc) == {"precision", "recall", "density", "coverage"}
        assert all(0 <= prdc[name] <= 1 for name in ("precision", "recall", "coverage"))
    gain = scores["augmentation_gain"]["small_cnn"]
    assert gain["auc_difference"] == pytest.approx(gain["auc_augmented"] - gain["auc_real"])
    assert gain["auc_real"] == pytest.approx(scores["trtr"]["small_cnn"]["auc"])

    capsys.readouterr()
    assert summarize.main(["--results", str(results)]) == 0
    table = capsys.readouterr().out
    assert "### digits2" in table
    assert "| mode-seeking | 1 |" in table
    assert "| real training images |" in table
    assert "coverage, pixels" in table.splitlines()[2]

    published = {**scores, "variant": "published"}  # the same run as its own baseline: every delta is 0
    row = summarize.targets_table([scores, published], "mode-seeking").splitlines()[2]
    critic = scores["critic_auc_test"]
    assert row.startswith("| digits2 | ")
    assert row.endswith(f"| {critic:.3f} / {critic:.3f} ({critic - 0.02:.3f}): met |")
