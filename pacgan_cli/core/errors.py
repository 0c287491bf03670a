"""Errors a user can fix. Each message says what is wrong and what to do about it."""

from __future__ import annotations

import difflib
import errno
import os
from collections.abc import Sequence

# How many characters of a user's value an error line echoes: enough to recognise it, never a huge line.
ECHO_WIDTH = 100


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


class StorageError(PacganError):
    """The system refused a read or write: a full disk, a file-size limit, a read-only disk, no permission.

    `problem` and `fix` are kept apart so that a caller who knows how to go on (training: resume) can say so.
    """

    def __init__(self, problem: str, fix: str, then: str = "run the command again") -> None:
        super().__init__(f"{problem}; {fix}, then {then}")
        self.problem, self.fix = problem, fix

    def going_on_with(self, then: str) -> StorageError:
        """The same problem and fix, with another way to go on."""
        return StorageError(self.problem, self.fix, then)


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


def storage_error(error: OSError, path: str | os.PathLike[str] | None = None) -> StorageError | None:
    """One line naming the file for an OS error a user fixes on their system (`path`, else the error's own
    file name); None for other OS errors."""
    where = path if path is not None else error.filename
    shown = printable_path(where) if where is not None else "a file"
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        full = "the disk is full" if error.errno == errno.ENOSPC else "the disk quota is used up"
        return StorageError(f"{full} while writing {shown}", "free space")
    if error.errno == errno.EFBIG:
        return StorageError(
            f"{shown} reached the file-size limit (ulimit -f) while being written", "raise the limit"
        )
    if error.errno == errno.EROFS:
        return StorageError(
            f"cannot write {shown}: the disk is read-only", "choose a folder on a writable disk"
        )
    if error.errno in (errno.EACCES, errno.EPERM):
        return StorageError(f"permission denied for {shown}", "fix its permissions or choose another path")
    return None


def printable_path(path: str | os.PathLike[str] | bytes) -> str:
    """A path for a one-line message: as it is, or quoted with escapes when it holds a line break or
    another control character (a hostile file name must not add lines or rewrite the terminal)."""
    text = os.fsdecode(path)
    return text if text.isprintable() else repr(text)


def shown_list(items: Sequence[object], noun: str, width: int = ECHO_WIDTH) -> str:
    """`CN, AD` for an error line; a longer list (or a long entry) is cut at `width` characters, with the
    count: `n0, n1, ... (4000 names)`. Cutting costs nothing however large the list; line breaks in an entry
    become spaces, so the message stays one line."""
    text = ", ".join(str(item)[: width + 1] for item in items[:width])
    text = " ".join(text.splitlines())
    if len(text) <= width:
        return text
    return f"{text[: width - 3]}... ({len(items)} {noun})"


def error_reason(error: BaseException) -> str:
    """What went wrong, for the parentheses of an error line: the message (on one line), or the exception's
    type when it has none (a MemoryError, a bare EOFError), so that a line never reads `cannot be read ()`."""
    text = " ".join(str(error).split())
    return text or type(error).__name__
