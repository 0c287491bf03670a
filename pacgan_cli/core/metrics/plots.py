"""PNG figures for reports: image grids, ROC curves, confusion matrices, nearest-neighbour pairs.

Uses matplotlib's object API with the Agg canvas (no pyplot, no display, no global state); files are
written atomically.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from pacgan_cli.core.classes import class_titles
from pacgan_cli.core.io.atomic import atomic_path
from pacgan_cli.core.metrics.artifacts import ArtifactReport
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
    return _save(image_rows_figure(rows, row_titles, cell_titles=cell_titles, title=title), path)


def image_rows_figure(
    rows: Sequence[np.ndarray],
    row_titles: Sequence[str],
    *,
    cell_titles: Sequence[Sequence[str]] | None = None,
    title: str = "",
) -> Figure:
    """The figure of `save_image_rows`. Constrained layout keeps every label beside the images, never on
    them: cell titles get their own band above each row, long row titles are wrapped."""
    columns = max(1, max(len(row) for row in rows))
    row_height = 1.3 + (0.3 if cell_titles is not None else 0.0)
    figure = Figure(
        figsize=(1.3 * columns + 1.4, row_height * len(rows) + (0.5 if title else 0.1)), layout="constrained"
    )
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
        axes[r][0].set_ylabel(textwrap.fill(row_titles[r], 14), fontsize=8)
    if title:
        figure.suptitle(title, fontsize=10)
    return figure


def save_artifact_maps(path: str | os.PathLike[str], report: ArtifactReport) -> Path:
    """Mean real image, mean synthetic image and how far the latter lies outside the real range, with the
    flagged pixels outlined in red (channels averaged for display)."""
    figure = Figure(figsize=(10, 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 3)
    panels = [
        (report.real_mean.mean(axis=0), f"mean real image ({report.real_count})", "gray", -1.0, 1.0),
        (report.synthetic_mean.mean(axis=0), "mean synthetic image", "gray", -1.0, 1.0),
        (report.excess.max(axis=0), "outside the real range by", "magma", 0.0, max(0.2, report.excess.max())),
    ]
    for axis, (image, title, colours, low, high) in zip(axes, panels, strict=True):
        shown = axis.imshow(image, cmap=colours, vmin=low, vmax=high, interpolation="nearest")
        axis.set_title(title, fontsize=9)
        axis.set_xticks([])
        axis.set_yticks([])
        for _, row, column in report.flagged:
            axis.add_patch(
                Rectangle((column - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=1.2)
            )
    figure.colorbar(shown, ax=axes[2], fraction=0.046)
    return _save(figure, path)


def save_roc_curves(
    path: str | os.PathLike[str],
    curves: dict[int, tuple[np.ndarray, np.ndarray]],
    aucs: Sequence[float],
    title: str,
    class_names: Sequence[str] = (),
) -> Path:
    """One-vs-rest ROC curve per class with its AUC in the legend (class names when given)."""
    titles = class_titles(class_names, len(aucs))
    figure = Figure(figsize=(4.5, 4.5))
    FigureCanvasAgg(figure)
    axis = figure.subplots()
    for k, (fpr, tpr) in curves.items():
        axis.plot(fpr, tpr, label=f"{titles[k]} (AUC {aucs[k]:.3f})")
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    axis.set_xlabel("false positive rate")
    axis.set_ylabel("true positive rate")
    axis.set_title(title, fontsize=10)
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    return _save(figure, path)


def save_confusion_matrix(
    path: str | os.PathLike[str],
    counts: np.ndarray,
    normalised: np.ndarray,
    title: str,
    class_names: Sequence[str] = (),
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
    titles = class_titles(class_names, classes)
    axis.set_xticks(range(classes), titles)
    axis.set_yticks(range(classes), titles)
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
    class_names: Sequence[str] = (),
) -> list[Path]:
    """The ROC curves and the confusion matrix that go with one classification report."""
    curves = roc_curves(labels, probabilities)
    return [
        save_roc_curves(roc_path, curves, report.auc_per_class, f"ROC, {subject}", class_names),
        save_confusion_matrix(
            confusion_path,
            report.confusion,
            report.confusion_normalised,
            f"Confusion matrix, {subject}",
            class_names,
        ),
    ]
