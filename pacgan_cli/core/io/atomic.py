"""Crash-safe writes: a file appears whole or not at all, and results are never overwritten by accident."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pacgan_cli.core.errors import OutputExistsError


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `target` with the same suffixes; move it onto `target` on success.

    The suffixes are kept because writers such as nibabel choose the format from the file name.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(target.suffixes) or ".tmp"
    handle, temporary = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=suffix, dir=target.parent)
    os.close(handle)
    temporary_path = Path(temporary)
    try:
        yield temporary_path
        os.replace(temporary_path, target)
    finally:
        if temporary_path.exists():
            temporary_path.unlink()


def write_text_atomic(target: str | os.PathLike[str], text: str) -> None:
    """Write a text file in one piece."""
    with atomic_path(target) as temporary:
        temporary.write_text(text, encoding="utf-8")


def ensure_can_write(*targets: str | os.PathLike[str], force: bool = False) -> None:
    """Refuse to overwrite existing files unless `force` is set."""
    if force:
        return
    existing = [str(t) for t in targets if Path(t).exists()]
    if existing:
        raise OutputExistsError(
            f"{existing[0]} already exists; choose another output path or pass --force to overwrite it"
        )
