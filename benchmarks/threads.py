"""`python -m benchmarks.threads`: seconds per training step with 1 and 2 CPU threads, interleaved.

One process, the same weights and batch for every thread count; the counts take turns step by step (the
order alternates each round), so a neighbour's load falls on all of them alike. The load average is
printed before and after, because on a shared machine it decides the result. OpenMP's wait policy is
read when torch loads, so compare policies by running the command once per `OMP_WAIT_POLICY`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from pacgan_cli.core.config import build_config
from pacgan_cli.core.stages import size_to_stage
from pacgan_cli.core.training.loop import critic_step, generator_step
from pacgan_cli.core.training.networks import build_networks


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.threads", description=__doc__)
    parser.add_argument("--channels", type=int, nargs="+", default=[32], help="base channels (demo: 32)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="timed steps per thread count")
    args = parser.parse_args()
    policy = os.environ.get("OMP_WAIT_POLICY", "unset")
    print(f"load average before: {_load()}; OMP_WAIT_POLICY {policy}; torch {torch.__version__}")
    print("| base channels | " + " | ".join(f"{n} thread(s), ms/step" for n in args.threads) + " |")
    print("|---|" + "---|" * len(args.threads))
    for channels in args.channels:
        seconds = measure(channels, args.threads, args.size, args.batch, args.rounds)
        cells = [
            f"{statistics.median(values) * 1000:.0f} ({', '.join(f'{v * 1000:.0f}' for v in values)})"
            for values in seconds.values()
        ]
        print(f"| {channels} | " + " | ".join(cells) + " |")
    print(f"load average after: {_load()}")


def measure(channels: int, threads: list[int], size: int, batch: int, rounds: int) -> dict[int, list[float]]:
    """Seconds of each timed critic + generator step, per thread count (one untimed warm-up step each)."""
    stages = size_to_stage(size) + 1
    config = build_config(
        {
            "in_channels": channels,
            "z_dim": 32,
            "factors": [1.0, 1.0, 1.0, 0.5, 0.25, 0.125, 0.0625][:stages],
            "device": "cpu",
        }
    )
    torch.manual_seed(0)
    networks = build_networks(config, [torch.device("cpu")])
    real = torch.rand(batch, 1, size, size) * 2 - 1
    labels = torch.arange(batch) % 2

    def step() -> None:
        critic_step(networks, real, labels, 0.5, stages - 1, config.loss_weights)
        generator_step(networks, labels, 0.5, stages - 1, config.loss_weights)

    seconds: dict[int, list[float]] = {count: [] for count in threads}
    for count in threads:
        torch.set_num_threads(count)
        step()
    for round_index in range(rounds):
        for count in threads if round_index % 2 == 0 else threads[::-1]:
            torch.set_num_threads(count)
            started = time.perf_counter()
            step()
            seconds[count].append(time.perf_counter() - started)
    return seconds


def _load() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
