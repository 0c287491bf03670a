"""The run folder, the one writer of a training run: its layout, the overwrite guard, the resume point,
`config.yaml`, `metrics.jsonl`, `summary.json`, the stage checkpoints, the pictures and (optionally)
TensorBoard's event files."""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import numbers
import os
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from pacgan_cli.core.config import TrainingConfig, config_to_yaml
from pacgan_cli.core.errors import InputError, OutputExistsError, PacganError
from pacgan_cli.core.io.atomic import (
    atomic_path,
    json_ready,
    remove_partial_files,
    write_json_atomic,
    write_text_atomic,
)
from pacgan_cli.core.metrics import plots
from pacgan_cli.core.metrics.classification import ClassificationReport
from pacgan_cli.core.models.checkpoint import check_tensor_file_size, read_checkpoint_file, tensor_digest
from pacgan_cli.core.progress import Reporter
from pacgan_cli.core.stages import stage_size
from pacgan_cli.core.training import records
from pacgan_cli.core.training.networks import (
    Networks,
    NetworkSnapshot,
    StageCheckpointPaths,
    save_snapshot,
)

Method = TypeVar("Method", bound=Callable[..., Any])
SNAPSHOT_TAGS = ("last", "best")
PROGRESS_DIGEST_KEY = "sha256"


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

    @property
    def progress_path(self) -> Path:
        """The resume checkpoint inside a stage (both networks, optimisers, RNG states, position)."""
        return self.model_directory / "resume.pt"

    @property
    def log_path(self) -> Path:
        """Timestamped plain lines of what the run said, for reading after the fact."""
        return self.model_directory / "train.log"

    @property
    def lock_path(self) -> Path:
        return self.model_directory / ".pacgan.lock"

    @property
    def tensorboard_path(self) -> Path:
        """TensorBoard's event files (with `tensorboard: true`): `tensorboard --logdir RUN/tensorboard`."""
        return self.model_directory / "tensorboard"

    def sample_grid(self, size: int, kind: str, epoch: int) -> Path:
        """`samples` or `samples_ema` of one epoch: `samples_epoch_0001.png`."""
        return self.image_stage(size) / f"{kind}_epoch_{epoch:04d}.png"

    def stage_marker(self, size: int) -> Path:
        """Written last, when every file of the stage is complete: a stage without it is unfinished."""
        return self.model_stage(size) / "stage_complete.json"

    def finished_stages(self, num_stages: int) -> list[int]:
        """Stages whose marker exists; in runs made before markers, stages with both networks' checkpoints."""
        sizes = [stage_size(stage) for stage in range(num_stages)]
        if any(self.stage_marker(size).is_file() for size in sizes) or self.progress_path.is_file():
            return [stage for stage, size in enumerate(sizes) if self.stage_marker(size).is_file()]
        return [
            stage
            for stage, size in enumerate(sizes)
            if any(
                self.checkpoint(size, "generator", tag).is_file()
                and self.checkpoint(size, "discriminator", tag).is_file()
                for tag in SNAPSHOT_TAGS
            )
        ]

    def result_paths(self) -> list[Path]:
        """Everything a run writes, for the overwrite guard and --force."""
        fixed = [
            self.config_path,
            self.metrics_path,
            self.summary_path,
            self.progress_path,
            self.tensorboard_path,
        ]
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


@dataclass(frozen=True)
class ResumePoint:
    """Where a run continues: the first stage to train (`num_stages` when only the end-of-run generation
    and evaluation are left) and, inside that stage, the saved progress (plain data) if there is one."""

    stage: int
    progress: dict[str, Any] | None = None


def resume_point(config: TrainingConfig, layout: RunLayout, resuming: bool) -> ResumePoint:
    """0, the configured start size, the stage a resume checkpoint is inside, or after the last finished
    stage; with every stage finished, only a missing end-of-run evaluation is left to do."""
    if not resuming:
        return ResumePoint(0)
    if config.load_model:
        return ResumePoint(config.start_stage)
    finished = layout.finished_stages(config.num_stages)
    if layout.progress_path.is_file():
        progress = load_progress(layout.progress_path)
        stage = int(progress["stage"])
        if stage not in finished and stage == (finished[-1] + 1 if finished else 0):
            return ResumePoint(stage, progress)
    if not finished:
        raise InputError(
            f"{layout.model_directory}: no finished stage or checkpoint to resume from; start without --resume"
        )
    if finished[-1] + 1 < config.num_stages:
        return ResumePoint(finished[-1] + 1)
    if config.generate and not (layout.image_directory / "evaluation" / "report.md").is_file():
        return ResumePoint(config.num_stages)
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
    if not isinstance(data, dict) or data.get("format") != 1:
        raise InputError(
            f"{path}: not a pacgan resume checkpoint; delete it to resume from the last finished stage"
        )
    recorded = data.pop(PROGRESS_DIGEST_KEY, None)  # absent only in files written before it was added
    if recorded is not None and recorded != progress_digest(data):
        raise InputError(
            f"{path}: the resume checkpoint is damaged: its contents do not match the SHA-256 recorded when it "
            "was written; delete it to resume from the last finished stage"
        )
    return data


def progress_digest(data: dict[str, Any]) -> str:
    """SHA-256 of a resume checkpoint: its tensors (as a stage checkpoint's digest) and every plain value
    around them (alpha, position, Python's random state, records), since a changed number there would
    silently change the resumed run as much as a changed weight."""
    plain = repr(_without_tensors(data))
    return hashlib.sha256(f"{tensor_digest(data)}\0{plain}".encode()).hexdigest()


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


def _written(empty: Callable[[], Any] | None = None) -> Callable[[Method], Method]:
    """A RunFolder method that writes: it does nothing (and returns `empty()`) where the folder does not write."""

    def decorate(method: Method) -> Method:
        @functools.wraps(method)
        def write(self: RunFolder, *args: Any, **kwargs: Any) -> Any:
            if self.writes:
                return method(self, *args, **kwargs)
            return empty() if empty is not None else None

        return write  # type: ignore[return-value]

    return decorate


class RunFolder:
    """Writes everything a training run leaves behind; nothing else in training touches the disk."""

    def __init__(self, layout: RunLayout, writes: bool = True) -> None:
        self.layout = layout
        self.writes = writes  # False on the ranks other than 0 of a distributed run: they write nothing
        self.class_names: tuple[str, ...] = ()  # the config's, once opened: grids and plots show them
        self.metrics_lines = 0
        self.run_epochs = 0  # epoch lines in metrics.jsonl: TensorBoard's step, continuous over the stages
        self._events: Any = None  # a torch SummaryWriter with `tensorboard: true`
        self._locked = False

    @_written(list)
    def open(self, config: TrainingConfig, resuming: bool, force: bool, point: ResumePoint) -> list[str]:
        """Take the run's lock, refuse to mix a new run into an old one unless resuming (with --force,
        remove the old run's files), clear what killed writes left, write the resolved config and cut
        `metrics.jsonl` back to the resume point. Returns notes worth showing (repairs made)."""
        layout = self.layout
        writer_class = summary_writer_class() if config.tensorboard else None
        existing = layout.result_paths()
        if existing and not resuming and not force:
            raise OutputExistsError(
                f"{layout.model_directory} already holds a training run ({existing[0].name}); "
                "pass --resume to continue it or --force to start over"
            )
        layout.model_directory.mkdir(parents=True, exist_ok=True)
        self._lock()
        if not resuming:
            for path in existing:
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        layout.image_directory.mkdir(parents=True, exist_ok=True)
        notes = [
            f"removed {path}, left by a write that was killed"
            for folder in dict.fromkeys([layout.model_directory, layout.image_directory])
            for path in remove_partial_files(folder)
        ]
        write_text_atomic(layout.config_path, config_to_yaml(config))
        self.class_names = config.class_names
        notes += self._cut_metrics(point)
        if writer_class is not None:
            # Events a resumed run writes again (steps from the resume point on) replace the old ones.
            self._events = writer_class(str(layout.tensorboard_path), purge_step=self.run_epochs + 1)
        return notes

    @_written()
    def close(self) -> None:
        """Finish the event files and release the lock (the run's files stay)."""
        if self._events is not None:
            self._events.close()
            self._events = None
        if self._locked:
            self.layout.lock_path.unlink(missing_ok=True)
            self._locked = False

    @_written()
    def start_stage(self, size: int) -> None:
        self.layout.model_stage(size).mkdir(parents=True, exist_ok=True)
        self.layout.image_stage(size).mkdir(parents=True, exist_ok=True)

    @_written()
    def append_metrics(self, record: dict[str, Any]) -> None:
        """One line per event, stamped with the wall-clock time it was written (UTC)."""
        line = {**record, "time": _now()}
        with self.layout.metrics_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(json_ready(line), allow_nan=False) + "\n")
            handle.flush()
        self.metrics_lines += 1
        if record.get("event") == "epoch":
            self.run_epochs += 1
        if self._events is not None:
            prefix = "test/" if record.get("event") == "test" else ""
            for tag, value in _scalars(json_ready(record), prefix.rstrip("/")):
                self._events.add_scalar(tag, value, self.run_epochs)
            self._events.flush()

    @_written()
    def save_samples(
        self, images: np.ndarray, classes: int, size: int, kind: str, epoch: int, title: str
    ) -> None:
        """A per-class grid of `kind` (samples, samples_ema) as a PNG, and as `{kind}/{S}x{S}` in TensorBoard."""
        path = self.layout.sample_grid(size, kind, epoch)
        records.save_sample_grid(images, classes, path, title, self.class_names)
        if self._events is not None:
            grid = records.sample_grid(images, classes)
            self._events.add_image(f"{kind}/{size}x{size}", grid, self.run_epochs, dataformats="HWC")
            self._events.flush()

    @_written()
    def save_curves(self, size: int, epoch_records: list[dict[str, Any]], best_epoch: int | None) -> None:
        records.save_curves(epoch_records, self.layout.image_stage(size), best_epoch)

    @_written()
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

    @_written(dict)
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

    @_written()
    def log(self, text: str) -> None:
        with self.layout.log_path.open("a", encoding="utf-8") as handle:
            handle.write(f"{_now()} {text}\n")

    def logged(self, reporter: Reporter) -> Reporter:
        """`reporter`, with what it is told also written to `train.log`."""
        return _LoggedReporter(reporter, self)

    @_written()
    def save_progress(self, data: dict[str, Any]) -> None:
        """Write the resume checkpoint atomically (the previous one stays until the new one is complete),
        with the SHA-256 that `load_progress` checks."""
        with atomic_path(self.layout.progress_path) as temporary:
            torch.save({**data, PROGRESS_DIGEST_KEY: progress_digest(data)}, temporary)

    @_written()
    def finish_stage(self, size: int, result: dict[str, Any]) -> None:
        """Mark the stage complete (its checkpoints, curves and result are written) and drop the resume
        checkpoint, which the stage's own checkpoints now supersede."""
        write_json_atomic(self.layout.stage_marker(size), result)
        self.layout.progress_path.unlink(missing_ok=True)

    @_written()
    def write_summary(self, config: TrainingConfig, mode: str, device: str) -> None:
        """`summary.json` from the markers of every finished stage, so that it can always be rebuilt."""
        stages = {}
        for stage in self.layout.finished_stages(config.num_stages):
            size = stage_size(stage)
            marker = self.layout.stage_marker(size)
            if marker.is_file():
                stages[f"{size}x{size}"] = json.loads(marker.read_text())
        summary = {"mode": mode, "device": device, "seed": config.seed, "stages": stages}
        write_json_atomic(self.layout.summary_path, summary)

    def _lock(self) -> None:
        """One training process per run folder; the lock of a process that is gone is taken over."""
        path = self.layout.lock_path
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        for _ in range(2):
            try:
                with path.open("x", encoding="utf-8") as handle:
                    json.dump(me, handle)
                self._locked = True
                return
            except FileExistsError:
                try:
                    holder = json.loads(path.read_text())
                except (OSError, ValueError):
                    holder = {}
                if _alive(holder):
                    raise OutputExistsError(
                        f"{self.layout.model_directory} is being trained by process {holder.get('pid')} on "
                        f"{holder.get('host')}; wait for it to finish or stop it (if it is gone, delete {path})"
                    ) from None
                path.unlink(missing_ok=True)
        raise OutputExistsError(f"{path}: could not take the run folder's lock; try again")

    def _cut_metrics(self, point: ResumePoint) -> list[str]:
        """Keep the lines before the resume point; a torn last line (a kill mid-write) is dropped."""
        path = self.layout.metrics_path
        if not path.is_file():
            return []
        lines, notes = [], []
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                lines.append((line, json.loads(line)))
            except ValueError:
                notes.append(f"{path}: dropped line {number}, cut short by a kill")
        if point.progress is not None:
            kept = [line for line, _ in lines[: int(point.progress["metrics_lines"])]]
        else:
            kept = [line for line, record in lines if record.get("stage", 0) < point.stage]
        write_text_atomic(path, "".join(line + "\n" for line in kept))
        self.metrics_lines = len(kept)
        self.run_epochs = sum(json.loads(line).get("event") == "epoch" for line in kept)
        return notes


def summary_writer_class() -> Any:
    """torch's TensorBoard SummaryWriter; without the optional `tensorboard` package, one line saying how to
    install it (checked before the run folder is touched)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:
        raise PacganError(
            "TensorBoard logging (--tensorboard, tensorboard: true) needs the tensorboard package, which is "
            "not installed; install it with: pip install 'pacgan[tensorboard]'"
        ) from error
    return SummaryWriter


class _LoggedReporter:
    """Passes every event on and logs messages, stage starts and ends, and each finished epoch."""

    def __init__(self, reporter: Reporter, folder: RunFolder) -> None:
        self.reporter, self.folder, self.stage = reporter, folder, ""

    def stage_started(self, name: str, total: int, **info: Any) -> None:
        self.stage = name
        self.folder.log(f"{name}: started, {total} steps")
        self.reporter.stage_started(name, total, **info)

    def advance(self, steps: int = 1, **info: Any) -> None:
        if info.get("epoch_done"):
            losses = "  ".join(f"{key} {info[key]:+.4f}" for key in ("d_loss", "g_loss") if key in info)
            self.folder.log(f"{self.stage}: epoch {info.get('epoch')}/{info.get('epochs')} done  {losses}")
        self.reporter.advance(steps, **info)

    def stage_finished(self, **info: Any) -> None:
        self.folder.log(f"{self.stage}: finished")
        self.reporter.stage_finished(**info)

    def message(self, text: str) -> None:
        self.folder.log(text)
        self.reporter.message(text)


def _without_tensors(data: Any) -> Any:
    """`data` with every tensor replaced by a placeholder (the tensors are hashed on their own)."""
    if isinstance(data, torch.Tensor):
        return "<tensor>"
    if isinstance(data, dict):
        return {key: _without_tensors(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return type(data)(_without_tensors(item) for item in data)
    return data


def _scalars(data: Any, tag: str) -> list[tuple[str, float]]:
    """Every number in a metrics line, lists and dicts flattened into `tag/key/index` names (no booleans,
    no nulls: a NaN is null in metrics.jsonl and left out here too)."""
    if isinstance(data, dict):
        return [item for key, value in data.items() for item in _scalars(value, f"{tag}/{key}".lstrip("/"))]
    if isinstance(data, list):
        return [item for index, value in enumerate(data) for item in _scalars(value, f"{tag}/{index}")]
    if isinstance(data, numbers.Real) and not isinstance(data, bool):
        return [(tag, float(data))]
    return []


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _alive(holder: dict[str, Any]) -> bool:
    """Whether the process in a lock file still runs (one on another host is assumed to)."""
    if holder.get("host") != socket.gethostname():
        return bool(holder)
    try:
        os.kill(int(holder["pid"]), 0)
    except (ProcessLookupError, KeyError, ValueError, TypeError):
        return False
    except PermissionError:
        return True
    return True
