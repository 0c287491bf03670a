"""Every PNG figure pacgan draws: training's sample grids and curves, evaluation's image rows, ROC curves,
confusion matrices, reliability diagrams and artifact maps, cohort age histograms.

One style: matplotlib's object API on the Agg canvas (no pyplot, no display, no global state), constrained
layout, one save helper that writes atomically. Every text that comes from a caller (class names, group
names, titles) goes through `plain_text`, so a `$` in a name is shown, not parsed as mathtext.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from pacgan_cli.core.classes import class_titles
from pacgan_cli.core.io.atomic import atomic_path
from pacgan_cli.core.metrics.artifacts import ArtifactReport
from pacgan_cli.core.metrics.calibration import CalibrationReport
from pacgan_cli.core.metrics.classification import ClassificationReport, roc_curves

# The curves drawn for every training stage: file name -> (title, {record key: legend label}).
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
    figure = _figure((1.3 * columns + 1.4, row_height * len(rows) + (0.5 if title else 0.1)))
    axes = figure.subplots(len(rows), columns, squeeze=False)
    for r, row in enumerate(rows):
        for c in range(columns):
            axis = axes[r][c]
            axis.set_xticks([])
            axis.set_yticks([])
            if c < len(row):
                axis.imshow(_displayable(row[c]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
                if cell_titles is not None:
                    axis.set_title(plain_text(cell_titles[r][c]), fontsize=7)
            else:
                axis.axis("off")
        axes[r][0].set_ylabel(plain_text(textwrap.fill(row_titles[r], 14)), fontsize=8)
    if title:
        figure.suptitle(plain_text(title), fontsize=10)
    return figure


def save_artifact_maps(path: str | os.PathLike[str], report: ArtifactReport) -> Path:
    """Mean real image, mean synthetic image and how far the latter lies outside the real range, with the
    flagged pixels outlined in red (channels averaged for display)."""
    figure = _figure((10, 3.6))
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
    titles = _plain_class_titles(class_names, len(aucs))
    figure = _figure((4.5, 4.5))
    axis = figure.subplots()
    for k, (fpr, tpr) in curves.items():
        axis.plot(fpr, tpr, label=f"{titles[k]} (AUC {aucs[k]:.3f})")
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    axis.set_xlabel("false positive rate")
    axis.set_ylabel("true positive rate")
    axis.set_title(plain_text(title), fontsize=10)
    axis.legend(loc="lower right", fontsize=8)
    return _save(figure, path)


def save_confusion_matrix(
    path: str | os.PathLike[str],
    counts: np.ndarray,
    normalised: np.ndarray,
    title: str,
    class_names: Sequence[str] = (),
) -> Path:
    """Confusion matrix coloured by the row-normalised fraction, each cell showing fraction and count."""
    figure = _figure((4.2, 3.8))
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
    titles = _plain_class_titles(class_names, classes)
    axis.set_xticks(range(classes), titles)
    axis.set_yticks(range(classes), titles)
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    axis.set_title(plain_text(title), fontsize=10)
    figure.colorbar(image, ax=axis, fraction=0.046)
    return _save(figure, path)


def save_classification_figures(
    roc_path: str | os.PathLike[str],
    confusion_path: str | os.PathLike[str],
    report: ClassificationReport,
    labels: np.ndarray,
    scores: np.ndarray,
    subject: str,
    class_names: Sequence[str] = (),
) -> list[Path]:
    """The ROC curves (of `scores` [N, K]: class probabilities, or the class log-odds the AUCs use) and
    the confusion matrix that go with one classification report."""
    curves = roc_curves(labels, scores)
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


def save_reliability_diagrams(
    path: str | os.PathLike[str], panels: dict[str, CalibrationReport], title: str = ""
) -> Path:
    """One reliability diagram per entry (e.g. real and synthetic images): for each bin of the top-class
    probability, the accuracy as a bar against the diagonal of perfect calibration with the bin's image
    count at its foot, the ECE in the panel title."""
    figure = _figure((4.2 * len(panels), 4.2))
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for axis, (name, report) in zip(axes, panels.items(), strict=True):
        bins = report.bins
        width = np.diff(bins.edges)
        filled = bins.counts > 0
        axis.bar(
            bins.edges[:-1][filled],
            bins.accuracy[filled],
            width=width[filled],
            align="edge",
            edgecolor="black",
            linewidth=0.6,
            label="accuracy in the bin",
        )
        axis.plot(
            bins.confidence[filled],
            bins.confidence[filled],
            "o",
            color="tab:red",
            markersize=4,
            label="mean top-class probability",
        )
        for left, step, accuracy, count in zip(
            bins.edges[:-1][filled], width[filled], bins.accuracy[filled], bins.counts[filled], strict=True
        ):
            colour = "white" if accuracy > 0.06 else "black"  # inside the bar, or above an empty one
            axis.text(left + step / 2, 0.02, str(count), ha="center", fontsize=7, color=colour)
        axis.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
        axis.set_xlim(0, 1)
        axis.set_ylim(0, 1.08)
        axis.set_xlabel("top-class probability")
        axis.set_ylabel("accuracy")
        axis.set_title(plain_text(f"{name} (ECE {report.ece:.3f}, n={report.images})"), fontsize=10)
        axis.legend(loc="upper left", fontsize=7)
    if title:
        figure.suptitle(plain_text(title), fontsize=10)
    return _save(figure, path)


def save_sample_grid(
    images: np.ndarray,
    classes: int,
    path: str | os.PathLike[str],
    title: str = "",
    class_names: Sequence[str] = (),
) -> Path:
    """One row per class: `images` [K * n, C, H, W] in [-1, 1], grouped by class, saved as a PNG;
    rows are labelled with the class names when given."""
    count, channels, height, _ = images.shape
    grid = sample_grid_pixels(images, classes)
    columns = count // classes
    figure = _figure((max(4, columns * 1.2), max(2, classes * 1.3)))
    axis = figure.subplots()
    axis.imshow(
        grid.squeeze(-1) if channels == 1 else grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest"
    )
    axis.set_yticks(
        [(row + 0.5) * (height + 2) for row in range(classes)], _plain_class_titles(class_names, classes)
    )
    axis.set_xticks([])
    if title:
        axis.set_title(plain_text(title))
    return _save(figure, path)


def sample_grid_pixels(images: np.ndarray, classes: int) -> np.ndarray:
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
) -> Path:
    """Plot the given per-epoch values (key -> legend label); mark the best epoch if there is one."""
    figure = _figure((7, 4))
    axis = figure.subplots()
    epochs = [record["epoch"] for record in records]
    for key, label in keys.items():
        values = [record.get(key) for record in records]
        if any(value is not None for value in values):
            axis.plot(epochs, [np.nan if v is None else v for v in values], label=plain_text(label))
    if best_epoch is not None:
        axis.axvline(best_epoch, color="grey", linestyle="--", label=f"best epoch {best_epoch}")
    axis.set_xlabel("epoch")
    axis.set_title(plain_text(title))
    axis.legend(loc="best", fontsize="small")
    axis.grid(alpha=0.3)
    return _save(figure, path)


def save_age_histograms(path: str | os.PathLike[str], panels: dict[str, dict[str, np.ndarray]]) -> Path:
    """One panel per entry (e.g. before/after, train/test), one translucent histogram per group in it.

    Bins are one year wide (wider when ages span more than 60 years) and shared by all panels, so the
    panels compare directly.
    """
    every_age = np.concatenate([ages for groups in panels.values() for ages in groups.values()])
    low, high = np.floor(every_age.min()), np.ceil(every_age.max()) + 1
    width = max(1.0, np.ceil((high - low) / 60))
    bins = np.arange(low, high + width, width)
    figure = _figure((5 * len(panels), 3.5))
    axes = figure.subplots(1, len(panels), sharey=True, squeeze=False)
    for axis, (title, groups) in zip(axes[0], panels.items(), strict=True):
        for name, ages in groups.items():
            label = f"{name} ({len(ages)} images, mean age {np.mean(ages):.1f})"
            axis.hist(ages, bins=bins, alpha=0.5, label=plain_text(label))
        axis.set_title(plain_text(title))
        axis.set_xlabel("age")
        axis.legend(fontsize="small")
    axes[0][0].set_ylabel("count")
    return _save(figure, path)


def plain_text(text: str) -> str:
    """`text` as matplotlib shows it, character for character. An even number of `$` makes matplotlib
    parse the text as mathtext (`$\\frac{1}{0}$` is a parse error, `$x$` turns italic), so each `$` is
    escaped; matplotlib turns `\\$` back into `$` and leaves every other backslash as it is."""
    return str(text).replace("$", r"\$")


def _plain_class_titles(names: Sequence[str], num_classes: int) -> list[str]:
    return [plain_text(title) for title in class_titles(names, num_classes)]


def _displayable(image: np.ndarray) -> np.ndarray:
    """`[C, H, W]` in [-1, 1] -> `[H, W]` or `[H, W, 3]` in [0, 1] for imshow."""
    scaled = np.clip((np.asarray(image, dtype=np.float32) + 1) / 2, 0, 1)
    return scaled[0] if scaled.shape[0] == 1 else np.moveaxis(scaled, 0, -1)


def _figure(size: tuple[float, float]) -> Figure:
    """A figure on the Agg canvas whose layout keeps every label inside it."""
    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, format="png")
    return path
