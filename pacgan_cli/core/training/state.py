"""Training state as values: what every stage of a run shares (`RunContext`, made by `open_run` once every
input is checked), what stays fixed during one stage (`StagePlan`, `StageData`), what changes between two
batches of a stage (`StageState`, which a resume checkpoint saves and restores), and what a run returns
(`StageResult`, `TrainResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pacgan_cli.core.config import TrainingConfig
from pacgan_cli.core.errors import InputError
from pacgan_cli.core.folds import validation_split
from pacgan_cli.core.io.run_layout import RunLayout
from pacgan_cli.core.io.stage_folder import StageFolder
from pacgan_cli.core.models.checkpoint import read_checkpoint_file
from pacgan_cli.core.progress import Reporter, SilentReporter
from pacgan_cli.core.runtime import describe_threads, resolve_device, training_devices
from pacgan_cli.core.stages import stage_size
from pacgan_cli.core.training.data import batch_ranges, load_stage, open_data_folder
from pacgan_cli.core.training.distributed import Ranks, join_ranks
from pacgan_cli.core.training.networks import NetworkSnapshot
from pacgan_cli.core.training.records import EpochTotals
from pacgan_cli.core.training.resume import ResumePoint, StopRequest
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

    def first_line(self, stage: int) -> str:
        """Where and how the run trains from `stage` on: devices or processes, threads, mode and stages."""
        devices = self.devices
        where = ", ".join(str(d) for d in devices) + f" with {describe_threads()}"
        if self.ranks.active:
            each = "one GPU" if devices[0].type == "cuda" else describe_threads()
            where = f"{self.ranks.world_size} processes ({each} each)"
        elif len(devices) > 1:
            where += " (one process, DataParallel as published; `torchrun --nproc_per_node=N` scales better)"
        return f"training on {where} in {self.mode} mode, stages {stage_size(stage)}..{self.config.max_size}"

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


@dataclass(frozen=True)
class StageData:
    """One stage's images on their device, the held-out fold in validation mode, the batches of an epoch,
    the stage's data-order generator and the fixed latents of its sample grids."""

    images: torch.Tensor  # [N, C, S, S]
    labels: torch.Tensor  # [N]
    validation: tuple[torch.Tensor, torch.Tensor] | None
    batches: list[tuple[int, int]]
    order: torch.Generator
    sample_z: torch.Tensor
    sample_labels: torch.Tensor

    @property
    def count(self) -> int:
        return self.images.shape[0]

    @classmethod
    def load(cls, run: RunContext, plan: StagePlan, device: torch.device) -> StageData:
        """The stage's images (on the GPU when training there), its batches and the sample grids' latents."""
        order = torch.Generator().manual_seed(run.config.seed * 1000 + plan.stage)
        rows = run.rows
        images, labels = load_stage(run.data, plan.size, rows[0] if rows is not None else None)
        if device.type == "cuda":
            images, labels = images.to(device), labels.to(device)
        if images.shape[0] < 2:
            raise InputError(f"stage {plan.size}x{plan.size} has fewer than 2 training images; add images")
        classes, per_class = run.config.class_size, run.config.samples_per_class
        return cls(
            images=images,
            labels=labels,
            validation=load_stage(run.data, plan.size, rows[1]) if rows is not None else None,
            batches=batch_ranges(images.shape[0], plan.batch_size, run.ranks.world_size),
            order=order,
            sample_z=torch.randn(classes * per_class, run.config.z_dim, generator=order).to(device),
            sample_labels=torch.arange(classes).repeat_interleave(per_class).to(device),
        )


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

    def to_data(self, ranks: Ranks) -> dict[str, Any]:
        """Plain data and CPU tensors, for a resume checkpoint loaded with `weights_only=True`. Every rank
        calls it: the epoch's loss sums and logits so far are every rank's own, gathered rank by rank."""
        totals = self.totals or EpochTotals({}, 0, [], [], [])
        return {
            "epoch": self.epoch,
            "next_batch": self.next_batch,
            "alpha": self.alpha,
            "permutation": self.permutation,
            "epoch_seconds": self.epoch_seconds,
            "epoch_records": list(self.records),
            "totals": ranks.gather_objects(totals.to_data()),
            "best": self.best.to_data() if self.best is not None else None,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any], device: torch.device, ranks: Ranks) -> StageState:
        started = data["permutation"] is not None
        return cls(
            epoch=int(data["epoch"]),
            next_batch=int(data["next_batch"]),
            alpha=float(data["alpha"]),
            permutation=data["permutation"],
            totals=EpochTotals.resumed(data["totals"], ranks, device) if started else None,
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


def open_run(
    config: TrainingConfig,
    layout: RunLayout,
    point: ResumePoint,
    resuming: bool,
    force: bool,
    reporter: Reporter,
) -> RunContext:
    """Check every input the stages from `point` on will read, join the other processes, then open the run
    folder (nothing is written before the checks pass)."""
    inputs = check_inputs(config, range(point.stage, config.num_stages))
    data, rows = inputs.data, inputs.rows
    # Under torchrun every process trains its share of each batch; rank 0 alone writes and reports.
    device = resolve_device(config.device)
    ranks = join_ranks(device)
    if ranks.active:
        ranks.check_batches(config.batch_sizes, len(rows[0]) if rows is not None else data.image_count)
        devices = [ranks.device]
    else:
        devices = training_devices(device, config.gpus_n, torch.cuda.device_count())
    folder = RunFolder(layout, writes=ranks.is_main)
    with ranks.together():
        notes = folder.open(config, resuming, force, point)
    reporter = folder.logged(reporter if ranks.is_main else SilentReporter())
    for note in notes:
        reporter.message(note)
    return RunContext(
        config, folder, devices, ranks, data, rows, inputs.test_data, inputs.epochs, reporter, StopRequest()
    )


@dataclass(frozen=True)
class RunInputs:
    """A run's inputs, checked: the training data, the test data (test mode), the validation split's label
    rows (validation mode) and the epochs of each stage."""

    data: StageFolder
    test_data: StageFolder | None
    rows: tuple[np.ndarray, np.ndarray] | None
    epochs: tuple[int, ...]

    def summary_line(self) -> str:
        """What was checked, e.g. `inputs checked: data/train (40 labelled images, 4x4 to 16x16)`."""
        parts = [self.data] + ([self.test_data] if self.test_data is not None else [])
        described = [
            f"{part.folder} ({len(part.labels)} labelled images, {part.sizes[0]}x{part.sizes[0]} to "
            f"{part.largest_size}x{part.largest_size})"
            for part in parts
        ]
        return f"inputs checked: {', '.join(described)}"


def check_inputs(config: TrainingConfig, stages: range | None = None) -> RunInputs:
    """Every input the `stages` (default: from the config's start stage on) will read, checked as a run checks
    them before it writes anything: the training folder and its labels, the test folder in test mode (and,
    for a run that ends by generating, its largest size), the validation split, the validation run's best
    epochs in test mode. `pacgan train --dry-run` calls it alone; `open_run` calls it first."""
    stages = range(config.start_stage, config.num_stages) if stages is None else stages
    data = open_data(config, "train", stages or range(config.num_stages - 1, config.num_stages))
    test_data = open_data(config, "test", stages) if config.mode == "test" else None
    if config.mode == "train" and config.generate:  # so that a long run does not fail at its very end
        open_data(config, "test", range(config.num_stages - 1, config.num_stages))
    epochs = stage_epochs(config)
    rows = None
    if config.mode == "validate":
        rows = validation_split(data.labels, config.validation_folds, config.seed)
    return RunInputs(data, test_data, rows, epochs)


def open_data(config: TrainingConfig, part: str, stages: range) -> StageFolder:
    """The train or test folder of the config, checked for the given stages."""
    return open_data_folder(
        getattr(config, f"data_{part}_directory"),
        getattr(config, f"label_{part}_directory"),
        stages,
        config.image_channels,
        config.class_size,
    )
