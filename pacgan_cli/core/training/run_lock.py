"""One training process per run folder: an exclusive `flock` on the folder's lock file, held for the run's life.

The kernel gives the lock to one open file at a time and drops it when its holder ends, however it ends, so
there is no stale lock to take over (two processes taking over the same stale file was a race). The holder's
pid and host are written inside, for the message another process gets. Releasing removes the file while still
holding it; a process that locked the removed file finds the name gone or new and tries again, so at most
one process holds the lock that the file's name points to.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from pathlib import Path
from typing import Any

from pacgan_cli.core.errors import OutputExistsError
from pacgan_cli.core.io.atomic import open_plain_file


class RunLock:
    """The lock of the run folder holding `path`; `acquire` raises OutputExistsError when another holds it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._descriptor: int | None = None

    @property
    def held(self) -> bool:
        return self._descriptor is not None

    def acquire(self) -> None:
        """Take the lock or say which process has it; a lock file left by a process that is gone is free."""
        while True:
            descriptor = open_plain_file(self.path, os.O_RDWR | os.O_CREAT)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(descriptor)
                os.close(descriptor)
                raise OutputExistsError(_in_use_message(self.path.parent, holder)) from None
            except BaseException:
                os.close(descriptor)
                raise
            if _names(self.path, descriptor):
                break
            os.close(descriptor)  # the holder removed the file as this process opened it: lock the new one
        me = json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode()
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, me, 0)
        self._descriptor = descriptor

    def release(self) -> None:
        """Remove the lock file and let go; nothing happens when the lock is not held."""
        if self._descriptor is None:
            return
        descriptor, self._descriptor = self._descriptor, None
        try:
            if _names(self.path, descriptor):
                self.path.unlink()
        finally:
            os.close(descriptor)


def _names(path: Path, descriptor: int) -> bool:
    """Whether `path` still names the file open as `descriptor`."""
    try:
        named = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    opened = os.fstat(descriptor)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _read_holder(descriptor: int) -> dict[str, Any]:
    """The pid and host the holder wrote (empty while it is still writing them)."""
    with contextlib.suppress(OSError, ValueError):
        holder = json.loads(os.pread(descriptor, 4096, 0))
        if isinstance(holder, dict):
            return holder
    return {}


def _in_use_message(folder: Path, holder: dict[str, Any]) -> str:
    pid = holder.get("pid")
    host = holder.get("host")
    elsewhere = f" on {host}" if host not in (None, socket.gethostname()) else ""
    who = f" (pid {pid}{elsewhere})" if isinstance(pid, int) else ""
    return (
        f"{folder}: another training process{who} is using this run folder; wait for it to finish or stop it"
    )
