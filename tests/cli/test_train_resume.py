"""`pacgan train --resume` continues whatever a stopped run left: a `--start-size` restart stopped inside a
stage, and a run stopped before its first resume checkpoint."""

from __future__ import annotations

import contextlib
import shutil
import sys
from pathlib import Path

import pytest
import torch

from helpers import StopInStage, epochs, run_cli, tiny_config, write_config
from pacgan_cli.cli import progress
from pacgan_cli.core.models.checkpoint import load_checkpoint

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM to oneself")

OFTEN = {"checkpoint_every_minutes": 0.0001, "progressive_epochs": 3, "seed": 3}  # a resume.pt every batch


def stopped(monkeypatch: pytest.MonkeyPatch, stage: int, batch: int) -> None:
    """The next `pacgan train` receives SIGTERM in the given batch of the given stage it trains (0: its first)."""
    reporter = StopInStage(stage=stage, batch=batch)
    monkeypatch.setattr(progress, "progress_reporter", lambda quiet=False: contextlib.nullcontext(reporter))


def assert_same_weights(run: Path, reference: Path) -> None:
    for name in ("generator_last.pt", "discriminator_last.pt"):
        first = load_checkpoint(run / "PACGAN_16x16" / name).model.state_dict()
        second = load_checkpoint(reference / "PACGAN_16x16" / name).model.state_dict()
        assert all(torch.equal(value, second[key]) for key, value in first.items())


def test_resume_after_a_stop_in_a_start_size_run_continues_from_its_resume_checkpoint(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path / "config.yaml", tiny_config(tiny_data, **OFTEN))
    reference, run = tmp_path / "reference", tmp_path / "run"
    assert run_cli(["train", "-c", str(config), "-o", str(reference), "--quiet"], capsys)[0] == 0
    shutil.copytree(reference, run)
    restart = ["train", "--resume", "--start-size", "8", "--quiet", "-o"]
    assert run_cli([*restart, str(reference)], capsys)[0] == 0
    stopped(monkeypatch, stage=0, batch=8)  # epoch 2 of 8x8 (5 batches an epoch)
    code, _, err = run_cli([*restart, str(run)], capsys)
    assert code == 143 and f"continue with: pacgan train --resume --output {run}" in err
    monkeypatch.undo()
    saved = torch.load(run / "resume.pt", weights_only=True)
    assert (saved["stage"], saved["epoch"]) == (1, 2)
    code, _, err = run_cli(["train", "--resume", "-o", str(run), "--quiet"], capsys)
    assert code == 0, err
    assert "resuming inside 8x8 at epoch 2" in err
    assert epochs(run) == epochs(reference)
    assert_same_weights(run, reference)


@pytest.mark.parametrize(
    ("stage", "note"),
    [
        (0, "resuming from the start of 4x4: the run stopped before its first checkpoint"),
        (1, "resuming from the start of 8x8: after the last finished stage"),
    ],
)
def test_resume_without_a_resume_checkpoint_starts_the_unfinished_stage_again(
    tiny_data: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stage: int,
    note: str,
) -> None:
    config = write_config(tmp_path / "config.yaml", tiny_config(tiny_data, **OFTEN))
    reference, run = tmp_path / "reference", tmp_path / "run"
    assert run_cli(["train", "-c", str(config), "-o", str(reference), "--quiet"], capsys)[0] == 0
    stopped(monkeypatch, stage=stage, batch=7)
    assert run_cli(["train", "-c", str(config), "-o", str(run), "--quiet"], capsys)[0] == 143
    monkeypatch.undo()
    (run / "resume.pt").unlink()  # what a kill before the stage's first resume checkpoint leaves
    assert (run / "config.yaml").is_file() and (run / "metrics.jsonl").is_file()
    code, _, err = run_cli(["train", "--resume", "-o", str(run), "--quiet"], capsys)
    assert code == 0, err
    assert note in err
    assert epochs(run) == epochs(reference)
    assert_same_weights(run, reference)


def test_resume_where_no_run_was_started_is_one_line(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "config.yaml", tiny_config(tiny_data))
    code, _, err = run_cli(["train", "-c", str(config), "-o", str(tmp_path / "new"), "--resume"], capsys)
    assert (code, err) == (1, f"error: {tmp_path / 'new'}: no run to resume here; start without --resume\n")
    assert not (tmp_path / "new").exists()
