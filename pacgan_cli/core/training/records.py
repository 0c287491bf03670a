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

    def to_data(self) -> dict[str, Any]:
        """Plain data and CPU tensors, for a resume checkpoint loaded with `weights_only=True`."""
        return {
            # Copies: the sums grow in place while a background write may still read these.
            "sums": {name: value.detach().to("cpu", copy=True) for name, value in self.sums.items()},
            "batches": self.batches,
            "real_logits": [t.cpu() for t in self.real_logits],
            "fake_logits": [t.cpu() for t in self.fake_logits],
            "labels": [t.cpu() for t in self.labels],
        }

    @classmethod
    def merged(cls, entries: list[dict[str, Any]], device: torch.device) -> EpochTotals:
        """Saved totals (`to_data`, one or more, with the same terms) as one: the sums added in order, the
        logits one after another; a single entry comes back exactly as saved."""
        first, rest = entries[0], entries[1:]
        totals = cls.start(int(first["batches"]), device)
        totals.sums.update({name: value.to(device) for name, value in first["sums"].items()})
        for entry in rest:
            for name, value in entry["sums"].items():
                totals.sums[name] = totals.sums[name] + value.to(device)
        for name in ("real_logits", "fake_logits", "labels"):
            getattr(totals, name).extend(t.to(device) for entry in entries for t in entry[name])
        return totals

    @classmethod
    def resumed(
        cls, saved: list[dict[str, Any]] | dict[str, Any], ranks: Ranks, device: torch.device
    ) -> EpochTotals:
        """This rank's totals from a resume checkpoint, which holds every rank's own (rank by rank): each
        rank goes on from its own sums, so the resumed epoch adds up in the order of an uninterrupted one and
        its metrics line is the same to the last digit. With another number of processes (or a checkpoint
        written before, whose one entry holds every rank's sums combined) rank 0 takes them all and the
        others start from zero for the same terms."""
        entries = saved if isinstance(saved, list) else [saved]
        if len(entries) == ranks.world_size:
            return cls.merged(entries[ranks.rank : ranks.rank + 1], device)
        totals = cls.merged(entries, device)
        return totals if ranks.is_main else cls.start(totals.batches, device, totals.sums)

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
