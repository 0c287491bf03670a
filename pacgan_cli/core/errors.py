"""Errors a user can fix. Each message says what is wrong and what to do about it."""

from __future__ import annotations

import difflib
import os


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


class UnsafeFileError(PacganError):
    """A run folder's own file is a symbolic link or not a plain file: writing through it would change
    something outside the folder."""


class TrainingInterrupted(PacganError):
    """SIGINT or SIGTERM stopped training after a resume checkpoint; exit 130 or 143 as a shell expects."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class TrainingDiverged(PacganError):
    """A loss became NaN or infinite; nothing of that epoch is saved."""


def did_you_mean(name: str, choices: tuple[str, ...]) -> str:
    """`; did you mean X?` with the closest valid name, for an error line; nothing when none is close."""
    close = difflib.get_close_matches(name.lower(), choices, n=1, cutoff=0.5)
    return f"; did you mean {close[0]}?" if close else ""


def printable_path(path: str | os.PathLike[str] | bytes) -> str:
    """A path for a one-line message: as it is, or quoted with escapes when it holds a line break or
    another control character (a hostile file name must not add lines or rewrite the terminal)."""
    text = os.fsdecode(path)
    return text if text.isprintable() else repr(text)
