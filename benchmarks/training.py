"""Training images/s per stage: a re-enactment of the published step against ours in fp32 and bf16.

The published step (a) builds the generator graph for the critic's fakes and detaches it, (b) lets the
generator step compute critic weight gradients, (c) runs the critic on the real batch again for a loss term
without gradient, and (d) logs every batch on the host: scikit-learn ROC AUC of both heads and `.item()` of
the losses. Ours batches the real and fake critic passes, skips (a)-(c) and keeps its sums on the device.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from benchmarks.common import Row, interleaved_seconds, published_layers
from pacgan_cli.core.config import DEFAULT_FACTORS, TrainingConfig, build_config
from pacgan_cli.core.stages import size_to_stage
from pacgan_cli.core.training.loop import critic_step, generator_step
from pacgan_cli.core.training.losses import critic_loss, gradient_penalty
from pacgan_cli.core.training.networks import Networks, build_networks

VARIANTS = (
    "published",
    "ours fp32",
    "ours bf16",
    "ours fp32 channels-last",
    "ours fp32 gp_interval 4",
    "ours bf16 channels-last gp_interval 4",
)
LAZY_INTERVAL = 4


def published_step(
    networks: Networks, real: torch.Tensor, labels: torch.Tensor, alpha: float, stage: int
) -> None:
    with published_layers():
        _published_step(networks, real, labels, alpha, stage)


def _published_step(
    networks: Networks, real: torch.Tensor, labels: torch.Tensor, alpha: float, stage: int
) -> None:
    generator, discriminator = networks.generator, networks.discriminator
    z_dim = generator.latent_size
    networks.critic_optimizer.zero_grad()
    fake = generator(torch.randn(real.shape[0], z_dim, device=real.device), labels, alpha, stage)
    real_scores, real_logits = discriminator(real, alpha, stage)
    fake_scores, fake_logits = discriminator(fake.detach(), alpha, stage)
    mix = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
    penalty = gradient_penalty(discriminator, real, fake, alpha, stage, mix)
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
    fake = generator(torch.randn(real.shape[0], z_dim, device=real.device), labels, alpha, stage)
    fake_scores, fake_logits_g = discriminator(fake, alpha, stage)
    _, real_logits_g = discriminator(real, alpha, stage)
    loss = (
        -fake_scores.mean()
        + 4 * F.cross_entropy(fake_logits_g, labels)
        + 2 * F.cross_entropy(real_logits_g, labels)
    )
    loss.backward()
    networks.generator_optimizer.step()
    # Per-batch logging on the host, as published.
    truth = labels.cpu().numpy()
    for logits in (real_logits, fake_logits):
        roc_auc_score(truth, torch.softmax(logits.detach(), 1)[:, 1].cpu().numpy())
    terms["d_loss"].item(), loss.item(), terms["gp"].item()


def our_step(
    networks: Networks,
    real: torch.Tensor,
    labels: torch.Tensor,
    alpha: float,
    stage: int,
    config: TrainingConfig,
    sums: dict[str, torch.Tensor],
    penalty: bool = True,
) -> None:
    """`critic_step` + `generator_step` as training runs them; without `penalty`, a lazy step's critic."""
    weights = config.loss_weights
    critic_terms, _, _ = critic_step(networks, real, labels, alpha, stage, weights, penalty=penalty)
    generator_terms = generator_step(networks, labels, alpha, stage, config.loss_weights)
    for name, value in {**critic_terms, **generator_terms}.items():
        sums[name] = sums[name] + value.detach() if name in sums else value.detach()


def measure(
    channels: int, sizes: list[int], batch: int, device: torch.device, budget_seconds: float
) -> list[Row]:
    """images/s of each variant at each size; ratios against the published step."""
    factors = list(DEFAULT_FACTORS[: len(sizes)])  # blocks beyond the largest size are never run
    # The published layout; the channels-last variants say so in their names.
    settings = {"in_channels": channels, "factors": factors, "device": "cpu", "memory_format": "contiguous"}
    config = build_config(settings)
    variants = {}
    for name in VARIANTS:
        torch.manual_seed(0)  # the same initial weights for every variant
        networks = build_networks(config, [device])
        networks.precision = "bf16" if "bf16" in name else "fp32"
        if "channels-last" in name:
            networks.generator.to(memory_format=torch.channels_last)
            networks.discriminator.to(memory_format=torch.channels_last)
        variants[name] = networks
    rows = []
    for size in sizes:
        real = torch.rand(batch, 1, size, size, device=device) * 2 - 1
        labels = (torch.arange(batch) % 2).to(device)
        steps = step_functions(variants, real, labels, size_to_stage(size), config)
        seconds = interleaved_seconds(steps, device, budget_seconds)
        # The useful work is what our step computes; the reference's extra passes do not count.
        work = step_flops(steps["ours fp32"])
        reference = batch / seconds["published"]
        for name in VARIANTS:
            rate = batch * steps_per_call(name) / seconds[name]
            ratio = None if name == "published" else rate / reference
            flops = work * steps_per_call(name) / seconds[name]
            note = f"{flops / 1e12:.3g} TFLOP/s" if name != "published" else ""
            rows.append(
                Row("training", f"C={channels} {size}x{size} batch {batch}", name, rate, "img/s", ratio, note)
            )
    return rows


class FlopCount(TorchDispatchMode):
    """Counts the floating-point operations of convolutions and matrix products, forward and backward, with
    torch's own formulas; unlike `FlopCounterMode` it sets no module hooks, which `autograd.grad` refuses."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def step_flops(step: Callable[[], None]) -> float:
    """Floating-point operations of one call."""
    with FlopCount() as counter:
        step()
    return float(counter.total)


def matmul_peak(device: torch.device, size: int = 8192, repeats: int = 10) -> Row:
    """The bf16 matrix-product rate this device reaches, the ceiling the training TFLOP/s compare with."""
    if device.type != "cuda":
        size = 2048
    a, b = (torch.randn(size, size, device=device, dtype=torch.bfloat16) for _ in range(2))
    seconds = interleaved_seconds({"matmul": lambda: a @ b}, device, budget_seconds=repeats * 0.01)
    return Row("peak", f"bf16 matmul {size}^3", "torch", 2 * size**3 / seconds["matmul"] / 1e12, "TFLOP/s")


def steps_per_call(variant: str) -> int:
    """Training steps in one timed call: a lazy variant's call is a whole cycle (the penalised step and the
    ones without), so that the median of the calls is the mean step's cost, not the cheap step's."""
    return LAZY_INTERVAL if f"gp_interval {LAZY_INTERVAL}" in variant else 1


def step_functions(
    variants: dict[str, Networks],
    real: torch.Tensor,
    labels: torch.Tensor,
    stage: int,
    config: TrainingConfig,
) -> dict[str, Callable[[], None]]:
    """One call of each variant's step. A variant's name says what it runs: bf16, channels-last inputs and
    networks, gp_interval 4 (a call of four steps, the penalty on the first; its weight does not change the
    cost)."""
    steps: dict[str, Callable[[], None]] = {
        "published": lambda: published_step(variants["published"], real, labels, 0.5, stage)
    }
    for name in VARIANTS[1:]:
        images = real.contiguous(memory_format=torch.channels_last) if "channels-last" in name else real
        steps[name] = partial(
            _variant_steps, variants[name], images, labels, stage, config, {}, steps_per_call(name)
        )
    return steps


def _variant_steps(
    networks: Networks,
    real: torch.Tensor,
    labels: torch.Tensor,
    stage: int,
    config: TrainingConfig,
    sums: dict[str, torch.Tensor],
    count: int,
) -> None:
    for step in range(count):
        our_step(networks, real, labels, 0.5, stage, config, sums, penalty=step == 0)
