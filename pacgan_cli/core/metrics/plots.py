"""PNG figures for reports: image grids, ROC curves, confusion matrices, nearest-neighbour pairs.

Uses matplotlib's object API with the Agg canvas (no pyplot, no display, no global state); files are
written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pacgan_cli.core.io.atomic import atomic_path
from pacgan_cli.core.metrics.classification import ClassificationReport, roc_curves


def save_image_rows(
    path: str | os.PathLike[str],
    rows: Sequence[np.ndarray],
    row_titles: Sequence[str],
    *,
    cell_titles: Sequence[Sequence[str]] | None = None,
    title: str = "",
) -> Path:
    """One row of images per entry of `rows` (each `[n, C, H, W]` in [-1, 1]), with a title per row."""
    columns = max(1, max(len(row) for row in rows))
    figure = Figure(figsize=(1.3 * columns + 1.2, 1.4 * len(rows) + (0.4 if title else 0)))
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(rows), columns, squeeze=False)
    for r, row in enumerate(rows):
        for c in range(columns):
            axis = axes[r][c]
            axis.set_xticks([])
            axis.set_yticks([])
            if c < len(row):
                axis.imshow(_displayable(row[c]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
                if cell_titles is not None:
                    axis.set_title(cell_titles[r][c], fontsize=7)
            else:
                axis.axis("off")
        axes[r][0].set_ylabel(row_titles[r], fontsize=8)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return _save(figure, path)


def save_roc_curves(
    path: str | os.PathLike[str],
    curves: dict[int, tuple[np.ndarray, np.ndarray]],
    aucs: Sequence[float],
    title: str,
) -> Path:
    """One-vs-rest ROC curve per class with its AUC in the legend."""
    figure = Figure(figsize=(4.5, 4.5))
    FigureCanvasAgg(figure)
    axis = figure.subplots()
    for k, (fpr, tpr) in curves.items():
        axis.plot(fpr, tpr, label=f"class {k} (AUC {aucs[k]:.3f})")
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    axis.set_xlabel("false positive rate")
    axis.set_ylabel("true positive rate")
    axis.set_title(title, fontsize=10)
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    return _save(figure, path)


def save_confusion_matrix(
    path: str | os.PathLike[str], counts: np.ndarray, normalised: np.ndarray, title: str
) -> Path:
    """Confusion matrix coloured by the row-normalised fraction, each cell showing fraction and count."""
    figure = Figure(figsize=(4.2, 3.8))
    FigureCanvasAgg(figure)
    axis = figure.subplots()
    image = axis.imshow(np.nan_to_num(normalised), cmap="Blues", vmin=0, vmax=1)
    classes = len(counts)
    for i in range(classes):
        for j in range(classes):
            fraction = normalised[i, j]
            text = "-" if np.isnan(fraction) else f"{fraction:.2f}\n({counts[i, j]})"
            axis.text(
                j, i, text, ha="center", va="center", color="white" if fraction > 0.5 else "black", fontsize=8
            )
    axis.set_xticks(range(classes))
    axis.set_yticks(range(classes))
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    axis.set_title(title, fontsize=10)
    figure.colorbar(image, ax=axis, fraction=0.046)
    figure.tight_layout()
    return _save(figure, path)


def _displayable(image: np.ndarray) -> np.ndarray:
    """`[C, H, W]` in [-1, 1] -> `[H, W]` or `[H, W, 3]` in [0, 1] for imshow."""
    scaled = np.clip((np.asarray(image, dtype=np.float32) + 1) / 2, 0, 1)
    return scaled[0] if scaled.shape[0] == 1 else np.moveaxis(scaled, 0, -1)


def _save(figure: Figure, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, format="png")
    return path


def save_classification_figures(
    roc_path: str | os.PathLike[str],
    confusion_path: str | os.PathLike[str],
    report: ClassificationReport,
    labels: np.ndarray,
    probabilities: np.ndarray,
    subject: str,
) -> list[Path]:
    """The ROC curves and the confusion matrix that go with one classification report."""
    return [
        save_roc_curves(roc_path, roc_curves(labels, probabilities), report.auc_per_class, f"ROC, {subject}"),
        save_confusion_matrix(
            confusion_path, report.confusion, report.confusion_normalised, f"Confusion matrix, {subject}"
        ),
    ]
