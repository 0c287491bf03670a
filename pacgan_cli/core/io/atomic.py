"""Crash-safe writes: a file appears whole or not at all, and results are never overwritten by accident."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import resource
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from pacgan_cli.core.errors import (
    ConfigError,
    OutputExistsError,
    PacganError,
    StorageError,
    UnsafeFileError,
    printable_path,
    storage_error,
)

PARTIAL = ".partial-"  # in the names of files being written, so that a killed write can be found


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once: changing the process-wide umask around each write would race with files made meanwhile by
# another thread (training writes resume checkpoints in the background).
UMASK = _read_umask()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `target` with the same suffixes; move it onto `target` on success.

    The suffixes are kept because writers such as nibabel choose the format from the file name. A link at
    `target` is replaced, not followed. A write the disk refuses (full, a file-size limit, read-only, no
    permission) is a StorageError naming `target`.
    """
    target = Path(target)
    suffix = "".join(target.suffixes) or ".tmp"
    with _storage_errors(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            prefix=f".{target.stem}{PARTIAL}", suffix=suffix, dir=target.parent
        )
    os.close(handle)
    temporary_path = Path(temporary)
    try:
        yield temporary_path
        # mkstemp makes the file private (0600); a result gets the permissions the user's umask gives.
        os.chmod(temporary_path, 0o666 & ~UMASK)
        os.replace(temporary_path, target)
    except Exception as error:
        refused = _refused_write(error, target, temporary_path)
        if refused is None:
            raise
        raise refused from error
    finally:
        if temporary_path.exists():
            temporary_path.unlink()


def _refused_write(error: Exception, target: Path, temporary: Path) -> StorageError | None:
    """The StorageError behind a failed write, if the system refused it: an OSError in the error's chain, or,
    for a writer that hides it (torch.save to a path raises a bare RuntimeError), a file-size limit the
    temporary file reached or a disk with no space left."""
    if isinstance(error, PacganError):
        return None
    cause: BaseException | None = error
    for _ in range(8):  # the chain, not a loop in it
        if cause is None:
            break
        if isinstance(cause, OSError) and cause.errno is not None:
            named = cause.filename not in (None, str(temporary), os.fsencode(temporary))
            return storage_error(cause, cause.filename if named else target)
        cause = cause.__cause__ or cause.__context__
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    with contextlib.suppress(OSError):
        if limit != resource.RLIM_INFINITY and temporary.stat().st_size >= limit:
            return storage_error(OSError(errno.EFBIG, os.strerror(errno.EFBIG)), target)
        if os.statvfs(target.parent).f_bavail == 0:
            return storage_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), target)
    return None


def remove_partial_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete what killed writes left under `folder` (their temporary files); returns what was removed."""
    leftovers = [path for path in Path(folder).rglob(f".*{PARTIAL}*") if path.is_file()]
    for path in leftovers:
        path.unlink()
    return leftovers


def write_text_atomic(target: str | os.PathLike[str], text: str, errors: str = "strict") -> None:
    """Write a UTF-8 text file in one piece (`errors` as for `str.encode`)."""
    with atomic_path(target) as temporary:
        temporary.write_text(text, encoding="utf-8", errors=errors)


def append_text(target: str | os.PathLike[str], text: str) -> None:
    """Append to a file of a run folder (`metrics.jsonl`, `train.log`), creating it when missing: a link
    planted in its place is refused, not followed, so the write never lands outside the folder."""
    descriptor = open_plain_file(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    with _storage_errors(target), os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        handle.write(text)


def open_plain_file(path: str | os.PathLike[str], flags: int) -> int:
    """`os.open(path, flags)` refusing a symbolic link (O_NOFOLLOW) and anything but a plain file (a FIFO
    would block); a created file gets the permissions the umask gives. Returns the file descriptor."""
    safe = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    with _storage_errors(path):
        try:
            descriptor = os.open(path, flags | safe, 0o666)
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.EMLINK) and os.path.islink(path):
                raise _link_refused(path) from None
            if error.errno == errno.ENXIO:  # a FIFO without a reader
                raise _not_plain(path) from None
            raise
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise _not_plain(path)
    return descriptor


def refuse_links(paths: list[Path]) -> None:
    """Refuse, before a run writes anything, a symbolic link among a run folder's own files and folders."""
    for path in paths:
        if path.is_symlink():
            raise _link_refused(path)


@contextlib.contextmanager
def _storage_errors(path: str | os.PathLike[str]) -> Iterator[None]:
    """An OSError the system raises for `path` (a full disk, ...) as the StorageError that names it."""
    try:
        yield
    except OSError as error:
        refused = storage_error(error, path)
        if refused is None:
            raise
        raise refused from error


def _link_refused(path: str | os.PathLike[str]) -> UnsafeFileError:
    return UnsafeFileError(
        f"{printable_path(path)} is a symbolic link; pacgan does not write through links in a run folder "
        "(the write would land elsewhere); remove the link and run again"
    )


def _not_plain(path: str | os.PathLike[str]) -> UnsafeFileError:
    return UnsafeFileError(f"{printable_path(path)} is not a plain file; remove it and run again")


def json_ready(value: Any) -> Any:
    """NaN/inf -> null and NumPy scalars -> Python numbers, so that what is written is strict JSON."""
    if isinstance(value, dict):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json_atomic(target: str | os.PathLike[str], data: Any) -> None:
    """Write `data` as indented strict JSON in one piece."""
    write_text_atomic(target, json.dumps(json_ready(data), indent=2, allow_nan=False) + "\n")


def ensure_distinct(
    outputs: dict[str, str | os.PathLike[str] | None],
    inputs: dict[str, str | os.PathLike[str] | None] | None = None,
) -> None:
    """Each output of a command (named as the user gave it, e.g. `--preview`) must be a file of its own and
    none of its inputs: otherwise one write destroys another output, or the data being read (with --force)."""
    named = [(name, Path(path)) for name, path in outputs.items() if path is not None]
    sources = [(name, Path(path)) for name, path in (inputs or {}).items() if path is not None]
    for index, (name, path) in enumerate(named):
        for other_name, other in named[:index]:
            if _same_file(path, other):
                raise ConfigError(
                    f"{name} {path} is the same file as {other_name}; give each output a file of its own"
                )
        for source_name, source in sources:
            if _same_file(path, source):
                raise ConfigError(
                    f"{name} {path} is the input {source_name}; writing it would destroy what is read, "
                    "so choose another path"
                )


def _same_file(first: Path, second: Path) -> bool:
    if first.exists() and second.exists():
        return os.path.samefile(first, second)
    return first.resolve() == second.resolve()


def ensure_can_write(*targets: str | os.PathLike[str], force: bool = False) -> None:
    """Refuse to overwrite existing files unless `force` is set."""
    if force:
        return
    existing = [str(t) for t in targets if Path(t).exists()]
    if existing:
        raise OutputExistsError(
            f"{existing[0]} already exists; choose another output path or pass --force to overwrite it"
        )
