"""`python -m benchmarks.published_loop CONFIG OUTPUT`: a re-enactment of the published training loop as a
whole process, to time beside `pacgan train` on the same configuration (benchmarks/whole_run.py).

The published code is not in this repository, so this is its loop as far as our SPEC and its README state it:
every stage loads its images, builds a shuffled DataLoader of the batch size, and for every batch runs the
published step (benchmarks.training.published_step: the generator graph built and detached for the critic's
fakes, critic weight gradients in the generator step, the extra critic pass on the real batch, per-batch host
logging of both heads' AUC and the losses, the published layer arithmetic); alpha grows per batch as
published; at each stage's end the generator and discriminator are saved (`torch.save` of the model and
optimiser states). What it leaves out (per-epoch sample grids, the published validation) only flatters it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

from benchmarks.training import published_step
from pacgan_cli.core.config import resolve_config
from pacgan_cli.core.runtime import seed_everything, use_threads
from pacgan_cli.core.stages import stage_size
from pacgan_cli.core.training.data import load_stage
from pacgan_cli.core.training.networks import build_networks
from pacgan_cli.core.training.state import open_data


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.published_loop", description=__doc__)
    parser.add_argument("config", type=Path)
    parser.add_argument("output", type=Path, help="folder for the stage checkpoints")
    arguments = parser.parse_args()
    config = resolve_config(arguments.config)
    if any(count != 1 for count in config.critic_iterations):
        parser.error("the re-enactment runs one critic update per batch; use critic_iterations: 1")
    use_threads(None, config.in_channels)
    seed_everything(config.seed)
    device = torch.device("cpu")
    data = open_data(config, "train", range(config.num_stages))
    networks = build_networks(config, [device])
    arguments.output.mkdir(parents=True, exist_ok=True)
    for stage in range(config.num_stages):
        started = time.perf_counter()
        images, labels = load_stage(data, stage_size(stage))
        loader = DataLoader(TensorDataset(images, labels), batch_size=config.batch_sizes[stage], shuffle=True)
        alpha, epochs = 1e-5, config.progressive_epochs[stage]
        for _ in range(epochs):
            for real, real_labels in loader:
                if len(real) < 2:  # the published loader can give a batch of one, which the step cannot take
                    continue
                published_step(networks, real.to(device), real_labels.to(device), alpha, stage)
                alpha = min(1.0, alpha + len(real) / (0.5 * epochs * len(images)))
        for name, model, optimizer in (
            ("generator", networks.generator, networks.generator_optimizer),
            ("discriminator", networks.discriminator, networks.critic_optimizer),
        ):
            torch.save(
                {
                    "epoch": epochs,
                    "model_state_dict": model.state_dict(),
                    "optimizer_state_dict": optimizer.state_dict(),
                },
                arguments.output / f"{name}_{stage_size(stage)}.pt",
            )
        print(f"stage {stage_size(stage)}: {time.perf_counter() - started:.2f} s", flush=True)


if __name__ == "__main__":
    main()
