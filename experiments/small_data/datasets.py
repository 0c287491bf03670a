"""The small-data study's four data sets, each built offline from installed packages with fixed seeds.

- digits2: scikit-learn's digits 3 (label 0) and 8 (label 1) at 16x16, 30 per class for training.
- digits10: all ten digits (label = digit) at 16x16, 30 per class for training.
- mni-demo: the demo's subjects (CN 0, AD 1), its axial slice through the ventricles at 16x16 (the
  augmentation study's 32x32 run took over 3 minutes on one shared thread), 25 per class.
- mni-demo-32: mni-demo at the demo's 32x32, to confirm a recipe chosen at 16x16 (about 4x the steps' cost).
- mni-heights: the same subjects, one axial slice each at 16x16: label 0 through the ventricles, label 1
  `HEIGHT_STEP_SLICES` slices (4 mm each) lower; each height holds CN and AD subjects alike (the height
  alternates every two subjects, the group every subject), 25 per class for training.
Every image not drawn for training is held out for testing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from experiments.harness import build_digits, build_mni, demo_subject_slices, write_split

HEIGHT_STEP_SLICES = 3  # 12 mm below the ventricle slice: the basal ganglia and thalami
STEP_BUDGET_IMAGES = 60  # --epochs counts passes over a set of this many training images (digits2's)


@dataclass(frozen=True)
class SmallDataSet:
    """A data set's final image size, classes, training images per class, and the function that writes it."""

    size: int
    num_classes: int
    per_class: int
    build: Callable[[Path], None]

    def stage_epochs(self, epochs: int) -> int:
        """Epochs per stage that show as many images as `epochs` over `STEP_BUDGET_IMAGES` training images,
        so that every data set's run takes about the same number of steps per stage (digits10: a fifth)."""
        return max(1, round(epochs * STEP_BUDGET_IMAGES / (self.num_classes * self.per_class)))


def build_mni_heights(folder: Path) -> None:
    """One slice per demo subject, at the ventricles (label 0) or lower (label 1), at 16x16."""
    from pacgan_cli import demo
    from pacgan_cli.core.cohort.pyramid import resize_stack

    upper = demo.ventricle_slice_index()
    images, table = demo_subject_slices((upper, upper - HEIGHT_STEP_SLICES))
    labels = (np.arange(len(table)) // 2) % 2
    chosen = images.reshape(len(table), 2, *images.shape[1:])[np.arange(len(table)), labels]
    write_split(folder, resize_stack(chosen, 16), labels, per_class=25)


DATASETS: dict[str, SmallDataSet] = {
    "digits2": SmallDataSet(16, 2, 30, partial(build_digits, digits=(3, 8))),
    "digits10": SmallDataSet(16, 10, 30, partial(build_digits, digits=tuple(range(10)))),
    "mni-demo": SmallDataSet(16, 2, 25, partial(build_mni, size=16)),
    "mni-heights": SmallDataSet(16, 2, 25, build_mni_heights),
    "mni-demo-32": SmallDataSet(32, 2, 25, partial(build_mni, size=32)),
}
