"""The benchmark sections run end to end on tiny settings, so that `make bench` cannot rot unnoticed; their
rates are measured by `make bench`, not asserted here."""

from pathlib import Path

import pytest
import torch

from benchmarks import checkpoints, training, whole_run


def test_checkpoint_section_writes_a_resume_checkpoint_and_reports_its_cost() -> None:
    rows = checkpoints.measure(torch.device("cpu"), sizes=(8,), repeats=1, channels=32)
    assert [row.section for row in rows] == ["checkpoint"]
    assert rows[0].rate > 0 and "C=32" in rows[0].case and "training waits" in rows[0].note


def test_whole_run_section_times_both_loops_and_differences_one_and_three_epochs(tmp_path: Path) -> None:
    rows = whole_run.measure(
        channels=8,
        images=8,
        batch=4,
        max_size=8,
        variants=("published", "ours fp32"),
        rounds=1,
        work=tmp_path,
    )
    assert [row.variant for row in rows] == ["published", "ours fp32"]
    assert rows[0].ratio is None and rows[1].ratio is not None  # its value is noise at this size
    assert "epochs alone" in rows[1].note
    assert (tmp_path / "ours fp32-3.yaml").is_file() and (tmp_path / "run" / "metrics.jsonl").is_file()


def test_a_lazy_variant_is_timed_over_a_whole_cycle_with_one_penalised_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The median of single lazy steps would be the cheap step's cost; one call is the whole cycle."""
    penalties: list[bool] = []
    monkeypatch.setattr(training, "our_step", lambda *args, penalty: penalties.append(penalty))
    steps = training.step_functions(
        {name: None for name in training.VARIANTS}, torch.zeros(2, 1, 4, 4), torch.zeros(2), 0, None
    )
    steps["ours fp32 gp_interval 4"]()
    assert penalties == [True, False, False, False]
    penalties.clear()
    steps["ours fp32"]()
    assert penalties == [True]
    assert training.steps_per_call("ours bf16 channels-last gp_interval 4") == 4
