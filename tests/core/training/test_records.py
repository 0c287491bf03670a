"""An epoch line scores the auxiliary head's logits as `classification_report` does."""

import torch

from pacgan_cli.core.metrics.classification import class_log_odds, classification_report, one_vs_rest_auc
from pacgan_cli.core.training.distributed import Ranks
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


def test_resumed_totals_are_each_ranks_own_and_rank_0_takes_all_when_the_processes_differ() -> None:
    """A resume checkpoint holds every rank's own sums, so each rank goes on adding to its own (the resumed
    epoch's line is then the uninterrupted one's to the last digit); with another number of processes, or
    a checkpoint of before with one combined entry, rank 0 takes them all and the others hold zeros."""
    cpu = torch.device("cpu")
    saved = []
    for rank in range(2):
        totals = EpochTotals.start(3, cpu)
        rows = torch.tensor([rank, 1 - rank])
        totals.add(
            {"d_loss": torch.tensor(0.1 + rank / 3)}, torch.ones(2, 2) * rank, torch.zeros(2, 2), rows, 0.5
        )
        saved.append(totals.to_data())
    for rank in range(2):
        own = EpochTotals.resumed(saved, Ranks(rank, 2, rank), cpu)
        assert torch.equal(own.sums["d_loss"], saved[rank]["sums"]["d_loss"])
        assert torch.equal(torch.cat(own.labels), saved[rank]["labels"][0])
    single = EpochTotals.resumed(saved, Ranks(), cpu)
    assert torch.equal(single.sums["d_loss"], saved[0]["sums"]["d_loss"] + saved[1]["sums"]["d_loss"])
    assert torch.equal(torch.cat(single.labels), torch.tensor([0, 1, 1, 0]))
    combined = EpochTotals.merged(saved, cpu).to_data()  # one entry, as written before
    assert torch.equal(
        EpochTotals.resumed(combined, Ranks(0, 2, 0), cpu).sums["d_loss"], single.sums["d_loss"]
    )
    others = EpochTotals.resumed(combined, Ranks(1, 2, 1), cpu)
    assert others.sums["d_loss"] == 0 and others.batches == 3 and others.labels == []
