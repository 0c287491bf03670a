"""Crash safety inside a stage: everything needed to continue a stage bit for bit, and a clean stop on
SIGINT/SIGTERM at the next batch boundary, after a stage's wrap-up, or at once during the end-of-run
evaluation."""

from __future__ import annotations

import contextlib
import random
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pacgan_cli.core.config import TrainingConfig
from pacgan_cli.core.errors import InputError, TrainingDiverged, TrainingInterrupted
from pacgan_cli.core.io.atomic import atomic_path
from pacgan_cli.core.io.digest import payload_digest
from pacgan_cli.core.io.run_layout import RunLayout
from pacgan_cli.core.models.checkpoint import check_tensor_file_size
from pacgan_cli.core.stages import stage_size
from pacgan_cli.core.training.networks import Networks, take_snapshot
from pacgan_cli.core.training.records import EpochTotals

if TYPE_CHECKING:  # the run's folder writes what the saver gathers
    from pacgan_cli.core.training.state import RunContext, StagePlan, StageState

PROGRESS_FORMAT = 2  # 2: the digest of io/digest.py, shared with the stage checkpoints
PROGRESS_DIGEST_KEY = "sha256"
SIGNAL_EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


def capture_random_states(order: torch.Generator) -> dict[str, Any]:
    """Every random state a stage draws from: torch (CPU and CUDA), NumPy, Python and the data order."""
    numpy_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [numpy_state[0], torch.from_numpy(numpy_state[1].astype(np.int64)), *numpy_state[2:]],
        "python": list(random.getstate()),
        "order": order.get_state(),
    }


def restore_random_states(states: dict[str, Any], order: torch.Generator) -> None:
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    kind, keys, position, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    order.set_state(states["order"])


class StopRequest:
    """Set by SIGINT/SIGTERM; the loop checks it between batches, writes a checkpoint and stops. With
    `at_once` (work with no boundary to stop at) the signal handler raises `StopNow` instead."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self.at_once = False

    def __bool__(self) -> bool:
        return self.signal is not None

    @property
    def exit_code(self) -> int:
        return SIGNAL_EXIT_CODES.get(self.signal, 1) if self.signal is not None else 0


class StopNow(BaseException):
    """Raised by the signal handler under `interrupt_at_once`. Like KeyboardInterrupt it is no Exception, so
    no `except Exception` on its way (a reader turning errors into InputError) mistakes it for a failure."""


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """Turn SIGINT and SIGTERM into a StopRequest for the duration of training (main thread only; a second
    SIGINT interrupts at once)."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handle(number: int, _frame: object) -> None:
        if request and number == signal.SIGINT:
            raise KeyboardInterrupt
        request.signal = number
        if request.at_once:
            raise StopNow

    previous = {number: signal.signal(number, handle) for number in SIGNAL_EXIT_CODES}
    try:
        yield request
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class ProgressSaver:
    """Writes a stage's resume checkpoints and knows when the next one is due by time."""

    def __init__(self, run: RunContext, networks: Networks, stage: int, order: torch.Generator) -> None:
        self.run, self.networks, self.stage, self.order = run, networks, stage, order
        self.last = time.monotonic()

    def due_by_time(self) -> bool:
        return time.monotonic() - self.last >= 60 * self.run.config.checkpoint_every_minutes

    def save(self, state: StageState, background: bool = True) -> None:
        """Everything needed to continue from `state` bit for bit: the state itself (with every rank's loss
        sums and logits so far), both networks and their optimisers, and every random state. The snapshot is
        taken here; the file is written in the background unless the run is about to stop."""
        saved_state = state.to_data(self.run.ranks)
        if state.totals is not None:
            every_rank = EpochTotals.merged(saved_state["totals"], torch.device("cpu"))
            stop_if_diverged(every_rank, self.stage, state.epoch, self.run.config)
        data = {
            "format": PROGRESS_FORMAT,
            "stage": self.stage,
            **saved_state,
            "networks": take_snapshot(self.networks, state.epoch, state.alpha).to_data(),
            "metrics_lines": self.run.folder.metrics_lines,
            "random_states": capture_random_states(self.order),
        }
        self.run.folder.save_progress(data, background)
        self.last = time.monotonic()


def stop_if_diverged(totals: EpochTotals, stage: int, epoch: int, config: TrainingConfig) -> None:
    """A non-finite loss ends the run before anything of this epoch is saved (one host read)."""
    for term, value in totals.sums.items():
        if not bool(torch.isfinite(value)):
            size = stage_size(stage)
            raise TrainingDiverged(
                f"training diverged in stage {size}x{size}, epoch {epoch}: {term} is not finite; nothing of "
                f"this epoch was saved; lower learning_rate (now {config.learning_rate:g}) and start again, "
                "or resume from the last checkpoint"
            )


@dataclass(frozen=True)
class ResumePoint:
    """Where a run continues: the first stage to train (`num_stages` when only the end-of-run generation
    and evaluation are left), inside that stage the saved progress (plain data) if there is one, and the
    line that tells the user what a resumed run continues from."""

    stage: int
    progress: dict[str, Any] | None = None
    note: str = ""


def resume_point(config: TrainingConfig, layout: RunLayout, resuming: bool) -> ResumePoint:
    """0, the configured start size, the stage a resume checkpoint is inside, or after the last finished
    stage (the first stage when a run stopped before any checkpoint); with every stage finished, only a
    missing end-of-run evaluation is left to do."""
    if not resuming:
        return ResumePoint(0)
    if config.load_model:
        size = stage_size(config.start_stage)
        return ResumePoint(config.start_stage, note=f"training again from {size}x{size} on")
    finished = layout.finished_stages(config.num_stages)
    if layout.progress_path.is_file():
        progress = load_progress(layout.progress_path)
        stage = int(progress["stage"])
        if stage not in finished and stage == (finished[-1] + 1 if finished else 0):
            size = stage_size(stage)
            where = f"epoch {progress['epoch']}, after batch {progress['next_batch']}"
            return ResumePoint(
                stage, progress, f"resuming inside {size}x{size} at {where} ({layout.progress_path})"
            )
    if not finished and not layout.result_paths():
        raise InputError(f"{layout.model_directory}: no run to resume here; start without --resume")
    if not finished or finished[-1] + 1 < config.num_stages:
        stage = finished[-1] + 1 if finished else 0
        why = "after the last finished stage" if finished else "the run stopped before its first checkpoint"
        size = stage_size(stage)
        return ResumePoint(stage, note=f"resuming from the start of {size}x{size}: {why}")
    if config.generate and not layout.end_of_run.report_path.is_file():
        return ResumePoint(
            config.num_stages, note="every stage is trained: resuming with the end-of-run evaluation"
        )
    raise InputError(
        f"{layout.model_directory}: every stage is already trained; use --start-size to train a stage again"
    )


def load_progress(path: Path) -> dict[str, Any]:
    """A resume checkpoint as plain data (`weights_only=True`), once its size is known to be within the
    checkpoint limit; a damaged one (unreadable, or not matching its SHA-256) is an error that says so."""
    try:
        check_tensor_file_size(path)
        data = torch.load(path, map_location="cpu", weights_only=True)
    except InputError:
        raise
    except Exception as error:
        raise InputError(
            f"{path}: the resume checkpoint is damaged ({str(error).splitlines()[0]}); delete it to resume "
            "from the last finished stage"
        ) from error
    if not isinstance(data, dict) or data.get("format") not in (1, PROGRESS_FORMAT):
        raise InputError(
            f"{path}: not a pacgan resume checkpoint; delete it to resume from the last finished stage"
        )
    if data["format"] != PROGRESS_FORMAT:
        raise InputError(
            f"{path}: a resume checkpoint of an older pacgan, which this version cannot check; delete it to "
            "resume from the last finished stage"
        )
    recorded = data.pop(PROGRESS_DIGEST_KEY, None)
    if recorded is None:
        raise InputError(
            f"{path}: the resume checkpoint has no SHA-256 ({PROGRESS_DIGEST_KEY}), so it cannot be checked; "
            "delete it to resume from the last finished stage"
        )
    if recorded != payload_digest(data):
        raise InputError(
            f"{path}: the resume checkpoint is damaged: its contents do not match the SHA-256 recorded when it "
            "was written; delete it to resume from the last finished stage"
        )
    return data


def write_progress_file(path: Path, data: dict[str, Any]) -> None:
    """Write a resume checkpoint atomically (the previous one stays until the new one is complete), with the
    SHA-256 that `load_progress` checks."""
    with atomic_path(path) as temporary:
        torch.save({**data, PROGRESS_DIGEST_KEY: payload_digest(data)}, temporary)


def stop_if_requested(run: RunContext, plan: StagePlan, epoch: int) -> None:
    """After a checkpoint: stop when SIGINT/SIGTERM asked for it (on any rank), saying what was kept and how
    to go on."""
    if not run.ranks.any(bool(run.stop)):
        return
    raise TrainingInterrupted(
        f"stopped in stage {plan.size}x{plan.size}, epoch {epoch}/{plan.epochs}; the finished stages and a "
        f"resume checkpoint ({run.layout.progress_path}) are kept; continue with: {run.layout.resume_command()}",
        _exit_code(run.stop),
    )


def stop_after_stage(run: RunContext, plan: StagePlan) -> None:
    """After a stage's wrap-up (checkpoints, figures, test scores; the stage recorded as finished): stop when
    SIGINT/SIGTERM asked for it meanwhile (on any rank) and work is left, so that a stop during the last
    stage's wrap-up never runs on through the end-of-run evaluation."""
    config = run.config
    work_left = plan.stage + 1 < config.num_stages or config.generate
    if not work_left or not run.ranks.any(bool(run.stop)):
        return
    before = ", before the end-of-run evaluation" if plan.stage + 1 == config.num_stages else ""
    raise TrainingInterrupted(
        f"stopped after stage {plan.size}x{plan.size}{before}; the finished stages are kept; continue with: "
        f"{run.layout.resume_command()}",
        _exit_code(run.stop),
    )


@contextlib.contextmanager
def interrupt_at_once(run: RunContext) -> Iterator[None]:
    """Around the end-of-run evaluation, which has no batch boundary to stop at: SIGINT/SIGTERM, before it or
    during it, stop the run at once. Every stage is kept, and `--resume` runs the evaluation again."""
    message = (
        "stopped during the end-of-run evaluation; every stage is trained and kept; evaluate with: "
        f"{run.layout.resume_command()}"
    )
    run.stop.at_once = True
    try:
        if run.stop:  # asked for since the last stage's check
            raise StopNow
        yield
    except StopNow:
        raise TrainingInterrupted(message, _exit_code(run.stop)) from None
    finally:
        run.stop.at_once = False


def _exit_code(stop: StopRequest) -> int:
    """The signal's exit code; SIGTERM's where another rank received the signal."""
    return stop.exit_code or SIGNAL_EXIT_CODES[signal.SIGTERM]
