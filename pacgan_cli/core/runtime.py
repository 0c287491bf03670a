"""Device choice, numeric precision and seeding, shared by every command that runs a network."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
import torch

from pacgan_cli.core.config_rules import PRECISIONS
from pacgan_cli.core.errors import ConfigError


def forward_precision(device: torch.device | str, precision: str) -> contextlib.AbstractContextManager[None]:
    """The context for forward passes: bf16 autocast (matrix units on CPUs with AMX and on GPUs) or, for
    fp32, plain float32 arithmetic, the published mathematics."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be fp32 or bf16; got {precision!r}")
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


def precision_warning(device: torch.device, precision: str) -> str:
    """A line for bf16 on a CPU without bf16 instructions (AVX-512 BF16 or AMX), where torch emulates it:
    measured two orders of magnitude slower than fp32 (a 2-core EPYC: 0.9 against 154 GFLOP/s). A warning,
    not an error, because the results are still right."""
    if precision != "bf16" or device.type != "cpu" or cpu_has_bf16():
        return ""
    return (
        "warning: this CPU has no bf16 instructions (AVX-512 BF16 or AMX), so bf16 is emulated and about "
        "100x slower than fp32; use --precision fp32 here"
    )


def cpu_has_bf16() -> bool:
    """Whether oneDNN finds bf16 instructions on this CPU (a function, so that tests can pretend either)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


# Base channels up to which channels-last trains faster on a CPU: measured 1.22-1.29x at 32, 1.14-1.20x at 64,
# 1.02-1.14x at 128, and slower at 512 (0.71-0.98x); 256 is unmeasured.
CHANNELS_LAST_UP_TO = 128


def training_memory_format(setting: str, device: torch.device, base_channels: int) -> torch.memory_format:
    """The layout of the training networks and batches: as configured, or with `auto` channels-last on a CPU
    for networks of up to CHANNELS_LAST_UP_TO base channels, where oneDNN's channels-last convolutions measured
    faster (BENCHMARKS.md, "Channels-last training"); elsewhere unmeasured, so the published layout stays."""
    if setting == "auto":
        setting = (
            "channels_last" if device.type == "cpu" and base_channels <= CHANNELS_LAST_UP_TO else "contiguous"
        )
    return torch.channels_last if setting == "channels_last" else torch.contiguous_format


GRAPHS_PER_STAGE = 8  # torch's default recompile limit, which one stage of training can nearly fill


def compile_module(module: torch.nn.Module, enabled: bool, stages: int = 1) -> torch.nn.Module:
    """`torch.compile` the module when asked; a changing fade-in alpha becomes a graph input after one recompile.

    Training traces several graphs per stage (its resolution, with and without gradients, a last smaller
    batch), and past torch's recompile limit (8 per function) it would run the later stages eagerly with
    only a warning, so the limit grows with the `stages` one run trains.
    """
    if not enabled:
        return module
    limit = GRAPHS_PER_STAGE * stages
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, limit)
    return torch.compile(module)  # type: ignore[return-value]


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
    """Seed Python, NumPy and torch. cuDNN picks its fastest kernels per shape (a GPU run repeats only to
    float rounding; a CPU run repeats bit for bit)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.deterministic = False


THREADS_VARIABLE = "PACGAN_THREADS"
MANY_THREADS_FROM_CHANNELS = 128


def use_threads(requested: int | None, base_channels: int | None = None) -> str:
    """Set torch's CPU threads for this process and say how many (`1 CPU thread`), for the run's first line.

    `requested` (--threads) wins, then $PACGAN_THREADS, then `default_threads(base_channels)`.
    """
    count = requested
    if count is None and os.environ.get(THREADS_VARIABLE, "").strip():
        text = os.environ[THREADS_VARIABLE].strip()
        if not text.isdigit() or int(text) < 1:
            raise ConfigError(
                f"{THREADS_VARIABLE} must be a whole number of threads, 1 or more; got {text!r}"
            )
        count = int(text)
    if count is None:
        count = default_threads(base_channels)
    if count < 1:
        raise ConfigError(f"the number of threads must be at least 1; got {count}")
    torch.set_num_threads(count)
    return describe_threads()


def describe_threads() -> str:
    """`1 CPU thread`, `4 CPU threads`: what torch uses now, for the first line of a run."""
    count = torch.get_num_threads()
    return f"{count} CPU thread{'' if count == 1 else 's'}"


def default_threads(base_channels: int | None, cores: int | None = None) -> int:
    """One thread for networks under 128 base channels; the physical cores for larger ones and for
    InceptionV3 (`base_channels` None), divided among torchrun's processes on the machine.

    Measured (BENCHMARKS.md, Threads): the demo-size network (32 channels, 32x32, batch 16) gains nothing
    from a second thread on an idle 2-core machine, and with other work on the cores it steps 1.3x slower
    with two (33x with OpenMP's default spin-waiting, which `pacgan` turns off); at 128 channels two threads
    already keep up with one under that load, and convolutions that large split well on a free machine.
    Hyper-threads are not counted (they share a core's arithmetic units), and the machine's current load is
    not consulted, so that the same command uses the same threads, and gives the same numbers, every time.
    """
    if base_channels is not None and base_channels < MANY_THREADS_FROM_CHANNELS:
        return 1
    cores = cores if cores is not None else physical_cores()
    # torchrun's processes on one machine (LOCAL_WORLD_SIZE) share its cores.
    return max(1, cores // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))


def physical_cores() -> int:
    """The physical cores this process may run on (its affinity mask), from /proc/cpuinfo; os.cpu_count()
    where that file names no cores."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return count_physical_cores(cpuinfo, allowed) or (len(allowed) if allowed else os.cpu_count() or 1)


def count_physical_cores(cpuinfo: str, allowed: Collection[int] | None = None) -> int | None:
    """Distinct (physical id, core id) pairs of the processors in `cpuinfo` (the text of /proc/cpuinfo)
    that are in `allowed`; None when the text has no core ids (some ARM kernels)."""
    cores = set()
    for block in cpuinfo.split("\n\n"):
        lines = (line.partition(":") for line in block.splitlines())
        fields = {key.strip(): value.strip() for key, _, value in lines}
        if "processor" not in fields or "core id" not in fields:
            continue
        if allowed is not None and int(fields["processor"]) not in allowed:
            continue
        cores.add((fields.get("physical id", "0"), fields["core id"]))
    return len(cores) or None
