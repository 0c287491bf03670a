"""Training state as values: what every stage of a run shares (`RunContext`), what stays fixed during one
stage (`StagePlan`), what changes between two batches of a stage (`StageState`, which a resume checkpoint
saves and restores), and what a run returns (`StageResult`, `TrainResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pacgan_cli.core.config import TrainingConfig
from pacgan_cli.core.errors import InputError
from pacgan_cli.core.io.run_layout import RunLayout
from pacgan_cli.core.io.stage_folder import StageFolder
from pacgan_cli.core.models.checkpoint import read_checkpoint_file
from pacgan_cli.core.progress import Reporter
from pacgan_cli.core.stages import stage_size
from pacgan_cli.core.training.data import batch_ranges
from pacgan_cli.core.training.distributed import Ranks
from pacgan_cli.core.training.networks import NetworkSnapshot
from pacgan_cli.core.training.records import EpochTotals
from pacgan_cli.core.training.resume import StopRequest
from pacgan_cli.core.training.run_folder import RunFolder

ALPHA_START = 1e-5


@dataclass(frozen=True)
class RunContext:
    """What every stage of a run shares: the configuration, where the run writes, the devices and
    processes it runs on, its checked data, who listens and whether a stop was asked for."""

    config: TrainingConfig
    folder: RunFolder
    devices: list[torch.device]
    ranks: Ranks
    data: StageFolder
    # Validation mode: label rows of the training part and of the held-out fold; None in the other modes.
    rows: tuple[np.ndarray, np.ndarray] | None
    test_data: StageFolder | None  # test mode only
    epochs: tuple[int, ...]  # per stage: the configured counts, or the validation run's best epochs
    reporter: Reporter
    stop: StopRequest

    @property
    def layout(self) -> RunLayout:
        return self.folder.layout

    @property
    def mode(self) -> str:
        return self.config.mode

    @property
    def training_images(self) -> int:
        """Images each epoch trains on (the training part of the folds in validation mode)."""
        return len(self.rows[0]) if self.rows is not None else self.data.image_count

    def plan(self, stage: int) -> StagePlan:
        schedule = self.config.schedule(stage)
        batches = batch_ranges(self.training_images, schedule.batch_size, self.ranks.world_size)
        return StagePlan(
            stage=stage,
            num_stages=self.config.num_stages,
            epochs=self.epochs[stage],
            batch_size=schedule.batch_size,
            critic_iterations=schedule.critic_iterations,
            batches=len(batches),
        )


def stage_epochs(config: TrainingConfig) -> tuple[int, ...]:
    """Epochs per stage: as configured, or in test mode with `test_using_best_model` each stage's best epoch
    count, read from the validation run's checkpoints."""
    if config.mode != "test" or not config.test_using_best_model:
        return config.progressive_epochs
    source = RunLayout(Path(config.best_epochs_from or config.model_directory), Path())
    epochs = []
    for stage in range(config.num_stages):
        path = source.checkpoint(stage_size(stage), "generator", "best")
        if not path.is_file():
            raise InputError(
                f"{path}: not found; test mode with test_using_best_model reads each stage's best epoch from the "
                "validation run (set best_epochs_from, or test_using_best_model: false)"
            )
        epochs.append(max(1, int(read_checkpoint_file(path).get("epoch", 1))))
    return tuple(epochs)


@dataclass(frozen=True)
class StagePlan:
    """What stays fixed during one resolution stage."""

    stage: int
    num_stages: int
    epochs: int
    batch_size: int
    critic_iterations: int
    batches: int  # per epoch

    @property
    def steps(self) -> int:
        return self.epochs * self.batches

    @property
    def size(self) -> int:
        return stage_size(self.stage)

    @property
    def title(self) -> str:
        return f"stage {self.stage + 1}/{self.num_stages} {self.size}x{self.size}"


@dataclass
class StageState:
    """A stage between two batches: the epoch in progress (1-based) and how many of its batches are done
    (`next_batch` == batches: only the epoch's end-of-epoch work is left), the fade-in alpha, the epoch's data
    order (None until drawn) and loss sums, the best epoch so far, the finished epochs' records, and how long
    the epoch had run when the state was saved (carried over a resume, so its speed stays right)."""

    epoch: int = 1
    next_batch: int = 0
    alpha: float = ALPHA_START
    permutation: torch.Tensor | None = None
    totals: EpochTotals | None = None
    epoch_seconds: float = 0.0
    best: NetworkSnapshot | None = None
    records: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def fresh(cls) -> StageState:
        return cls()

    def start_epoch(self) -> None:
        """Past an epoch's end: the next one draws its own order and sums from zero."""
        self.epoch += 1
        self.next_batch, self.permutation, self.totals, self.epoch_seconds = 0, None, None, 0.0

    def to_data(self) -> dict[str, Any]:
        """Plain data and CPU tensors, for a resume checkpoint loaded with `weights_only=True`."""
        totals = self.totals or EpochTotals({}, 0, [], [], [])
        return {
            "epoch": self.epoch,
            "next_batch": self.next_batch,
            "alpha": self.alpha,
            "permutation": self.permutation,
            "epoch_seconds": self.epoch_seconds,
            "epoch_records": self.records,
            "totals": {
                "sums": {name: value.cpu() for name, value in totals.sums.items()},
                "batches": totals.batches,
                "real_logits": [t.cpu() for t in totals.real_logits],
                "fake_logits": [t.cpu() for t in totals.fake_logits],
                "labels": [t.cpu() for t in totals.labels],
            },
            "best": self.best.to_data() if self.best is not None else None,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any], device: torch.device) -> StageState:
        saved = data["totals"]
        totals = EpochTotals.start(int(saved["batches"]), device)
        totals.sums.update({name: value.to(device) for name, value in saved["sums"].items()})
        for name in ("real_logits", "fake_logits", "labels"):
            getattr(totals, name).extend(t.to(device) for t in saved[name])
        return cls(
            epoch=int(data["epoch"]),
            next_batch=int(data["next_batch"]),
            alpha=float(data["alpha"]),
            permutation=data["permutation"],
            totals=totals if data["permutation"] is not None else None,
            epoch_seconds=float(data["epoch_seconds"]),
            best=NetworkSnapshot(**data["best"]) if data["best"] is not None else None,
            records=list(data["epoch_records"]),
        )


@dataclass
class StageResult:
    """What one resolution stage produced."""

    size: int
    epochs: int
    best_epoch: int
    best_score: float | None
    seconds: float
    checkpoints: dict[str, str]
    batch_statistic: float
    test: dict[str, Any] | None = None


@dataclass
class TrainResult:
    """The run folder and per-stage outcomes of `train`."""

    run_directory: Path
    image_directory: Path
    mode: str
    stages: list[StageResult] = field(default_factory=list)
    evaluation_directory: Path | None = None
    rank: int = 0  # this process's rank in a distributed run (0 alone writes)
    weights_digest: str | None = None  # SHA-256 of the final weights: equal on every rank

    def summary_lines(self) -> list[str]:
        lines = []
        for stage in self.stages:
            line = f"{stage.size}x{stage.size}: {stage.epochs} epochs in {stage.seconds:.0f} s"
            if stage.best_score is not None:
                line += f", best epoch {stage.best_epoch} (AUC real + fake {stage.best_score:.3f})"
            if stage.test is not None:
                auc = stage.test["auc_macro"]
                shown = "n/a" if auc is None else f"{auc:.3f}"
                line += f", test AUC {shown}, accuracy {stage.test['accuracy']:.3f}"
            lines.append(line)
        if self.evaluation_directory is not None:
            lines.append(f"evaluation report: {self.evaluation_directory / 'report.md'}")
        return lines
