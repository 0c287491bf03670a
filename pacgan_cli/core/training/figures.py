"""Pictures of a run: per-class sample grids and loss/AUC curves (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from pacgan_cli.core.io.atomic import atomic_path


def save_sample_grid(images: np.ndarray, classes: int, path: Path, title: str = "") -> None:
    """One row per class: `images` [K * n, C, H, W] in [-1, 1], grouped by class, saved as a PNG."""
    count, channels, height, width = images.shape
    columns = count // classes
    pixels = np.clip((images + 1) / 2, 0, 1).transpose(0, 2, 3, 1)
    grid = np.ones((classes * (height + 2), columns * (width + 2), channels), dtype=np.float32)
    for index in range(count):
        row, column = divmod(index, columns)
        top, left = row * (height + 2) + 1, column * (width + 2) + 1
        grid[top : top + height, left : left + width] = pixels[index]
    figure, axes = plt.subplots(figsize=(max(4, columns * 1.2), max(2, classes * 1.3)))
    axes.imshow(
        grid.squeeze(-1) if channels == 1 else grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest"
    )
    axes.set_yticks(
        [(row + 0.5) * (height + 2) for row in range(classes)], [f"class {k}" for k in range(classes)]
    )
    axes.set_xticks([])
    if title:
        axes.set_title(title)
    _save(figure, path)


def save_curves(
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
