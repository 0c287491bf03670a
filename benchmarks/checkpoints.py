"""Seconds per resume checkpoint inside a stage (default architecture): what crash safety costs."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import torch

from benchmarks.common import Row
from pacgan_cli.core.config import build_config
from pacgan_cli.core.io.run_layout import RunLayout
from pacgan_cli.core.training.distributed import Ranks
from pacgan_cli.core.training.networks import build_networks
from pacgan_cli.core.training.resume import ProgressSaver
from pacgan_cli.core.training.run_folder import RunFolder
from pacgan_cli.core.training.state import StageState


def measure(
    device: torch.device, sizes: tuple[int, ...] = (32, 256), repeats: int = 3, channels: int = 512
) -> list[Row]:
    """A checkpoint holds both networks, both optimisers (after one step, so Adam's moments exist) and the
    RNG states; the networks hold every block whatever the stage, so the size changes only the data order.
    Reported: the whole write, and the part training waits for (the snapshot; the digest and the write
    run in the background)."""
    config = build_config({"device": "cpu", "in_channels": channels})
    networks = build_networks(config, [device])
    for optimizer, module in (
        (networks.generator_optimizer, networks.generator),
        (networks.critic_optimizer, networks.discriminator),
    ):
        for parameter in module.parameters():
            parameter.grad = torch.zeros_like(parameter)
        optimizer.step()
    rows = []
    with tempfile.TemporaryDirectory() as folder_name:
        folder = RunFolder(RunLayout(Path(folder_name), Path(folder_name)))
        # The saver of a run; of its run it reads the folder and the processes while the epoch has no loss
        # sums yet.
        run = SimpleNamespace(folder=folder, ranks=Ranks(device=device))
        saver = ProgressSaver(run, networks, 0, torch.Generator())  # type: ignore[arg-type]
        for size in sizes:
            whole, waited = [], []
            for _ in range(repeats):
                started = time.perf_counter()
                state = StageState(
                    epoch=1, next_batch=1, alpha=0.5, permutation=torch.randperm(600), epoch_seconds=1.0
                )
                saver.save(state, background=True)
                waited.append(time.perf_counter() - started)
                folder.wait_for_progress()
                whole.append(time.perf_counter() - started)
            megabytes = folder.layout.progress_path.stat().st_size / 2**20
            case = f"resume checkpoint at {size}x{size}, C={channels} ({megabytes:.0f} MiB)"
            note = f"training waits {min(waited):.2f} s (the snapshot), the rest is written in the background"
            rows.append(Row("checkpoint", case, "ours", min(whole), "s each", note=note))
    return rows
