"""The data folder layout: one `Real{S}x{S}.nii.gz` per stage size, all holding the same images, and a
`labels.csv` whose IDs index them. This is the one reader of that layout, for training and evaluation."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pacgan_cli.core.errors import InputError
from pacgan_cli.core.io.intensity import check_unit_range
from pacgan_cli.core.io.nifti import read_stack, read_stack_shape
from pacgan_cli.core.io.tables import read_labels
from pacgan_cli.core.stages import STAGE_FILE_PATTERN, stage_file_name

LABELS_NAME = "labels.csv"
UNSCALED_FIX = (
    "scale the largest stack with `pacgan scale` and rebuild the smaller ones with `pacgan pyramid` "
    "(`pacgan split` does both)"
)


@dataclass(frozen=True)
class StageFolder:
    """A data folder whose stacks at `sizes` and labels table have been checked to fit together."""

    folder: Path
    labels: pd.DataFrame  # ID, Label (Subject_ID when required), sorted by ID
    image_count: int  # images in each stack; the labels may list fewer
    sizes: tuple[int, ...]  # the stage sizes checked, smallest first

    @property
    def largest_size(self) -> int:
        return self.sizes[-1]

    def stack_path(self, size: int) -> Path:
        return self.folder / stage_file_name(size)

    def read(self, size: int, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Images `[n, C, S, S]` float32 in [-1, 1] and labels `[n]` int64 of the selected rows of the labels
        table (all by default), in ID order. The whole stack's pixels are checked, listed or not."""
        if size not in self.sizes:
            raise ValueError(f"{self.folder} was opened for sizes {list(self.sizes)}, not {size}")
        path = self.stack_path(size)
        images = read_stack(path, expected_size=size)
        check_unit_range(images, path, UNSCALED_FIX)
        table = self.labels if rows is None else self.labels.iloc[rows]
        selected = np.ascontiguousarray(images[table["ID"].to_numpy()])
        return selected, np.array(table["Label"], dtype=np.int64)

    def check_pixels(self) -> None:
        """Read every stack once, so that a long run with an unscaled stack stops before it starts."""
        for size in self.sizes:
            self.read(size)


def open_stage_folder(
    folder: str | os.PathLike[str],
    labels: str | os.PathLike[str] | None = None,
    sizes: Iterable[int] | None = None,
    *,
    image_channels: int | None = None,
    num_classes: int | None = None,
    require_subject: bool = True,
) -> StageFolder:
    """Check the stacks at `sizes` (default: the largest in the folder) from their headers (present, size,
    channels, the same image count) and the labels table (default `labels.csv` in the folder) against them.

    Pixels are checked when read (`StageFolder.read`, `check_pixels`), so opening costs no image data.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: data folder not found")
    chosen = sorted(set(sizes)) if sizes is not None else [_largest_size(folder)]
    counts = set()
    for size in chosen:
        path = folder / stage_file_name(size)
        if not path.is_file():
            raise InputError(
                f"{path}: missing; the folder needs Real{{S}}x{{S}}.nii.gz for every stage size it is read at "
                "(`pacgan pyramid` builds them from the largest)"
            )
        shape = read_stack_shape(path)
        if shape[:2] != (size, size):
            raise InputError(f"{path}: expected {size}x{size} images; got {shape[0]}x{shape[1]}")
        if image_channels is not None and shape[2] != image_channels:
            raise InputError(
                f"{path}: images have {shape[2]} channel(s) but image_channels is {image_channels}; fix the config"
            )
        counts.add(shape[3])
    if len(counts) > 1:
        raise InputError(f"{folder}: the stage stacks hold different numbers of images ({sorted(counts)})")
    image_count = counts.pop()
    labels_path = Path(labels) if labels is not None else folder / LABELS_NAME
    table = read_labels(
        labels_path, image_count=image_count, num_classes=num_classes, require_subject=require_subject
    )
    return StageFolder(folder=folder, labels=table, image_count=image_count, sizes=tuple(chosen))


def _largest_size(folder: Path) -> int:
    sizes = [int(match[1]) for p in folder.iterdir() if (match := STAGE_FILE_PATTERN.fullmatch(p.name))]
    if not sizes:
        raise InputError(f"{folder}: no Real{{S}}x{{S}}.nii.gz stacks in this folder")
    return max(sizes)
