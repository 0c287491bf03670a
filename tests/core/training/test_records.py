"""An epoch line scores the auxiliary head's logits as `classification_report` does."""

import torch

from pacgan_cli.core.metrics.classification import class_log_odds, classification_report, one_vs_rest_auc
from pacgan_cli.core.training.records import EpochTotals, epoch_record
from pacgan_cli.core.training.state import StagePlan, StageState


def test_an_epoch_line_scores_its_logits_as_the_report_does() -> None:
    generator = torch.Generator().manual_seed(1)
    labels = torch.arange(24) % 2
    logits = [torch.randn(8, 2, generator=generator) * 30 for _ in range(3)]  # confident, often saturated
    totals = EpochTotals.start(3, torch.device("cpu"))
    for index, batch in enumerate(logits):
        rows = labels[index * 8 : (index + 1) * 8]
        totals.add({"d_loss": torch.tensor(1.0)}, batch, batch.flip(1), rows, 1.0)
    record = epoch_record(StagePlan(0, 1, 1, 8, 1, 3), StageState.fresh(), totals, 1.0, 24)
    real = classification_report(labels.numpy(), torch.cat(logits).numpy())
    assert record["auc_real"] == real.auc_macro
    assert abs(real.auc_per_class[0] - real.auc_per_class[1]) < 1e-12
    fake = one_vs_rest_auc(labels.numpy(), class_log_odds(torch.cat(logits).flip(1).numpy()))[1]
    assert record["auc_fake"] == fake and abs(record["auc_real"] + record["auc_fake"] - 1) < 1e-12
