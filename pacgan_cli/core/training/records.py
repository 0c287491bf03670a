"""What a run records each epoch: the metrics line and the sample images its grids show."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pacgan_cli.core.metrics.classification import class_log_odds, one_vs_rest_auc
from pacgan_cli.core.training.distributed import Ranks
from pacgan_cli.core.training.networks import Networks

if TYPE_CHECKING:
    from pacgan_cli.core.training.state import StagePlan, StageState


@dataclass(frozen=True)
class EpochTotals:
    """What the steps of one epoch summed up on the device: loss terms and the logits of every batch."""

    sums: dict[str, torch.Tensor]
    batches: int
    real_logits: list[torch.Tensor]
    fake_logits: list[torch.Tensor]
    labels: list[torch.Tensor]

    @classmethod
    def start(cls, batches: int, device: torch.device, names: Iterable[str] = ()) -> EpochTotals:
        """Nothing summed yet (zeros for `names`, and for any other term as it first comes)."""
        sums: dict[str, torch.Tensor] = defaultdict(lambda: torch.zeros((), device=device))
        sums.update({name: torch.zeros((), device=device) for name in names})
        return cls(sums, batches, [], [], [])

    def add(
        self,
        terms: dict[str, torch.Tensor],
        real_logits: torch.Tensor,
        fake_logits: torch.Tensor,
        labels: torch.Tensor,
        share: float,
    ) -> None:
        """One batch's loss terms (weighted by this process's share of the batch) and logits. The sums stay
        on the device: no host synchronisation inside the epoch."""
        for name, value in terms.items():
            self.sums[name] += value.detach() * share
        self.real_logits.append(real_logits.detach())
        self.fake_logits.append(fake_logits.detach())
        self.labels.append(labels)

    def combined(self, ranks: Ranks) -> EpochTotals:
        """Every rank's sums and logits so far, on every rank (these totals themselves in one process)."""
        if not ranks.active:
            return self
        sums = EpochTotals.start(self.batches, ranks.device).sums
        sums.update({name: ranks.sum(self.sums[name]) for name in sorted(self.sums)})
        gathered = (ranks.gather(part) for part in (self.real_logits, self.fake_logits, self.labels))
        return EpochTotals(sums, self.batches, *gathered)


def epoch_record(
    plan: StagePlan, state: StageState, totals: EpochTotals, seconds: float, images: int
) -> dict[str, Any]:
    """One `metrics.jsonl` line: mean loss terms, training AUCs of the auxiliary head, speed."""
    labels = torch.cat(totals.labels).cpu().numpy()
    record: dict[str, Any] = {
        "event": "epoch",
        "stage": plan.stage,
        "size": plan.size,
        "epoch": state.epoch,
        "epochs": plan.epochs,
        "alpha": state.alpha,
    }
    record.update({name: float(total) / totals.batches for name, total in totals.sums.items()})
    for kind, logits in (("real", totals.real_logits), ("fake", totals.fake_logits)):
        scores = class_log_odds(torch.cat(logits).float().cpu().numpy())
        record[f"auc_{kind}"] = one_vs_rest_auc(labels, scores)[1]
    record["seconds"] = seconds
    record["images_per_s"] = images / seconds if seconds > 0 else float("nan")
    return record


@torch.no_grad()
def sample_images(
    networks: Networks, z: torch.Tensor, labels: torch.Tensor, alpha: float, stage: int
) -> dict[str, np.ndarray]:
    """Images [n, C, S, S] from fixed latents, so epochs can be compared: `samples` from the generator and
    `samples_ema` from its moving average."""
    generators = {"samples": networks.generator}
    if networks.ema is not None:
        generators["samples_ema"] = networks.ema
    images = {}
    for name, generator in generators.items():
        was_training = generator.training
        generator.eval()
        images[name] = generator(z, labels, alpha, stage).float().cpu().numpy()
        generator.train(was_training)
    return images
