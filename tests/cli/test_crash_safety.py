"""A run survives being killed: resume checkpoints inside a stage continue it bit for bit, and the run
folder stays usable after kills at awkward moments."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from helpers import TIMING_KEYS, run_cli, tiny_config, write_config
from pacgan_cli.core.config import build_config
from pacgan_cli.core.models.checkpoint import load_checkpoint
from pacgan_cli.core.training.loop import train

# A process that holds a run folder's lock until it is killed.
HOLD_LOCK = (
    "import sys, time; from pathlib import Path; from pacgan_cli.core.training.run_lock import RunLock; "
    "RunLock(Path(sys.argv[1])).acquire(); print('held', flush=True); time.sleep(120)"
)
# Every batch a checkpoint (0.0001 minutes), so that a kill always finds one inside the stage.
OFTEN = {"progressive_epochs": 3, "checkpoint_every_minutes": 0.0001, "seed": 4}


def metrics(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING_KEYS} for line in lines]


def assert_same_weights(a: Path, b: Path) -> None:
    for name in ("generator_last.pt", "discriminator_last.pt"):
        first = load_checkpoint(a / "PACGAN_16x16" / name).model.state_dict()
        second = load_checkpoint(b / "PACGAN_16x16" / name).model.state_dict()
        for key, value in first.items():
            assert torch.equal(value, second[key]), key


def start_training(config_path: Path, run: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pacgan_cli", "train", "-c", str(config_path), "-o", str(run), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_checkpoint_in_stage(run: Path, stage: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        progress = run / "resume.pt"
        if progress.is_file():
            try:
                data = torch.load(progress, weights_only=True)
            except Exception:  # replaced while being read
                continue
            if data["stage"] == stage and data["next_batch"] > 0:
                return
        time.sleep(0.05)
    raise AssertionError("no checkpoint inside the stage appeared before the run ended")


@pytest.fixture
def reference(tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The uninterrupted run, through the same command line (which sets the same thread count)."""
    run = tmp_path / "reference"
    config_path = write_config(tmp_path / "reference.yaml", tiny_config(tiny_data, **OFTEN))
    code, _, err = run_cli(["train", "-c", str(config_path), "-o", str(run), "--quiet"], capsys)
    assert code == 0, err
    return run


def test_sigkill_inside_a_stage_then_resume_is_bit_identical(
    tiny_data: Path, tmp_path: Path, reference: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = write_config(tmp_path / "config.yaml", tiny_config(tiny_data, **OFTEN))
    run = tmp_path / "killed"
    process = start_training(config_path, run)
    wait_for_checkpoint_in_stage(run, 1, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    # What a kill in the middle of a checkpoint write leaves: a partial file beside the complete old one.
    (run / ".resume.partial-abc123.pt").write_bytes(b"PK\x03\x04 torn")
    assert not (run / "PACGAN_8x8" / "stage_complete.json").exists()
    code, _, err = run_cli(["train", "--resume", "-o", str(run), "--quiet"], capsys)
    assert code == 0, err
    assert "left by a write that was killed" in err
    assert metrics(run) == metrics(reference)
    assert_same_weights(run, reference)
    assert not list(run.rglob(".*.partial-*")) and not (run / "resume.pt").exists()


def test_sigterm_writes_a_checkpoint_says_how_to_resume_and_exits_143(
    tiny_data: Path, tmp_path: Path, reference: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = write_config(tmp_path / "config.yaml", tiny_config(tiny_data, **OFTEN))
    run = tmp_path / "stopped"
    process = start_training(config_path, run)
    wait_for_checkpoint_in_stage(run, 1, process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: stopped in stage 8x8") and f"pacgan train --resume --output {run}" in last
    assert (run / "resume.pt").is_file() and not (run / ".pacgan.lock").exists()
    code, _, err = run_cli(["train", "--resume", "-o", str(run), "--quiet"], capsys)
    assert code == 0, err
    assert metrics(run) == metrics(reference)
    assert_same_weights(run, reference)


def test_a_second_run_on_a_folder_in_use_is_refused_and_the_folder_free_once_the_holder_ends(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    config_path = write_config(tmp_path / "config.yaml", tiny_config(tiny_data))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(run / ".pacgan.lock")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        code, _, err = run_cli(
            ["train", "-c", str(config_path), "-o", str(run), "--force", "--quiet"], capsys
        )
        assert code == 1 and err.count("\n") == 1 and f"another training process (pid {holder.pid})" in err
    finally:
        holder.kill()
        holder.wait()
    # The killed holder left its lock file; the kernel released its lock.
    assert (run / ".pacgan.lock").exists()
    code, _, err = run_cli(["train", "-c", str(config_path), "-o", str(run), "--force", "--quiet"], capsys)
    assert code == 0, err
    assert not (run / ".pacgan.lock").exists()


def test_a_stage_without_its_completion_marker_is_trained_again(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    train(build_config(tiny_config(tiny_data, seed=2)), output=run)
    before = metrics(run)
    # A kill after the generator's checkpoint but before the discriminator's and the marker.
    (run / "PACGAN_16x16" / "stage_complete.json").unlink()
    (run / "PACGAN_16x16" / "discriminator_last.pt").unlink()
    code, _, err = run_cli(["train", "--resume", "-o", str(run), "--quiet"], capsys)
    assert code == 0, err
    assert metrics(run) == before
    assert (run / "PACGAN_16x16" / "discriminator_last.pt").is_file()
    assert set(json.loads((run / "summary.json").read_text())["stages"]) == {"4x4", "8x8", "16x16"}


def test_resume_finishes_an_interrupted_end_of_run_evaluation(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    config = tiny_config(tiny_data, generate=True, n_images_generated=[6])
    train(build_config(config), output=run)
    (run / "evaluation" / "report.md").unlink()
    before = metrics(run)
    code, _, err = run_cli(["train", "--resume", "-o", str(run), "--quiet"], capsys)
    assert code == 0, err
    assert (run / "evaluation" / "report.md").is_file() and metrics(run) == before


def test_a_torn_metrics_line_is_dropped_before_training(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    train(build_config(tiny_config(tiny_data, seed=2)), output=run)
    full = metrics(run)
    lines = (run / "metrics.jsonl").read_text().splitlines()
    # The 16x16 stage was killed while writing its first line.
    kept = [line for line in lines if json.loads(line)["size"] < 16]
    (run / "metrics.jsonl").write_text("\n".join(kept) + "\n" + lines[-1][:25])
    for name in ("stage_complete.json", "generator_last.pt"):
        (run / "PACGAN_16x16" / name).unlink()
    code, _, err = run_cli(["train", "--resume", "-o", str(run), "--quiet"], capsys)
    assert code == 0, err
    assert "cut short by a kill" in err
    assert metrics(run) == full


def test_a_diverging_run_stops_at_once_naming_the_stage_epoch_and_term(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    config_path = write_config(tmp_path / "config.yaml", tiny_config(tiny_data, learning_rate=1e30))
    code, _, err = run_cli(["train", "-c", str(config_path), "-o", str(run), "--quiet"], capsys)
    last = err.strip().splitlines()[-1]
    assert code == 1 and last.startswith("error: training diverged in stage 4x4, epoch 1: ")
    assert "lower learning_rate (now 1e+30)" in last and "Traceback" not in err
    assert not (run / "PACGAN_4x4" / "generator_last.pt").exists() and not (run / "resume.pt").exists()


SLOW_WRITE = """
import sys, threading, time
from pathlib import Path
import torch
from pacgan_cli.core.training import resume

marker, original, writes = Path(sys.argv[1]), torch.save, []

def slow_save(data, path, *args, **kwargs):
    original(data, path, *args, **kwargs)  # the temporary file is complete, not yet moved onto resume.pt
    writes.append(data["stage"])
    if data["stage"] == 1 and writes.count(1) == 3:
        marker.write_text(threading.current_thread().name)
        time.sleep(300)  # killed here, in the middle of the write

resume.torch.save = slow_save
sys.argv = ["pacgan", *sys.argv[2:]]
from pacgan_cli.cli.app import main
main()
"""


def test_sigkill_during_a_background_write_keeps_the_previous_checkpoint_whole(
    tiny_data: Path, tmp_path: Path, reference: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = write_config(tmp_path / "config.yaml", tiny_config(tiny_data, **OFTEN))
    run, marker = tmp_path / "killed", tmp_path / "writing"
    arguments = ["train", "-c", str(config_path), "-o", str(run), "--quiet"]
    log = tmp_path / "child.log"
    with log.open("w") as output:
        process = subprocess.Popen([sys.executable, "-c", SLOW_WRITE, str(marker), *arguments], stderr=output)
    deadline = time.monotonic() + 240
    while not marker.is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.is_file(), f"the third write of stage 2 never started: {log.read_text()[-2000:]}"
    assert marker.read_text() == "pacgan-resume-checkpoint"  # written off the training thread
    time.sleep(0.5)  # training goes on meanwhile; then the kill
    process.kill()
    process.wait()
    previous = torch.load(run / "resume.pt", weights_only=True)  # the second write, whole
    assert previous["stage"] == 1
    assert list(run.glob(".resume.partial-*"))  # the write that was killed left its temporary file
    code, _, err = run_cli([*arguments[:-1], "--resume", "--quiet"], capsys)
    assert code == 0, err
    assert not list(run.glob(".resume.partial-*"))
    assert metrics(run) == metrics(reference)
    assert_same_weights(run, reference)


def test_by_default_a_short_epoch_writes_no_resume_checkpoint(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pacgan_cli.core.training.run_folder import RunFolder

    writes: list[int] = []
    original = RunFolder.save_progress
    monkeypatch.setattr(
        RunFolder,
        "save_progress",
        lambda self, data, background=False: (writes.append(data["epoch"]), original(self, data, background)),
    )
    train(build_config(tiny_config(tiny_data, progressive_epochs=3)), output=tmp_path / "quiet")
    assert writes == []  # ten minutes never passed; each stage's end wrote its own checkpoints
    train(
        build_config(tiny_config(tiny_data, progressive_epochs=3, checkpoint_every_epochs=1)),
        output=tmp_path / "asked",
    )
    assert writes == [2, 3] * 3  # asked for: after epochs 1 and 2 of each stage (not after the last)
