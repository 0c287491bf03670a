"""Per-epoch checks of the auxiliary head on held-out real images and on images generated for their labels."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from pacgan_cli.core.inference.classify import fixed_statistic_logits
from pacgan_cli.core.metrics.classification import (
    ClassificationReport,
    class_log_odds,
    classification_report,
    one_vs_rest_auc,
)
from pacgan_cli.core.models.discriminator import Discriminator
from pacgan_cli.core.models.generator import Generator
from pacgan_cli.core.training.data import batch_ranges


@torch.no_grad()
def validate_epoch(
    generator: Generator,
    discriminator: Discriminator,
    images: torch.Tensor,
    labels: torch.Tensor,
    alpha: float,
    stage: int,
    batch_size: int,
) -> dict[str, float]:
    """Critic score and CE/AUC of the auxiliary head on validation images and on fakes for their labels.

    AUCs are computed over the whole validation set at once (the published code averaged per-batch
    AUCs, which is undefined for single-class batches). Batches follow the training batch size, since
    the minibatch-stddev layer sees the batch as in training.
    """
    device = next(discriminator.parameters()).device
    scores, real_logits, fake_logits = [], [], []
    for start, end in batch_ranges(images.shape[0], batch_size):
        real = images[start:end].to(device)
        batch_labels = labels[start:end].to(device)
        real_scores, logits = discriminator(real, alpha, stage)
        z = torch.randn(real.shape[0], generator.latent_size, device=device)
        _, fake = discriminator(generator(z, batch_labels, alpha, stage), alpha, stage)
        scores.append(real_scores)
        real_logits.append(discriminator.class_logits(logits))
        fake_logits.append(discriminator.class_logits(fake))
    labels_on_device = labels.to(device)
    real_all, fake_all = torch.cat(real_logits), torch.cat(fake_logits)
    label_array = labels.numpy()
    return {
        "val_d_real": float(torch.cat(scores).mean()),
        "val_cls_real": float(F.cross_entropy(real_all, labels_on_device)),
        "val_cls_fake": float(F.cross_entropy(fake_all, labels_on_device)),
        "val_auc_real": one_vs_rest_auc(label_array, class_log_odds(real_all.cpu().numpy()))[1],
        "val_auc_fake": one_vs_rest_auc(label_array, class_log_odds(fake_all.cpu().numpy()))[1],
    }


def classify_with_statistic(
    discriminator: Discriminator,
    images: torch.Tensor,
    labels: torch.Tensor,
    alpha: float,
    stage: int,
    batch_statistic: float,
) -> tuple[ClassificationReport, np.ndarray]:
    """Report and class log-odds [N, K] (the scores its AUCs rank) of the auxiliary head with a fixed minibatch statistic,
    computed as `pacgan classify` computes them."""
    device = next(discriminator.parameters()).device
    logits = fixed_statistic_logits(
        discriminator, images, alpha, stage, batch_statistic, discriminator.num_classes, device=device
    )
    logits = logits.cpu().numpy()
    return classification_report(labels.numpy(), logits), class_log_odds(logits)
