"""SHA-256 digests of what `torch.save` writes: the one canonical encoding behind every digest that our
checkpoints and resume files record, so that an edited or damaged file is told apart from an intact one."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import torch


def payload_digest(payload: dict[str, Any]) -> str:
    """SHA-256 over every key and value of `payload` (nested dicts and lists): tensors by dtype, shape and
    bytes, plain values by their type and exact text, dict keys in a fixed order. A changed weight and a
    changed `alpha` or batch statistic change outputs alike, so both change the digest."""
    digest = hashlib.sha256()
    _feed(digest, payload)
    return digest.hexdigest()


def tensor_digest(data: Any) -> str:
    """SHA-256 over the tensors alone (their place, dtype, shape and bytes): what identifies a run's final
    weights, and the digest of checkpoints written by pacgan before `payload_digest` (`tensor_sha256`)."""
    digest = hashlib.sha256()
    for place, tensor in tensors_in(data, ""):
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        header = f"{place}\0{flat.dtype}\0{list(tensor.shape)}\0{flat.numel() * flat.element_size()}\0"
        digest.update(header.encode())
        digest.update(flat.view(torch.uint8).numpy().data)
    return digest.hexdigest()


def tensors_in(data: Any, place: str) -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor in nested dicts and lists with its place (`/'model_state_dict'/'bias'`), dict keys sorted."""
    if isinstance(data, torch.Tensor):
        yield place, data
    elif isinstance(data, dict):
        for key in sorted(data, key=repr):
            yield from tensors_in(data[key], f"{place}/{key!r}")
    elif isinstance(data, list | tuple):
        for index, item in enumerate(data):
            yield from tensors_in(item, f"{place}/{index}")


def _feed(digest: Any, value: Any) -> None:
    """Each value as a tag, a length and its content, so that no two different payloads encode alike;
    lists and tuples alike, since `torch.save` may give back either."""
    if isinstance(value, torch.Tensor):
        flat = value.detach().cpu().contiguous().reshape(-1)
        digest.update(f"T{flat.dtype}{list(value.shape)}{flat.numel() * flat.element_size()}:".encode())
        digest.update(flat.view(torch.uint8).numpy().data)
    elif isinstance(value, dict):
        digest.update(f"D{len(value)}:".encode())
        for key in sorted(value, key=lambda key: (type(key).__name__, repr(key))):
            _feed(digest, key)
            _feed(digest, value[key])
    elif isinstance(value, list | tuple):
        digest.update(f"L{len(value)}:".encode())
        for item in value:
            _feed(digest, item)
    else:  # None, bool, int, float (repr is exact), str, bytes
        text = f"{type(value).__module__}.{type(value).__qualname__}:{value!r}".encode()
        digest.update(f"V{len(text)}:".encode() + text)
