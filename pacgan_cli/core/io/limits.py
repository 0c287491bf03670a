"""How much memory an input file may make pacgan allocate, checked from its header before any data is read.

A damaged or hostile file can claim a huge image or tensor in a few bytes; reading it would take gigabytes
and minutes before failing. Each limit has a default and an environment variable that raises it.
"""

from __future__ import annotations

import os

from pacgan_cli.core.errors import ConfigError, InputError

IMAGE_BYTES_VARIABLE = "PACGAN_MAX_IMAGE_BYTES"
CHECKPOINT_BYTES_VARIABLE = "PACGAN_MAX_CHECKPOINT_BYTES"
DEFAULT_MAX_BYTES = 4 * 2**30  # 4 GiB: 16,000 grey 256x256 float32 images, or 14 default-size checkpoints


def byte_limit(variable: str) -> int:
    """The limit in bytes: the environment variable's value when set, else `DEFAULT_MAX_BYTES`."""
    text = os.environ.get(variable, "").strip()
    if not text:
        return DEFAULT_MAX_BYTES
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{variable} must be a positive whole number of bytes; got {text[:40]!r}")
    return int(text)


def check_byte_limit(path: str | os.PathLike[str], needed: int, what: str, variable: str) -> None:
    """Refuse `needed` bytes (what reading `path` would allocate) beyond the limit, saying how to raise it."""
    limit = byte_limit(variable)
    if needed > limit:
        raise InputError(
            f"{path}: {what} would take {format_bytes(needed)} of memory, over the limit of "
            f"{format_bytes(limit)}; if the file is right, raise the limit: {variable}={needed}"
        )


def format_bytes(count: int) -> str:
    """`1536` -> `1.5 KiB`: a size a person reads at a glance."""
    if count < 1024:
        return f"{count} bytes"
    value = count / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
