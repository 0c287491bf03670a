"""Training-step throughput: pacgan's steps against a re-enactment of the published step, side by side.

The published step (a) builds the generator graph for the critic's fakes and detaches it, (b) lets the
generator step compute critic weight gradients, and (c) runs the critic on the real batch again for a
loss term without gradient. Both variants run interleaved in one process, so the ratio is robust to noise.

    .venv/bin/python benchmarks/bench_training.py [--size 32] [--batch 16] [--steps 5] [--channels 512]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from pacgan_cli.core.config import build_config
from pacgan_cli.core.stages import size_to_stage
from pacgan_cli.core.training.loop import critic_step, generator_step
from pacgan_cli.core.training.losses import critic_loss, gradient_penalty
from pacgan_cli.core.training.networks import build_networks


def published_step(networks, real, labels, alpha, stage, config) -> None:
    generator, discriminator = networks.generator, networks.discriminator
    networks.critic_optimizer.zero_grad()
    fake = generator(torch.randn(real.shape[0], config.z_dim), labels, alpha, stage)
    real_scores, real_logits = discriminator(real, alpha, stage)
    fake_scores, fake_logits = discriminator(fake.detach(), alpha, stage)
    penalty = gradient_penalty(discriminator, real, fake, alpha, stage, torch.rand(real.shape[0], 1, 1, 1))
    terms = critic_loss(
        real_scores,
        fake_scores,
        real_logits,
        fake_logits,
        labels,
        penalty,
        lambda_cls_real=4,
        lambda_cls_fake=2,
        lambda_gp=10,
        drift_weight=0.001,
    )
    terms["d_loss"].backward()
    networks.critic_optimizer.step()
    networks.generator_optimizer.zero_grad()
    fake = generator(torch.randn(real.shape[0], config.z_dim), labels, alpha, stage)
    fake_scores, fake_logits = discriminator(fake, alpha, stage)
    _, real_logits = discriminator(real, alpha, stage)
    loss = (
        -fake_scores.mean()
        + 4 * F.cross_entropy(fake_logits, labels)
        + 2 * F.cross_entropy(real_logits, labels)
    )
    loss.backward()
    networks.generator_optimizer.step()


def our_step(networks, real, labels, alpha, stage, config) -> None:
    critic_step(networks, real, labels, alpha, stage, config)
    generator_step(networks, labels, alpha, stage, config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--channels", type=int, default=512)
    args = parser.parse_args()
    torch.manual_seed(0)
    config = build_config({"in_channels": args.channels, "device": "cpu"})
    networks = build_networks(config, [torch.device("cpu")])
    stage = size_to_stage(args.size)
    real = torch.rand(args.batch, 1, args.size, args.size) * 2 - 1
    labels = torch.arange(args.batch) % 2
    timings: dict[str, list[float]] = {"published": [], "pacgan": []}
    for step in range(args.steps + 1):
        for name, function in (("published", published_step), ("pacgan", our_step)):
            started = time.perf_counter()
            function(networks, real, labels, 0.5, stage, config)
            if step > 0:  # the first round warms up allocators
                timings[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    print(
        f"size {args.size}, batch {args.batch}, channels {args.channels}, {args.steps} steps, {torch.get_num_threads()} threads"
    )
    for name, median in medians.items():
        print(f"{name:>9}: {median * 1000:8.1f} ms/step  {args.batch / median:7.1f} images/s")
    print(f"speed-up: {medians['published'] / medians['pacgan']:.2f}x")


if __name__ == "__main__":
    main()
