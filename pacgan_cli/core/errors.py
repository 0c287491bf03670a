"""Errors a user can fix. Each message says what is wrong and what to do about it."""

from __future__ import annotations

import difflib


class PacganError(Exception):
    """A failure the user can fix; the command line prints the message alone and exits with `exit_code`."""

    exit_code = 1


class InputError(PacganError):
    """A data file, folder or checkpoint is missing or malformed."""


class ConfigError(PacganError):
    """A configuration value or a command-line option is invalid."""

    exit_code = 2


class OutputExistsError(PacganError):
    """Writing would overwrite earlier results."""


class TrainingInterrupted(PacganError):
    """SIGINT or SIGTERM stopped training after a resume checkpoint; exit 130 or 143 as a shell expects."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class TrainingDiverged(PacganError):
    """A loss became NaN or infinite; nothing of that epoch is saved."""


class AnotherProcessStopped(PacganError):
    """Another process of a distributed run failed or was stopped, so this one cannot go on."""

    def __init__(self) -> None:
        super().__init__("another training process stopped; its message says why")


def did_you_mean(name: str, choices: tuple[str, ...]) -> str:
    """`; did you mean X?` with the closest valid name, for an error line; nothing when none is close."""
    close = difflib.get_close_matches(name.lower(), choices, n=1, cutoff=0.5)
    return f"; did you mean {close[0]}?" if close else ""
