"""Training's scores of the auxiliary head (epoch lines, test stage) are computed as `pacgan classify`
computes them: the same logits, the same probabilities, the same AUCs."""

import numpy as np
import torch

from pacgan_cli.core.inference.classify import classify_images
from pacgan_cli.core.metrics.classification import class_log_odds, classification_report
from pacgan_cli.core.models.architecture import DISCRIMINATOR, NetworkArchitecture
from pacgan_cli.core.models.checkpoint import load_checkpoint, save_checkpoint
from pacgan_cli.core.training.validation import classify_with_statistic

ARCHITECTURE = NetworkArchitecture(8, (1.0, 1.0, 1.0), 1, 2, 6, 2)


def test_the_test_stage_and_classify_give_the_same_report(tmp_path) -> None:
    torch.manual_seed(0)
    discriminator = ARCHITECTURE.build(DISCRIMINATOR)
    path = save_checkpoint(
        tmp_path / "D.pt", discriminator, ARCHITECTURE, epoch=1, stage=2, alpha=1.0, batch_statistic=0.3
    )
    images = torch.rand(30, 1, 16, 16) * 2 - 1
    labels = torch.arange(30) % 2
    report, log_odds = classify_with_statistic(discriminator, images, labels, 1.0, 2, 0.3)
    # The same batches and statistic; classify runs a channels-last copy of the network, whose float32
    # convolutions may round differently in the last bits (which kernels oneDNN picks depends on the CPU).
    result = classify_images(load_checkpoint(path), images.numpy())
    other = classification_report(labels.numpy(), result.logits)
    np.testing.assert_allclose(report.auc_per_class, other.auc_per_class, rtol=0, atol=1e-12)
    assert abs(report.auc_per_class[0] - report.auc_per_class[1]) < 1e-12
    assert abs(report.cross_entropy - other.cross_entropy) < 1e-6 and report.accuracy == other.accuracy
    np.testing.assert_allclose(log_odds, class_log_odds(result.logits), rtol=0, atol=1e-5)
