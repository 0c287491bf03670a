"""How the engine tells the outside world about long work, without knowing who listens."""

from __future__ import annotations

from typing import Any, Protocol


class Reporter(Protocol):
    """Receives progress events; the command line renders them, tests and library users may ignore them.

    A stage is one unit of long work with a known number of steps (for training: one resolution).
    `info` carries display values such as epoch, alpha or losses. Training also tells when an epoch ends,
    with its mean losses (`values`), so that a listener can log one line per epoch.
    """

    def stage_started(self, name: str, total: int, **info: Any) -> None: ...

    def advance(self, steps: int = 1, **info: Any) -> None: ...

    def epoch_finished(self, epoch: int, epochs: int, **values: Any) -> None: ...

    def stage_finished(self, **info: Any) -> None: ...

    def message(self, text: str) -> None: ...


class SilentReporter:
    """A Reporter that drops every event."""

    def stage_started(self, name: str, total: int, **info: Any) -> None:
        pass

    def advance(self, steps: int = 1, **info: Any) -> None:
        pass

    def epoch_finished(self, epoch: int, epochs: int, **values: Any) -> None:
        pass

    def stage_finished(self, **info: Any) -> None:
        pass

    def message(self, text: str) -> None:
        pass


class FirstLinesReporter:
    """Passes every event on to `reporter`, saying `lines` (empty ones left out) just before the first one.

    A run's opening lines (which model, which device) come once its input checks have passed, so that bad
    input still gives one error line and nothing else."""

    def __init__(self, reporter: Reporter, *lines: str) -> None:
        self.reporter = reporter
        self.lines = [line for line in lines if line]

    def stage_started(self, name: str, total: int, **info: Any) -> None:
        self._say_lines()
        self.reporter.stage_started(name, total, **info)

    def advance(self, steps: int = 1, **info: Any) -> None:
        self._say_lines()
        self.reporter.advance(steps, **info)

    def epoch_finished(self, epoch: int, epochs: int, **values: Any) -> None:
        self._say_lines()
        self.reporter.epoch_finished(epoch, epochs, **values)

    def stage_finished(self, **info: Any) -> None:
        self._say_lines()
        self.reporter.stage_finished(**info)

    def message(self, text: str) -> None:
        self._say_lines()
        self.reporter.message(text)

    def _say_lines(self) -> None:
        lines, self.lines = self.lines, []
        for line in lines:
            self.reporter.message(line)
