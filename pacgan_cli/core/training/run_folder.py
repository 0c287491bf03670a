"""The run folder, the one writer of a training run: its layout, the overwrite guard, the resume point,
`config.yaml`, `metrics.jsonl`, `summary.json`, the stage checkpoints, the pictures and (optionally)
TensorBoard's event files."""

from __future__ import annotations

import contextlib
import datetime
import functools
import json
import numbers
import shutil
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from pacgan_cli.core import figures
from pacgan_cli.core.config import TrainingConfig, config_to_yaml
from pacgan_cli.core.errors import OutputExistsError, PacganError
from pacgan_cli.core.io.atomic import (
    append_text,
    atomic_path,
    json_ready,
    refuse_links,
    remove_partial_files,
    write_json_atomic,
    write_text_atomic,
)
from pacgan_cli.core.io.run_layout import RunLayout
from pacgan_cli.core.metrics.classification import ClassificationReport
from pacgan_cli.core.progress import Reporter
from pacgan_cli.core.stages import stage_size
from pacgan_cli.core.training.networks import (
    Networks,
    NetworkSnapshot,
    save_snapshot,
)
from pacgan_cli.core.training.resume import ResumePoint, write_progress_file
from pacgan_cli.core.training.run_lock import RunLock

Method = TypeVar("Method", bound=Callable[..., Any])


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


def _snapshot_name(network: str, tag: str) -> str:
    """A checkpoint's key in a stage's results: `generator_best`, `generator_best_ema`, ..."""
    return f"generator_{tag}_ema" if network == "ema" else f"{network}_{tag}"


class RunFolder:
    """Writes everything a training run leaves behind; nothing else in training touches the disk."""

    def __init__(self, layout: RunLayout, writes: bool = True) -> None:
        self.layout = layout
        self.writes = writes  # False on the ranks other than 0 of a distributed run: they write nothing
        self.class_names: tuple[str, ...] = ()  # the config's, once opened: grids and plots show them
        self.metrics_lines = 0
        self.run_epochs = 0  # epoch lines in metrics.jsonl: TensorBoard's step, continuous over the stages
        self._events: Any = None  # a torch SummaryWriter with `tensorboard: true`
        self._progress_write: threading.Thread | None = None  # the resume checkpoint being written
        self._progress_failure: Exception | None = None
        self._lock = RunLock(layout.lock_path)

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
        self._lock.acquire()
        try:
            if not resuming:
                for path in existing:
                    if path.is_dir() and not path.is_symlink():
                        shutil.rmtree(path)
                    else:
                        path.unlink()
            else:
                self._drop_superseded(point, config.num_stages)
            # A link among the run's own files would carry its writes (appends above all) out of the folder.
            refuse_links([layout.metrics_path, layout.log_path, *layout.result_paths()])
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
        except BaseException:
            self._lock.release()  # open failed: the caller gets no folder to close
            raise
        return notes

    @_written()
    def close(self) -> None:
        """Finish the event files and a resume checkpoint still being written, and release the lock (the
        run's files stay). A failed last write is logged if it can be (not on a full disk): close runs while
        another error may be raised, which it must not replace."""
        try:
            try:
                self.wait_for_progress()
            except Exception as error:
                with contextlib.suppress(PacganError):
                    self.log(f"the last resume checkpoint could not be written: {error}")
            if self._events is not None:
                self._events.close()
                self._events = None
        finally:
            self._lock.release()

    @_written()
    def start_stage(self, size: int) -> None:
        self.layout.model_stage(size).mkdir(parents=True, exist_ok=True)
        self.layout.image_stage(size).mkdir(parents=True, exist_ok=True)

    @_written()
    def append_metrics(self, record: dict[str, Any]) -> None:
        """One line per event, stamped with the wall-clock time it was written (UTC)."""
        line = {**record, "time": _now()}
        append_text(self.layout.metrics_path, json.dumps(json_ready(line), allow_nan=False) + "\n")
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
        path = self.layout.sample_grid_path(size, kind, epoch)
        figures.save_sample_grid(images, classes, path, title, self.class_names)
        if self._events is not None:
            grid = figures.sample_grid_pixels(images, classes)
            self._events.add_image(f"{kind}/{size}x{size}", grid, self.run_epochs, dataformats="HWC")
            self._events.flush()

    @_written()
    def save_curves(self, size: int, epoch_records: list[dict[str, Any]], best_epoch: int | None) -> None:
        figures.save_curves(epoch_records, self.layout.image_stage(size), best_epoch)

    @_written()
    def save_test_figures(
        self, size: int, report: ClassificationReport, labels: np.ndarray, scores: np.ndarray
    ) -> None:
        """ROC curves (of `scores` [N, K]: class probabilities or the class log-odds) and the confusion matrix."""
        folder = self.layout.image_stage(size)
        figures.save_classification_figures(
            folder / "test_roc.png",
            folder / "test_confusion.png",
            report,
            labels,
            scores,
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
        return {_snapshot_name(network, tag): str(path) for network, path in written.items()}

    @_written(dict)
    def copy_snapshot(self, stage: int, written: dict[str, str], source: str, tag: str) -> dict[str, str]:
        """The `source` checkpoints just `written` (save_snapshot's result), copied byte for byte under `tag`:
        where a stage has no best epoch of its own, its `best` files are its `last` ones, and a copy costs a
        fraction of serialising and digesting them again (1.4 s per stage end at the default architecture)."""
        copied = {}
        for network, target in vars(self.layout.checkpoints(stage_size(stage), tag)).items():
            original = written.get(_snapshot_name(network, source))
            if original is not None:
                with atomic_path(target) as temporary:
                    shutil.copyfile(original, temporary)
                copied[_snapshot_name(network, tag)] = str(target)
        return copied

    @_written()
    def log(self, text: str) -> None:
        append_text(self.layout.log_path, f"{_now()} {text}\n")

    @_written()
    def log_stop(self, error: BaseException) -> None:
        """Why the run stopped early: a PacganError's message, or an unexpected error's type and message."""
        cause = (
            str(error) if isinstance(error, PacganError) else f"unexpected {type(error).__name__}: {error}"
        )
        self.log(f"stopped: {cause}")

    def logged(self, reporter: Reporter) -> Reporter:
        """`reporter`, with what it is told also written to `train.log`."""
        return _LoggedReporter(reporter, self)

    @_written()
    def save_progress(self, data: dict[str, Any], background: bool = False) -> None:
        """Write the resume checkpoint atomically (the previous one stays whole until the new one is
        complete), with the SHA-256 that `load_progress` checks.

        With `background`, `data` must be a snapshot (copies): training goes on while the digest and the
        write run in another thread; at most one write is in flight (a new one waits for the last).
        """
        self.wait_for_progress()
        if not background:
            write_progress_file(self.layout.progress_path, data)
            return
        self._progress_write = threading.Thread(
            target=self._write_progress, args=(data,), name="pacgan-resume-checkpoint"
        )
        self._progress_write.start()

    def wait_for_progress(self) -> None:
        """Wait for the resume checkpoint being written, if any; its failure (a full disk, say) is raised here."""
        if self._progress_write is not None:
            self._progress_write.join()
            self._progress_write = None
        failure, self._progress_failure = self._progress_failure, None
        if failure is not None:
            raise failure

    def _write_progress(self, data: dict[str, Any]) -> None:
        try:
            write_progress_file(self.layout.progress_path, data)
        except Exception as error:  # reported on the training thread by wait_for_progress
            self._progress_failure = error

    @_written()
    def finish_stage(self, size: int, result: dict[str, Any]) -> None:
        """Mark the stage complete (its checkpoints, curves and result are written) and drop the resume
        checkpoint, which the stage's own checkpoints now supersede (a write still in flight ends first)."""
        self.wait_for_progress()
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

    def _drop_superseded(self, point: ResumePoint, num_stages: int) -> None:
        """A resumed run trains again from `point` on: the markers of those stages (left when `--start-size`
        restarts a trained run) and a resume checkpoint it does not continue from would otherwise make a
        later `--resume` skip or mix in the weights this run replaces."""
        for stage in range(point.stage, num_stages):
            self.layout.stage_marker(stage_size(stage)).unlink(missing_ok=True)
        if point.progress is None:
            self.layout.progress_path.unlink(missing_ok=True)

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
            "not installed; install it with: pip install tensorboard"
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
        self.reporter.advance(steps, **info)

    def epoch_finished(self, epoch: int, epochs: int, **values: Any) -> None:
        losses = "  ".join(f"{key} {value:+.4f}" for key, value in values.items())
        self.folder.log(f"{self.stage}: epoch {epoch}/{epochs} done  {losses}")
        self.reporter.epoch_finished(epoch, epochs, **values)

    def stage_finished(self, **info: Any) -> None:
        self.folder.log(f"{self.stage}: finished")
        self.reporter.stage_finished(**info)

    def message(self, text: str) -> None:
        self.folder.log(text)
        self.reporter.message(text)


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
