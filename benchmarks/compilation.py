"""What `--compile` costs and gains: the one-off compilation and the steady-state speed, eager against
compiled, for a training step and for generation (opt-in: `python -m benchmarks --compile`)."""

from __future__ import annotations

import time

import torch

from benchmarks.common import Row, synchronize
from benchmarks.inference import DEFAULT_ARCHITECTURE, fresh
from pacgan_cli.core.config import DEFAULT_FACTORS, build_config
from pacgan_cli.core.inference import generate_images
from pacgan_cli.core.models.checkpoint import GENERATOR
from pacgan_cli.core.stages import size_to_stage
from pacgan_cli.core.training.loop import critic_step, generator_step
from pacgan_cli.core.training.networks import build_networks


def measure(
    device: torch.device, channels: int = 512, size: int = 16, batch: int = 32, steps: int = 5
) -> list[Row]:
    rows = []
    stage = size_to_stage(size)
    real = torch.rand(batch, 1, size, size, device=device) * 2 - 1
    labels = (torch.arange(batch) % 2).to(device)
    for compiled in (False, True):
        config = build_config(
            {"in_channels": channels, "factors": list(DEFAULT_FACTORS[: stage + 1]), "compile": compiled}
        )
        torch.manual_seed(0)
        networks = build_networks(config, [device])

        calls = [0]

        def step(networks=networks, config=config, calls=calls) -> None:
            alpha = 0.5 + 1e-3 * calls[0]  # alpha changes every batch, as in training
            calls[0] += 1
            critic_step(networks, real, labels, alpha, stage, config.loss_weights)
            generator_step(networks, labels, alpha, stage, config.loss_weights)

        rows += _timed(
            step, device, steps, "training", f"C={channels} {size}x{size} batch {batch}", compiled, batch
        )
    generator = fresh(GENERATOR, DEFAULT_ARCHITECTURE)
    for compiled in (False, True):
        rows += _timed(
            lambda compiled=compiled: generate_images(generator, [64], compile_model=compiled, device=device),
            device,
            2,
            "generate",
            "256x256 C=512, 64 images",
            compiled,
            64,
        )
    return rows


def _timed(
    function, device: torch.device, repeats: int, section: str, case: str, compiled: bool, items: int
) -> list[Row]:
    synchronize(device)
    started = time.perf_counter()
    function()
    synchronize(device)
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(repeats):
        function()
    synchronize(device)
    steady = (time.perf_counter() - started) / repeats
    name = "compiled" if compiled else "eager"
    return [Row(f"compile: {section}", case, name, items / steady, "img/s", note=f"first call {first:.1f} s")]
