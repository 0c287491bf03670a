"""Renders the engine's progress events: one rich bar per stage on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from pacgan_cli.core.progress import Reporter


@contextmanager
def progress_reporter(quiet: bool = False) -> Iterator[Reporter]:
    """Bars when stderr is a terminal and not `quiet`, plain log lines otherwise; closed however the work ends."""
    console = Console(stderr=True)
    reporter: Reporter = PlainReporter() if quiet or not console.is_terminal else RichReporter(console)
    try:
        yield reporter
    finally:
        reporter.close()


def format_status(info: dict[str, Any]) -> str:
    """`epoch 3/10  alpha 0.42  D -1.234  G 0.567  812 img/s` from whichever values are present."""
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


class RichReporter:
    """One progress bar per stage, kept on screen when the stage ends."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task: TaskID | None = None
        self.started = False
        self.info: dict[str, Any] = {}

    def stage_started(self, name: str, total: int, **info: Any) -> None:
        if not self.started:
            self.progress.start()
            self.started = True
        self.info = dict(info)
        self.task = self.progress.add_task(name, total=total, status=format_status(self.info))

    def advance(self, steps: int = 1, **info: Any) -> None:
        self.info.update(info)
        if self.task is not None:
            self.progress.update(self.task, advance=steps, status=format_status(self.info))

    def stage_finished(self, **info: Any) -> None:
        if self.task is not None:
            task = self.progress.tasks[-1]
            self.progress.update(self.task, completed=task.total)
            self.task = None

    def message(self, text: str) -> None:
        self.progress.console.print(text)

    def close(self) -> None:
        if self.started:
            self.progress.stop()


class PlainReporter:
    """Log lines on stderr: stage start and end, each finished epoch, at most one line per second otherwise."""

    def __init__(self) -> None:
        self.info: dict[str, Any] = {}
        self.name = ""
        self.total = 0
        self.done = 0
        self.last_print = 0.0

    def stage_started(self, name: str, total: int, **info: Any) -> None:
        self.name, self.total, self.done = name, total, 0
        self._print(f"{name}: started ({total} steps)")

    def advance(self, steps: int = 1, **info: Any) -> None:
        self.done += steps
        self.info.update(info)
        now = time.monotonic()
        if info.get("epoch_done") or now - self.last_print > 60:
            self.last_print = now
            self._print(f"{self.name}: {self.done}/{self.total}  {format_status(self.info)}")

    def stage_finished(self, **info: Any) -> None:
        self._print(f"{self.name}: finished")

    def message(self, text: str) -> None:
        self._print(text)

    def close(self) -> None:
        pass

    @staticmethod
    def _print(text: str) -> None:
        print(text, file=sys.stderr, flush=True)
