"""Timing and memory helpers shared by the benchmark sections."""

from __future__ import annotations

import contextlib
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Row:
    """One line of the results table: a measured rate, optionally with the reference it is compared to."""

    section: str
    case: str
    variant: str
    rate: float  # items per second
    unit: str
    ratio: float | None = None  # rate / reference rate, measured side by side
    note: str = ""


@contextlib.contextmanager
def published_layers() -> Iterator[None]:
    """Equalised-LR convolutions computed as the published code does (scale the input, convolve, add the
    bias), for the reference variants; ours fold the scale into the weights and the bias into the conv."""
    from pacgan_cli.core.models.layers import WSConv2d

    def published_forward(self: WSConv2d, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x * self.scale) + self.bias.view(1, -1, 1, 1)

    ours = WSConv2d.forward
    WSConv2d.forward = published_forward  # type: ignore[method-assign]
    try:
        yield
    finally:
        WSConv2d.forward = ours  # type: ignore[method-assign]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved_seconds(
    variants: dict[str, Callable[[], None]],
    device: torch.device,
    budget_seconds: float,
    min_rounds: int = 2,
    max_rounds: int = 20,
) -> dict[str, float]:
    """Median seconds per call of each variant, called in turn (one warm-up round first, not counted).

    The number of rounds is chosen from the warm-up so that all variants together take about
    `budget_seconds`.
    """
    timings: dict[str, list[float]] = {name: [] for name in variants}

    def one_round() -> dict[str, float]:
        seconds = {}
        for name, function in variants.items():
            synchronize(device)
            started = time.perf_counter()
            function()
            synchronize(device)
            seconds[name] = time.perf_counter() - started
        return seconds

    warm = one_round()
    per_round = sum(warm.values())
    rounds = max(min_rounds, min(max_rounds, int(budget_seconds / max(per_round, 1e-9))))
    for _ in range(rounds):
        for name, value in one_round().items():
            timings[name].append(value)
    return {name: statistics.median(values) for name, values in timings.items()}


def peak_rss_mib() -> float:
    """The process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_cuda_mib(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 2**20
