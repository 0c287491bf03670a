"""WGAN-GP losses with the auxiliary-classifier terms, as the published code computes them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


def gradient_penalty(
    discriminator: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    alpha: float,
    stage: int,
    mix: torch.Tensor,
    forward_precision: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext,
) -> torch.Tensor:
    """Mean over the batch of (||grad D(x_hat)||_2 - 1)^2 with x_hat = mix * real + (1 - mix) * fake.

    `mix` [B, 1, 1, 1] in [0, 1], one weight per image. The graph is kept so the penalty can be minimised.
    Only the critic's forward pass runs under `forward_precision`; the gradient's norm is taken in fp32.
    """
    mixed = (mix * real + (1 - mix) * fake.detach()).requires_grad_(True)
    with forward_precision():
        scores, _ = discriminator(mixed, alpha, stage)
    (gradient,) = torch.autograd.grad(scores.float().sum(), mixed, create_graph=True)
    return ((gradient.float().flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def critic_loss(
    real_scores: torch.Tensor,
    fake_scores: torch.Tensor,
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    labels: torch.Tensor,
    penalty: torch.Tensor,
    *,
    lambda_cls_real: float,
    lambda_cls_fake: float,
    lambda_gp: float,
    drift_weight: float,
    fake_labels: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """The critic's loss and its terms.

    loss = -(E[D(x)] - E[D(G(z,y))]) + l1 CE(aux(x), y) + l2 CE(aux(G(z,y)), y) + l_gp GP + drift E[D(x)^2].
    Following the published code, `lambda_cls_real` (LAMBDA_CLS_1) weighs the real images. `fake_labels`
    (default `labels`) are the classes the generated images are trained towards (adc: their fake classes).
    """
    terms = {
        "d_real": -real_scores.mean(),
        "d_fake": fake_scores.mean(),
        "cls_real": F.cross_entropy(real_logits, labels),
        "cls_fake": F.cross_entropy(fake_logits, labels if fake_labels is None else fake_labels),
        "gp": penalty,
        "drift": drift_weight * (real_scores**2).mean(),
    }
    terms["d_loss"] = (
        terms["d_real"]
        + terms["d_fake"]
        + lambda_cls_real * terms["cls_real"]
        + lambda_cls_fake * terms["cls_fake"]
        + lambda_gp * penalty
        + terms["drift"]
    )
    return terms


def generator_loss(
    fake_scores: torch.Tensor, fake_logits: torch.Tensor, labels: torch.Tensor, *, lambda_cls: float
) -> dict[str, torch.Tensor]:
    """loss = -E[D(G(z,y))] + l1 CE(aux(G(z,y)), y).

    The published code adds l2 CE(aux(x), y) on the real batch, which has no gradient with respect to G;
    it is left out (it only changed the logged value and cost a discriminator pass).
    """
    terms = {"g_adv": -fake_scores.mean(), "g_cls": F.cross_entropy(fake_logits, labels)}
    terms["g_loss"] = terms["g_adv"] + lambda_cls * terms["g_cls"]
    return terms
