"""What a run records each epoch: the metrics line, per-class sample
grids and loss/AUC curves (matplotlib, no display needed)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from pacgan_cli.core.classes import class_titles
from pacgan_cli.core.io.atomic import atomic_path
from pacgan_cli.core.metrics.classification import one_vs_rest_auc
from pacgan_cli.core.training.distributed import Ranks
from pacgan_cli.core.training.networks import Networks

# The curves drawn for every stage: file name -> (title, {record key: legend label}).
CURVES = {
    "losses.png": ("losses", {"d_loss": "critic loss", "g_loss": "generator loss"}),
    "loss_terms.png": (
        "critic loss terms (unweighted)",
        {
            "d_real": "-E[D(x)]",
            "d_fake": "E[D(G(z))]",
            "cls_real": "CE real",
            "cls_fake": "CE fake",
            "gp": "gradient penalty",
        },
    ),
    "auc.png": (
        "auxiliary classifier ROC AUC",
        {
            "auc_real": "train real",
            "auc_fake": "train fake",
            "val_auc_real": "validation real",
            "val_auc_fake": "validation fake",
        },
    ),
}


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

    def combined(self, ranks: Ranks) -> EpochTotals:
        """Every rank's sums and logits so far, on every rank (these totals themselves in one process)."""
        if not ranks.active:
            return self
        sums = EpochTotals.start(self.batches, ranks.device).sums
        sums.update({name: ranks.sum(self.sums[name]) for name in sorted(self.sums)})
        gathered = (ranks.gather(part) for part in (self.real_logits, self.fake_logits, self.labels))
        return EpochTotals(sums, self.batches, *gathered)


def epoch_record(
    stage: int,
    size: int,
    epoch: int,
    epochs: int,
    alpha: float,
    totals: EpochTotals,
    seconds: float,
    images: int,
) -> dict[str, Any]:
    """One `metrics.jsonl` line: mean loss terms, training AUCs of the auxiliary head, speed."""
    labels = torch.cat(totals.labels).cpu().numpy()
    record: dict[str, Any] = {
        "event": "epoch",
        "stage": stage,
        "size": size,
        "epoch": epoch,
        "epochs": epochs,
    }
    record["alpha"] = alpha
    record.update({name: float(total) / totals.batches for name, total in totals.sums.items()})
    for kind, logits in (("real", totals.real_logits), ("fake", totals.fake_logits)):
        probabilities = torch.softmax(torch.cat(logits).float(), dim=1).cpu().numpy()
        record[f"auc_{kind}"] = one_vs_rest_auc(labels, probabilities)[1]
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


def save_sample_grid(
    images: np.ndarray, classes: int, path: Path, title: str = "", class_names: Sequence[str] = ()
) -> None:
    """One row per class: `images` [K * n, C, H, W] in [-1, 1], grouped by class, saved as a PNG;
    rows are labelled with the class names when given."""
    count, channels, height, _ = images.shape
    grid = sample_grid(images, classes)
    columns = count // classes
    figure, axes = plt.subplots(figsize=(max(4, columns * 1.2), max(2, classes * 1.3)))
    axes.imshow(
        grid.squeeze(-1) if channels == 1 else grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest"
    )
    axes.set_yticks(
        [(row + 0.5) * (height + 2) for row in range(classes)], class_titles(class_names, classes)
    )
    axes.set_xticks([])
    if title:
        axes.set_title(title)
    _save(figure, path)


def sample_grid(images: np.ndarray, classes: int) -> np.ndarray:
    """The pixels of a sample grid, one row per class with a 1-pixel white border around each image:
    `images` [K * n, C, H, W] in [-1, 1] -> [K * (H + 2), n * (W + 2), C] float32 in [0, 1]."""
    count, channels, height, width = images.shape
    columns = count // classes
    pixels = np.clip((images + 1) / 2, 0, 1).transpose(0, 2, 3, 1)
    grid = np.ones((classes * (height + 2), columns * (width + 2), channels), dtype=np.float32)
    for index in range(count):
        row, column = divmod(index, columns)
        top, left = row * (height + 2) + 1, column * (width + 2) + 1
        grid[top : top + height, left : left + width] = pixels[index]
    return grid


def save_curves(records: list[dict[str, Any]], folder: Path, best_epoch: int | None) -> None:
    """Every curve of `CURVES` into `folder`; the best epoch is marked if there is one."""
    for name, (title, keys) in CURVES.items():
        save_curve(records, folder / name, keys, title, best_epoch)


def save_curve(
    records: list[dict[str, Any]], path: Path, keys: dict[str, str], title: str, best_epoch: int | None
) -> None:
    """Plot the given per-epoch values (key -> legend label); mark the best epoch if there is one."""
    figure, axes = plt.subplots(figsize=(7, 4))
    epochs = [record["epoch"] for record in records]
    for key, label in keys.items():
        values = [record.get(key) for record in records]
        if any(value is not None for value in values):
            axes.plot(epochs, [np.nan if v is None else v for v in values], label=label)
    if best_epoch is not None:
        axes.axvline(best_epoch, color="grey", linestyle="--", label=f"best epoch {best_epoch}")
    axes.set_xlabel("epoch")
    axes.set_title(title)
    axes.legend(loc="best", fontsize="small")
    axes.grid(alpha=0.3)
    _save(figure, path)


def _save(figure: Any, path: Path) -> None:
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=100, bbox_inches="tight", format="png")
    plt.close(figure)
