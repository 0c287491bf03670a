"""Resuming: the resume checkpoint is checked like a stage checkpoint (a SHA-256 over its contents and the size
limit), a run resumed inside a stage or at a stage boundary goes on with the saved ada p, and a stop during a
stage's wrap-up or the end-of-run evaluation stops the run and resumes into what was left."""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from helpers import ADA, StopInStage, epochs, run_cli, stored_probability, tiny_config, write_config
from pacgan_cli.core.config import build_config
from pacgan_cli.core.errors import InputError, TrainingInterrupted
from pacgan_cli.core.io.limits import CHECKPOINT_BYTES_VARIABLE
from pacgan_cli.core.io.run_layout import RunLayout
from pacgan_cli.core.models.checkpoint import load_checkpoint
from pacgan_cli.core.progress import SilentReporter
from pacgan_cli.core.training import augment
from pacgan_cli.core.training.loop import train
from pacgan_cli.core.training.resume import PROGRESS_FORMAT, load_progress
from pacgan_cli.core.training.run_folder import RunFolder

WEIGHTS = torch.arange(1000, dtype=torch.float32)


def saved_progress(tmp_path: Path) -> Path:
    folder = RunFolder(RunLayout(tmp_path, tmp_path))
    folder.save_progress({"format": PROGRESS_FORMAT, "stage": 2, "alpha": 0.625, "weights": WEIGHTS.clone()})
    return folder.layout.progress_path


def replace_once(path: Path, old: bytes, new: bytes) -> None:
    content = path.read_bytes()
    assert content.count(old) == 1
    path.write_bytes(content.replace(old, new))


def test_an_intact_resume_checkpoint_loads_as_written(tmp_path: Path) -> None:
    data = load_progress(saved_progress(tmp_path))
    assert data["alpha"] == 0.625 and data["stage"] == 2 and torch.equal(data["weights"], WEIGHTS)
    assert "sha256" not in data


def test_a_changed_tensor_byte_is_refused(tmp_path: Path) -> None:
    path = saved_progress(tmp_path)
    # torch.save stores tensor bytes uncompressed: change the weight 500.0 to 501.0 in place.
    replace_once(path, struct.pack("<f", 500.0), struct.pack("<f", 501.0))
    assert torch.load(path, weights_only=True)["weights"][500] == 501.0  # still a readable file
    with pytest.raises(
        InputError, match="resume checkpoint is damaged: its contents do not match the SHA-256"
    ):
        load_progress(path)


def test_a_changed_plain_value_is_refused(tmp_path: Path) -> None:
    path = saved_progress(tmp_path)
    replace_once(path, struct.pack(">d", 0.625), struct.pack(">d", 0.75))  # alpha in the pickle
    assert torch.load(path, weights_only=True)["alpha"] == 0.75
    with pytest.raises(InputError, match="delete it to resume from the last finished stage"):
        load_progress(path)


def test_a_resume_checkpoint_without_its_digest_or_of_an_older_format_is_refused(tmp_path: Path) -> None:
    path = saved_progress(tmp_path)
    data = torch.load(path, weights_only=True)
    data.pop("sha256")
    torch.save(data, path)
    with pytest.raises(InputError, match=r"resume\.pt: the resume checkpoint has no SHA-256 \(sha256\)"):
        load_progress(path)
    torch.save({**data, "format": 1, "sha256": "0" * 64}, path)
    with pytest.raises(InputError, match=r"resume\.pt: a resume checkpoint of an older pacgan.*delete it"):
        load_progress(path)


def test_a_resume_checkpoint_over_the_size_limit_is_refused_before_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = saved_progress(tmp_path)
    monkeypatch.setenv(CHECKPOINT_BYTES_VARIABLE, "1000")
    with pytest.raises(InputError, match=f"over the limit of 1000 bytes; .*{CHECKPOINT_BYTES_VARIABLE}="):
        load_progress(path)


def test_resuming_from_a_damaged_resume_checkpoint_is_one_line_and_touches_nothing(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    write_config(run / "config.yaml", tiny_config(tiny_data))
    path = saved_progress(run)
    replace_once(path, struct.pack("<f", 500.0), struct.pack("<f", -500.0))
    before = {file: file.read_bytes() for file in run.iterdir()}
    code, _, err = run_cli(["train", "--resume", "-o", str(run), "--quiet"], capsys)
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"error: {path}: the resume checkpoint is damaged")
    assert {file: file.read_bytes() for file in run.iterdir()} == before


@pytest.fixture
def overfitting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A controlled signal: the critic always looks overfitted (r = 1 > target), so p rises by ada_step per
    epoch; a tiny run's own critic hardly separates its 40 images from the fakes within a few epochs."""
    monkeypatch.setattr(
        augment, "overfitting_signal", lambda real, fake, ranks=None: torch.ones((), device=real.device)
    )


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM to oneself")
def test_resume_inside_a_stage_continues_with_the_saved_p_bit_for_bit(
    tiny_data: Path, tmp_path: Path, overfitting: None
) -> None:
    settings = build_config(tiny_config(tiny_data, **ADA, checkpoint_every_minutes=0.0001))
    train(settings, output=tmp_path / "reference")
    with pytest.raises(TrainingInterrupted):
        train(settings, StopInStage(stage=1, batch=14), output=tmp_path / "run")  # epoch 3 of 8x8
    saved = torch.load(tmp_path / "run" / "resume.pt", weights_only=True)
    expected = [r for r in epochs(tmp_path / "reference") if r["size"] == 8][saved["epoch"] - 1]
    assert saved["networks"]["augment_probability"] == expected["augment_p"] == pytest.approx(0.6)
    train(settings, SilentReporter(), output=tmp_path / "run", resume=True)
    assert epochs(tmp_path / "run") == epochs(tmp_path / "reference")
    for name in ("generator_last.pt", "discriminator_last.pt"):
        first = load_checkpoint(tmp_path / "run" / "PACGAN_16x16" / name).model.state_dict()
        second = load_checkpoint(tmp_path / "reference" / "PACGAN_16x16" / name).model.state_dict()
        assert all(torch.equal(value, second[key]) for key, value in first.items())


def test_resume_at_a_stage_boundary_continues_with_the_p_of_the_stage_checkpoint(
    tiny_data: Path, tmp_path: Path, overfitting: None
) -> None:
    settings = build_config(tiny_config(tiny_data, **ADA))
    full, partial = tmp_path / "full", tmp_path / "partial"
    train(settings, output=full)
    shutil.copytree(full, partial)
    shutil.rmtree(partial / "PACGAN_16x16")
    (partial / "PACGAN_8x8" / "stage_complete.json").unlink()
    (partial / "metrics.jsonl").write_text(
        "".join(
            line + "\n"
            for line in (full / "metrics.jsonl").read_text().splitlines()
            if json.loads(line)["size"] < 8
        )
    )
    shutil.rmtree(partial / "PACGAN_8x8")
    assert stored_probability(partial, 4) == pytest.approx(0.4)
    train(settings, output=partial, resume=True)
    assert epochs(partial) == epochs(full)


class StopAt(SilentReporter):
    """Sends this process SIGTERM when the last stage's last epoch has ended (its wrap-up starts: checkpoints,
    figures, the stage's completion), or when the end-of-run evaluation starts its first metric."""

    def __init__(self, moment: str, stages: int) -> None:
        self.moment, self.stages, self.started = moment, stages, 0

    def stage_started(self, name: str, total: int, **info: Any) -> None:
        self.started += 1

    def epoch_finished(self, epoch: int, epochs: int, **values: Any) -> None:
        if self.moment == "wrap-up" and self.started == self.stages and epoch == epochs:
            os.kill(os.getpid(), signal.SIGTERM)

    def message(self, text: str) -> None:
        if self.moment == "evaluation" and text.startswith("evaluate: "):
            os.kill(os.getpid(), signal.SIGTERM)


@pytest.fixture
def unheard_sigterm_fails() -> Any:
    """A SIGTERM that no stop request hears fails the test, instead of ending the test process."""

    def fail(number: int, frame: object) -> None:
        pytest.fail("SIGTERM arrived where training does not listen for it")

    previous = signal.signal(signal.SIGTERM, fail)
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM to oneself")
@pytest.mark.parametrize(
    ("moment", "said"),
    [
        (
            "wrap-up",
            "stopped after stage 16x16, before the end-of-run evaluation; the finished stages are kept; "
            "continue with: pacgan train --resume --output ",
        ),
        (
            "evaluation",
            "stopped during the end-of-run evaluation; every stage is trained and kept; evaluate with: "
            "pacgan train --resume --output ",
        ),
    ],
)
def test_a_stop_after_the_last_epoch_stops_the_run_and_resume_runs_the_evaluation(
    tiny_data: Path, tmp_path: Path, moment: str, said: str, unheard_sigterm_fails: None
) -> None:
    settings = build_config(tiny_config(tiny_data, generate=True, n_images_generated=[6]))
    run = tmp_path / "run"
    with pytest.raises(TrainingInterrupted) as stopped:
        train(settings, StopAt(moment, settings.num_stages), output=run)
    assert stopped.value.exit_code == 143 and str(stopped.value) == f"{said}{run}"
    assert (run / "PACGAN_16x16" / "stage_complete.json").is_file()
    assert not (run / "evaluation" / "report.md").is_file()
    trained = epochs(run)
    result = train(settings, output=run, resume=True)
    assert result.evaluation_directory == run / "evaluation"
    assert (run / "evaluation" / "report.md").is_file() and epochs(run) == trained
