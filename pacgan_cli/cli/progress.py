"""Renders the engine's progress events: rich bars on a terminal, plain lines otherwise.

On a terminal every stage keeps one row, the whole run has a row below them, and the current stage's
epoch, fade-in and losses come last; each row fits 80 columns and names its times (elapsed, left).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TaskID, TextColumn
from rich.table import Column
from rich.text import Text

from pacgan_cli.core.progress import Reporter

Clock = Callable[[], float]


@contextmanager
def progress_reporter(quiet: bool = False) -> Iterator[Reporter]:
    """Bars when stderr is a terminal and not `quiet`, plain log lines otherwise; closed however the work ends.

    A command's first lines (which model, device and threads) come from the core, once its input checks
    have passed (`core.progress.FirstLinesReporter`), so that bad input still gives one `error:` line."""
    console = Console(stderr=True)
    reporter: RichReporter | PlainReporter = (
        PlainReporter() if quiet or not console.is_terminal else RichReporter(console)
    )
    try:
        yield reporter
    finally:
        reporter.close()


def format_status(info: dict[str, Any]) -> str:
    """`epoch 3/10  alpha 0.420  D -1.234  G +0.567  812 img/s` from whichever values are present."""
    parts = []
    if "epoch" in info:
        parts.append(f"epoch {info['epoch']}/{info.get('epochs', '?')}")
    if "alpha" in info:
        parts.append(f"alpha {info['alpha']:.3f}")
    if "d_loss" in info:
        parts.append(f"D {info['d_loss']:+.3f}")
    if "g_loss" in info:
        parts.append(f"G {info['g_loss']:+.3f}")
    if "images_per_s" in info:
        parts.append(f"{info['images_per_s']:.0f} img/s")
    return "  ".join(parts)


def format_duration(seconds: float | None) -> str:
    """`1:02:03` (hours go past 24, so a long run stays one short figure); `-:--:--` while unknown."""
    if seconds is None:
        return "-:--:--"
    whole = max(0, round(seconds))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def time_left(seconds: float, done: float, remaining: float) -> float | None:
    """Seconds that `remaining` more steps take at the pace of the `done` steps that took `seconds`;
    None before the first step, when there is no pace yet."""
    if done <= 0:
        return None
    return seconds / done * max(0.0, remaining)


class RunClock:
    """Elapsed and left seconds of the current stage and of the whole run.

    The engine gives each stage's steps (`total`) and, for training, the whole run's (`run_total`) and
    those done before the stage (`run_done`). Both times left assume the current stage's pace, epoch-end
    work included, for every step still to come: later stages have larger images, so until the last stage
    the run's figure tends to be low, and it grows when a stage starts.
    """

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.stage_start = self.run_start = clock()
        self.total = self.done = self.run_done = 0
        self.run_total: int | None = None

    def start_stage(self, total: int, info: dict[str, Any]) -> None:
        now = self.clock()
        self.stage_start, self.total, self.done = now, total, 0
        self.run_total = info.get("run_total")
        self.run_done = int(info.get("run_done", 0))
        if self.run_done == 0:
            self.run_start = now

    def advance(self, steps: int) -> None:
        self.done += steps

    def stage_elapsed(self) -> float:
        return self.clock() - self.stage_start

    def stage_left(self) -> float | None:
        return time_left(self.stage_elapsed(), self.done, self.total - self.done)

    def run_elapsed(self) -> float | None:
        return None if self.run_total is None else self.clock() - self.run_start

    def run_left(self) -> float | None:
        if self.run_total is None:
            return None
        return time_left(self.stage_elapsed(), self.done, self.run_total - self.run_done - self.done)


class ElapsedColumn(ProgressColumn):
    """`0:01:05 elapsed`, ticking between steps."""

    def __init__(self) -> None:
        super().__init__(Column(justify="right", no_wrap=True))

    def render(self, task: Task) -> Text:
        return Text(f"{format_duration(task.elapsed)} elapsed", style="progress.elapsed")


class LeftColumn(ProgressColumn):
    """`0:04:00 left` from the reporter's estimate, `done` once the row's work is finished."""

    def __init__(self) -> None:
        super().__init__(Column(justify="right", no_wrap=True))

    def render(self, task: Task) -> Text:
        if task.finished:
            return Text("done", style="progress.remaining")
        return Text(f"{format_duration(task.fields.get('left'))} left", style="progress.remaining")


class StageProgress(Progress):
    """The stage rows, then the whole run's row, then the current stage's status line."""

    def __init__(self, console: Console, clock: Clock) -> None:
        self.run_task: TaskID | None = None
        self.status = ""
        super().__init__(
            TextColumn("[bold]{task.description}", table_column=Column(no_wrap=True)),
            BarColumn(bar_width=None),
            MofNCompleteColumn(table_column=Column(justify="right", no_wrap=True)),
            ElapsedColumn(),
            LeftColumn(),
            console=console,
            get_time=clock,
            expand=True,
        )

    def get_renderables(self) -> Iterable[RenderableType]:
        rows = [task for task in self.tasks if task.id != self.run_task]
        rows += [task for task in self.tasks if task.id == self.run_task]
        yield self.make_tasks_table(rows)
        if self.status:
            yield Text(self.status, no_wrap=True, overflow="ellipsis")


class RichReporter:
    """One progress bar per stage, kept on screen when the stage ends, and one for the whole run."""

    def __init__(self, console: Console, clock: Clock = time.monotonic) -> None:
        self.progress = StageProgress(console, clock)
        self.times = RunClock(clock)
        self.task: TaskID | None = None
        self.started = False
        self.info: dict[str, Any] = {}

    def stage_started(self, name: str, total: int, **info: Any) -> None:
        if not self.started:
            self.progress.start()
            self.started = True
        self.times.start_stage(total, info)
        self.info = dict(info)
        self.task = self.progress.add_task(name, total=total, left=None)
        run_total = info.get("run_total")
        if run_total is not None and (self.progress.run_task is None or self.times.run_done == 0):
            self.progress.run_task = self.progress.add_task("whole run", total=run_total, left=None)
        self._show()

    def advance(self, steps: int = 1, **info: Any) -> None:
        self.info.update(info)
        self.times.advance(steps)
        self._show()

    def epoch_finished(self, epoch: int, epochs: int, **values: Any) -> None:
        """The status line shows each finished epoch's mean losses."""
        self.advance(0, epoch=epoch, epochs=epochs, **values)

    def stage_finished(self, **info: Any) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=self.times.total)
            self.progress.stop_task(self.task)
            self.task = None
        if self.progress.run_task is not None and self.times.run_total is not None:
            completed = self.times.run_done + self.times.total
            self.progress.update(self.progress.run_task, completed=completed)
            if completed >= self.times.run_total:
                self.progress.stop_task(self.progress.run_task)

    def message(self, text: str) -> None:
        self.progress.console.print(text)

    def close(self) -> None:
        if self.started:
            self.progress.stop()

    def _show(self) -> None:
        """Move the stage and run rows to the steps done, with fresh estimates of the time left."""
        if self.task is not None:
            self.progress.update(self.task, completed=self.times.done, left=self.times.stage_left())
        if self.progress.run_task is not None and self.times.run_total is not None:
            self.progress.update(
                self.progress.run_task,
                completed=self.times.run_done + self.times.done,
                left=self.times.run_left(),
            )
        self.progress.status = format_status(self.info)


class PlainReporter:
    """Log lines on stderr: stage start and end, each finished epoch, at most one a minute otherwise; each
    progress line ends with the stage's and, in training, the whole run's elapsed and left times."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.times = RunClock(clock)
        self.info: dict[str, Any] = {}
        self.name = ""
        self.last_print = clock()

    def stage_started(self, name: str, total: int, **info: Any) -> None:
        self.name = name
        self.times.start_stage(total, info)
        self._print(f"{name}: started ({total} steps)")

    def advance(self, steps: int = 1, **info: Any) -> None:
        self.times.advance(steps)
        self.info.update(info)
        if self.clock() - self.last_print > 60:
            self._print_progress()

    def epoch_finished(self, epoch: int, epochs: int, **values: Any) -> None:
        """A line for every finished epoch, with its mean losses."""
        self.info.update(epoch=epoch, epochs=epochs, **values)
        self._print_progress()

    def _print_progress(self) -> None:
        self.last_print = self.clock()
        status = format_status(self.info)
        counts = f"{self.times.done}/{self.times.total}" + (f"  {status}" if status else "")
        self._print(f"{self.name}: {counts}  {self.timing()}")

    def stage_finished(self, **info: Any) -> None:
        self._print(
            f"{self.name}: finished in {format_duration(self.times.stage_elapsed())}{self.run_timing()}"
        )

    def message(self, text: str) -> None:
        self._print(text)

    def close(self) -> None:
        pass

    def timing(self) -> str:
        """`elapsed 0:00:03, left 0:00:30; run elapsed 0:00:08, left 0:02:00` (the run part in training)."""
        times = self.times
        stage = (
            f"elapsed {format_duration(times.stage_elapsed())}, left {format_duration(times.stage_left())}"
        )
        return stage + self.run_timing()

    def run_timing(self) -> str:
        """`; run elapsed 0:00:08, left 0:02:00` in training, nothing otherwise."""
        times = self.times
        if times.run_total is None:
            return ""
        return (
            f"; run elapsed {format_duration(times.run_elapsed())}, left {format_duration(times.run_left())}"
        )

    @staticmethod
    def _print(text: str) -> None:
        print(text, file=sys.stderr, flush=True)
