"""Crash safety inside a stage: everything needed to continue a stage bit for bit, and a clean stop on
SIGINT/SIGTERM at the next batch boundary."""

from __future__ import annotations

import contextlib
import random
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from pacgan_cli.core.config import TrainingConfig
from pacgan_cli.core.errors import TrainingDiverged
from pacgan_cli.core.stages import stage_size
from pacgan_cli.core.training import records
from pacgan_cli.core.training.networks import Networks, NetworkSnapshot, take_snapshot
from pacgan_cli.core.training.records import EpochTotals
from pacgan_cli.core.training.run_folder import RunFolder

PROGRESS_FORMAT = 1
SIGNAL_EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


@dataclass
class StageProgress:
    """A stage stopped between two batches: the epoch in progress (1-based) and how many of its batches
    are done (`next_batch` == batches means the epoch's end-of-epoch work is still to do).

    `permutation` is that epoch's data order (None before it is drawn); `metrics_lines` is how many lines
    `metrics.jsonl` held, so that lines written after the checkpoint are dropped on resume.
    """

    stage: int
    epoch: int
    next_batch: int
    alpha: float
    permutation: torch.Tensor | None
    totals: EpochTotals
    epoch_seconds: float
    networks: NetworkSnapshot
    best: NetworkSnapshot | None
    epoch_records: list[dict[str, Any]]
    metrics_lines: int
    random_states: dict[str, Any]


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


def progress_to_data(progress: StageProgress) -> dict[str, Any]:
    """Plain data and tensors only, so that the file loads with `weights_only=True`."""
    totals = progress.totals
    return {
        "format": PROGRESS_FORMAT,
        "stage": progress.stage,
        "epoch": progress.epoch,
        "next_batch": progress.next_batch,
        "alpha": progress.alpha,
        "permutation": progress.permutation,
        "epoch_seconds": progress.epoch_seconds,
        "epoch_records": progress.epoch_records,
        "metrics_lines": progress.metrics_lines,
        "random_states": progress.random_states,
        "totals": {
            "sums": {name: value.cpu() for name, value in totals.sums.items()},
            "batches": totals.batches,
            "real_logits": [t.cpu() for t in totals.real_logits],
            "fake_logits": [t.cpu() for t in totals.fake_logits],
            "labels": [t.cpu() for t in totals.labels],
        },
        "networks": _snapshot_to_data(progress.networks),
        "best": _snapshot_to_data(progress.best) if progress.best is not None else None,
    }


def progress_from_data(data: dict[str, Any], device: torch.device) -> StageProgress:
    totals = data["totals"]
    sums: defaultdict[str, torch.Tensor] = defaultdict(lambda: torch.zeros((), device=device))
    sums.update({name: value.to(device) for name, value in totals["sums"].items()})
    return StageProgress(
        stage=int(data["stage"]),
        epoch=int(data["epoch"]),
        next_batch=int(data["next_batch"]),
        alpha=float(data["alpha"]),
        permutation=data["permutation"],
        totals=EpochTotals(
            sums,
            int(totals["batches"]),
            [t.to(device) for t in totals["real_logits"]],
            [t.to(device) for t in totals["fake_logits"]],
            [t.to(device) for t in totals["labels"]],
        ),
        epoch_seconds=float(data["epoch_seconds"]),
        networks=NetworkSnapshot(**data["networks"]),
        best=NetworkSnapshot(**data["best"]) if data["best"] is not None else None,
        epoch_records=list(data["epoch_records"]),
        metrics_lines=int(data["metrics_lines"]),
        random_states=data["random_states"],
    )


def _snapshot_to_data(snapshot: NetworkSnapshot) -> dict[str, Any]:
    return {field.name: getattr(snapshot, field.name) for field in fields(snapshot)}


class StopRequest:
    """Set by SIGINT/SIGTERM; the loop checks it between batches, writes a checkpoint and stops."""

    def __init__(self) -> None:
        self.signal: int | None = None

    def __bool__(self) -> bool:
        return self.signal is not None

    @property
    def exit_code(self) -> int:
        return SIGNAL_EXIT_CODES.get(self.signal, 1) if self.signal is not None else 0


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

    previous = {number: signal.signal(number, handle) for number in SIGNAL_EXIT_CODES}
    try:
        yield request
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class ProgressSaver:
    """Writes resume checkpoints of one stage and knows when the next one is due by time."""

    def __init__(
        self,
        config: TrainingConfig,
        folder: RunFolder,
        networks: Networks,
        stage: int,
        order: torch.Generator,
    ) -> None:
        self.config, self.folder, self.networks, self.stage, self.order = (
            config,
            folder,
            networks,
            stage,
            order,
        )
        self.last = time.monotonic()

    def due_by_time(self) -> bool:
        return time.monotonic() - self.last >= 60 * self.config.checkpoint_every_minutes

    def save(
        self,
        epoch: int,
        next_batch: int,
        permutation: torch.Tensor | None,
        totals: records.EpochTotals | None,
        epoch_seconds: float,
        alpha: float,
        best: NetworkSnapshot | None,
        epoch_records: list[dict[str, Any]],
    ) -> None:
        if totals is not None:
            stop_if_diverged(totals, self.stage, epoch, self.config)
        empty = records.EpochTotals({}, 0, [], [], [])
        progress = StageProgress(
            stage=self.stage,
            epoch=epoch,
            next_batch=next_batch,
            alpha=alpha,
            permutation=permutation,
            totals=totals if totals is not None else empty,
            epoch_seconds=epoch_seconds,
            networks=take_snapshot(self.networks, epoch, alpha),
            best=best,
            epoch_records=epoch_records,
            metrics_lines=self.folder.metrics_lines,
            random_states=capture_random_states(self.order),
        )
        self.folder.save_progress(progress_to_data(progress))
        self.last = time.monotonic()


def stop_if_diverged(totals: records.EpochTotals, stage: int, epoch: int, config: TrainingConfig) -> None:
    """A non-finite loss ends the run before anything of this epoch is saved (one host read)."""
    for term, value in totals.sums.items():
        if not bool(torch.isfinite(value)):
            size = stage_size(stage)
            raise TrainingDiverged(
                f"training diverged in stage {size}x{size}, epoch {epoch}: {term} is not finite; nothing of "
                f"this epoch was saved; lower learning_rate (now {config.learning_rate:g}) and start again, "
                "or resume from the last checkpoint"
            )
