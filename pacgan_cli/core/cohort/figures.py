"""Age histograms per group, the picture a reader checks before trusting a matched cohort."""

from __future__ import annotations

import os

import numpy as np

from pacgan_cli.core.io.atomic import atomic_path


def save_age_histograms(path: str | os.PathLike[str], panels: dict[str, dict[str, np.ndarray]]) -> None:
    """One panel per entry (e.g. before/after, train/test), one translucent histogram per group in it.

    Bins are one year wide (wider when ages span more than 60 years) and shared by all panels, so the
    panels compare directly.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    every_age = np.concatenate([ages for groups in panels.values() for ages in groups.values()])
    low, high = np.floor(every_age.min()), np.ceil(every_age.max()) + 1
    width = max(1.0, np.ceil((high - low) / 60))
    bins = np.arange(low, high + width, width)
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), sharey=True, squeeze=False)
    for axis, (title, groups) in zip(axes[0], panels.items(), strict=True):
        for name, ages in groups.items():
            axis.hist(
                ages, bins=bins, alpha=0.5, label=f"{name} ({len(ages)} images, mean age {np.mean(ages):.1f})"
            )
        axis.set_title(title)
        axis.set_xlabel("age")
        axis.legend(fontsize="small")
    axes[0][0].set_ylabel("count")
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=100)
    plt.close(figure)
