"""Device choice, numeric precision and seeding, shared by every command that runs a network."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Sequence

import numpy as np
import torch

from pacgan_cli.core.config import PRECISIONS
from pacgan_cli.core.errors import ConfigError


def forward_precision(device: torch.device | str, precision: str) -> contextlib.AbstractContextManager[None]:
    """The context for forward passes: bf16 autocast (matrix units on CPUs with AMX and on GPUs) or, for
    fp32, plain float32 arithmetic, the published mathematics."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be fp32 or bf16; got {precision!r}")
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


def compile_module(module: torch.nn.Module, enabled: bool) -> torch.nn.Module:
    """`torch.compile` the module when asked; a changing fade-in alpha becomes a graph input after one recompile."""
    return torch.compile(module) if enabled else module  # type: ignore[return-value]


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU ('auto:N': GPU N, else CPU); 'cuda' without a GPU is an
    error, not a silent fallback."""
    if name == "auto" or name.startswith("auto:"):
        return torch.device("cuda" + name[4:] if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"device {name!r} was asked for, but no CUDA GPU is available; use --device cpu or auto"
        )
    try:
        return torch.device(name)
    except RuntimeError as error:
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from error


def training_devices(device: torch.device, gpus: Sequence[int], visible: int) -> list[torch.device]:
    """The devices each training batch is spread over; the first one holds the networks.

    CPU: the CPU. `cuda:K`: GPU K alone. Plain `cuda`: the GPUs that `gpus` (the published GPUS_N) names,
    in its order, which is how the published code parallelises a run. `visible` is the number of GPUs.
    """
    if device.type != "cuda":
        return [device]
    ids = [device.index] if device.index is not None else list(dict.fromkeys(gpus))
    for index in ids:
        if not 0 <= index < visible:
            raise ConfigError(
                f"GPU {index} was asked for, but {visible} GPU(s) are visible (ids 0..{visible - 1}); "
                "fix `gpus_n` or `device`"
            )
    return [torch.device("cuda", index) for index in ids]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch, and ask cuDNN for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
