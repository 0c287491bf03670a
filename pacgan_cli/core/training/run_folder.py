"""The run folder, the one writer of a training run: its layout, the overwrite guard, the resume point,
`config.yaml`, `metrics.jsonl`, `summary.json`, the stage checkpoints and the pictures."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pacgan_cli.core.config import TrainingConfig, config_to_yaml
from pacgan_cli.core.errors import InputError, OutputExistsError
from pacgan_cli.core.io.atomic import json_ready, write_json_atomic, write_text_atomic
from pacgan_cli.core.metrics import plots
from pacgan_cli.core.metrics.classification import ClassificationReport
from pacgan_cli.core.models.checkpoint import read_checkpoint_file
from pacgan_cli.core.stages import stage_size
from pacgan_cli.core.training import records
from pacgan_cli.core.training.networks import (
    Networks,
    NetworkSnapshot,
    StageCheckpointPaths,
    save_snapshot,
)

SNAPSHOT_TAGS = ("last", "best")


@dataclass(frozen=True)
class RunLayout:
    """Where a run writes: checkpoints under `model_directory`, pictures under `image_directory`
    (the published MODEL_DIRECTORY / IMAGE_DIRECTORY), one `PACGAN_{S}x{S}` folder per stage in each."""

    model_directory: Path
    image_directory: Path

    def model_stage(self, size: int) -> Path:
        return self.model_directory / f"PACGAN_{size}x{size}"

    def image_stage(self, size: int) -> Path:
        return self.image_directory / f"PACGAN_{size}x{size}"

    def checkpoint(self, size: int, network: str, tag: str) -> Path:
        """`{network}_{tag}.pt` in the stage's model folder; network is generator, discriminator or ema."""
        if network == "ema":
            return self.model_stage(size) / f"generator_{tag}_ema.pt"
        return self.model_stage(size) / f"{network}_{tag}.pt"

    def checkpoints(self, size: int, tag: str) -> StageCheckpointPaths:
        return StageCheckpointPaths(
            generator=self.checkpoint(size, "generator", tag),
            discriminator=self.checkpoint(size, "discriminator", tag),
            ema=self.checkpoint(size, "ema", tag),
        )

    @property
    def config_path(self) -> Path:
        return self.model_directory / "config.yaml"

    @property
    def metrics_path(self) -> Path:
        return self.model_directory / "metrics.jsonl"

    @property
    def summary_path(self) -> Path:
        return self.model_directory / "summary.json"

    def result_paths(self) -> list[Path]:
        """Everything a run writes, for the overwrite guard and --force."""
        fixed = [self.config_path, self.metrics_path, self.summary_path]
        stages = [*self.model_directory.glob("PACGAN_*x*"), *self.image_directory.glob("PACGAN_*x*")]
        return [path for path in dict.fromkeys([*fixed, *stages]) if path.exists()]


def training_mode(config: TrainingConfig) -> str:
    """validate (hold out a fold, keep each stage's best epoch), test (train on all, score the test set) or train."""
    if config.validate:
        return "validate"
    return "test" if config.testing else "train"


def run_layout(config: TrainingConfig, output: Path | None) -> RunLayout:
    """`output` holds everything when given; otherwise the config's directories (published test mode
    writes to `<dir>_test`, as the published code does)."""
    if output is not None:
        return RunLayout(Path(output), Path(output))
    suffix = "_test" if training_mode(config) == "test" else ""
    return RunLayout(Path(config.model_directory + suffix), Path(config.image_directory + suffix))


def resume_stage(config: TrainingConfig, layout: RunLayout, resuming: bool) -> int:
    """The first stage to train: 0, the configured start size, or after the last finished stage."""
    if not resuming:
        return 0
    if config.load_model:
        return config.start_stage
    finished = [
        stage
        for stage in range(config.num_stages)
        if any(layout.checkpoint(stage_size(stage), "generator", tag).is_file() for tag in SNAPSHOT_TAGS)
    ]
    if not finished:
        raise InputError(
            f"{layout.model_directory}: no finished stage to resume from; start without --resume"
        )
    if finished[-1] + 1 >= config.num_stages:
        raise InputError(
            f"{layout.model_directory}: every stage is already trained; use --start-size to train a stage again"
        )
    return finished[-1] + 1


def best_epochs(config: TrainingConfig) -> list[int]:
    """Each stage's best epoch count, read from the validation run (test mode with test_using_best_model)."""
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
    return epochs


class RunFolder:
    """Writes everything a training run leaves behind; nothing else in training touches the disk."""

    def __init__(self, layout: RunLayout) -> None:
        self.layout = layout
        self.class_names: tuple[str, ...] = ()  # the config's, once opened: grids and plots show them

    def open(self, config: TrainingConfig, resuming: bool, force: bool, start: int) -> None:
        """Refuse to mix a new run into an old one unless resuming (with --force, remove the old run's
        files); write the resolved config; on resume drop the metric lines of the stages trained again."""
        layout = self.layout
        existing = layout.result_paths()
        if existing and not resuming:
            if not force:
                raise OutputExistsError(
                    f"{layout.model_directory} already holds a training run ({existing[0].name}); "
                    "pass --resume to continue it or --force to start over"
                )
            for path in existing:
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        layout.model_directory.mkdir(parents=True, exist_ok=True)
        layout.image_directory.mkdir(parents=True, exist_ok=True)
        write_text_atomic(layout.config_path, config_to_yaml(config))
        self.class_names = config.class_names
        self._keep_metrics_before(start)

    def start_stage(self, size: int) -> None:
        self.layout.model_stage(size).mkdir(parents=True, exist_ok=True)
        self.layout.image_stage(size).mkdir(parents=True, exist_ok=True)

    def append_metrics(self, record: dict[str, Any]) -> None:
        with self.layout.metrics_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(json_ready(record), allow_nan=False) + "\n")
            handle.flush()

    def save_samples(self, images: np.ndarray, classes: int, size: int, name: str, title: str) -> None:
        path = self.layout.image_stage(size) / f"{name}.png"
        records.save_sample_grid(images, classes, path, title, self.class_names)

    def save_curves(self, size: int, epoch_records: list[dict[str, Any]], best_epoch: int | None) -> None:
        records.save_curves(epoch_records, self.layout.image_stage(size), best_epoch)

    def save_test_figures(
        self, size: int, report: ClassificationReport, labels: np.ndarray, probabilities: np.ndarray
    ) -> None:
        folder = self.layout.image_stage(size)
        plots.save_classification_figures(
            folder / "test_roc.png",
            folder / "test_confusion.png",
            report,
            labels,
            probabilities,
            f"test set, {size}x{size}",
            self.class_names,
        )

    def save_snapshot(
        self, networks: Networks, snapshot: NetworkSnapshot, stage: int, tag: str, config_data: dict[str, Any]
    ) -> dict[str, str]:
        """Write a stage's `last` or `best` checkpoints; returns {`generator_last`: path, ...}."""
        paths = self.layout.checkpoints(stage_size(stage), tag)
        written = save_snapshot(networks, snapshot, stage, config_data, paths)
        names = {
            "generator": f"generator_{tag}",
            "discriminator": f"discriminator_{tag}",
            "ema": f"generator_{tag}_ema",
        }
        return {names[network]: str(path) for network, path in written.items()}

    def write_summary(self, config: TrainingConfig, mode: str, device: str, stages: list[Any]) -> None:
        """Merge the finished stages into `summary.json` (stages of an earlier, resumed run are kept)."""
        path = self.layout.summary_path
        previous = json.loads(path.read_text()) if path.is_file() else {}
        summary_stages = previous.get("stages", {})
        for stage in stages:
            summary_stages[f"{stage.size}x{stage.size}"] = stage.__dict__
        summary = {"mode": mode, "device": device, "seed": config.seed, "stages": summary_stages}
        write_json_atomic(path, summary)

    def _keep_metrics_before(self, start: int) -> None:
        path = self.layout.metrics_path
        if not path.is_file():
            return
        kept = [
            line
            for line in path.read_text().splitlines()
            if line.strip() and json.loads(line)["stage"] < start
        ]
        write_text_atomic(path, "".join(line + "\n" for line in kept))
