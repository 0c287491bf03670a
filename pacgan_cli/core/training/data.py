"""Training data: the per-stage stacks and labels of a data folder, checked before any work starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import StratifiedGroupKFold

from pacgan_cli.core.errors import InputError
from pacgan_cli.core.intensity import check_unit_range
from pacgan_cli.core.io.nifti import read_stack, read_stack_shape
from pacgan_cli.core.io.tables import read_labels
from pacgan_cli.core.stages import stage_file_name, stage_size


@dataclass(frozen=True)
class DataFolder:
    """A folder with `Real{S}x{S}.nii.gz` per stage and a labels table whose IDs index those stacks."""

    folder: Path
    labels: pd.DataFrame  # ID, Label, Subject_ID sorted by ID
    image_count: int

    def stack_path(self, size: int) -> Path:
        return self.folder / stage_file_name(size)

    def load(self, size: int, rows: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Images [n, C, S, S] float32 and labels [n] int64 for the selected label rows (all by default)."""
        table = self.labels if rows is None else self.labels.iloc[rows]
        images = read_stack(self.stack_path(size), expected_size=size)
        selected = images[table["ID"].to_numpy()]
        return torch.from_numpy(np.ascontiguousarray(selected)), torch.from_numpy(
            table["Label"].to_numpy(copy=True)
        )


def open_data_folder(
    folder: str | Path,
    labels_path: str | Path,
    stages: range,
    image_channels: int,
    num_classes: int,
) -> DataFolder:
    """Check every stack the stages will read (existence, size, channels, count, pixels finite and in
    [-1, 1]) and the labels, so that bad data stops a run before anything is written."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: data folder not found; set data_train_directory/data_test_directory")
    counts = set()
    for stage in stages:
        size = stage_size(stage)
        path = folder / stage_file_name(size)
        if not path.is_file():
            raise InputError(f"{path}: missing; the folder needs Real{{S}}x{{S}}.nii.gz for every stage size")
        shape = read_stack_shape(path)
        if shape[:2] != (size, size):
            raise InputError(f"{path}: expected {size}x{size} images; got {shape[0]}x{shape[1]}")
        if shape[2] != image_channels:
            raise InputError(
                f"{path}: images have {shape[2]} channel(s) but image_channels is {image_channels}; fix the config"
            )
        counts.add(shape[3])
    fix = (
        "scale the largest stack with `pacgan scale` and rebuild the smaller ones with `pacgan pyramid` "
        "(`pacgan split` does both)"
    )
    for stage in stages:  # pixel checks only once every header is known to be right
        path = folder / stage_file_name(stage_size(stage))
        check_unit_range(read_stack(path, expected_size=stage_size(stage)), path, fix)
    if len(counts) > 1:
        raise InputError(f"{folder}: the stage stacks hold different numbers of images ({sorted(counts)})")
    image_count = counts.pop()
    labels = read_labels(labels_path, image_count=image_count, num_classes=num_classes)
    return DataFolder(folder=folder, labels=labels, image_count=image_count)


def validation_split(labels: pd.DataFrame, folds: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Subject-grouped, label-stratified split: rows of the training part and of the held-out fold.

    As published: StratifiedGroupKFold(folds, shuffle=True, random_state=seed), the last fold held out.
    """
    subjects = labels["Subject_ID"].nunique()
    if subjects < folds:
        raise InputError(
            f"validation needs at least {folds} subjects to hold one fold out; the labels have {subjects}. "
            "Set validate: false or lower validation_folds"
        )
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    *_, (train_rows, validation_rows) = splitter.split(labels["ID"], labels["Label"], labels["Subject_ID"])
    if len(validation_rows) < 2:
        raise InputError("the validation fold holds fewer than 2 images; add subjects or set validate: false")
    return np.asarray(train_rows), np.asarray(validation_rows)


def batch_ranges(count: int, batch_size: int) -> list[tuple[int, int]]:
    """[start, end) ranges covering `count` items; a trailing single item joins the previous batch.

    A batch of one image would make the minibatch standard deviation NaN (the published loader can
    produce one); merging keeps every image and every batch at two or more.
    """
    ranges = [(start, min(start + batch_size, count)) for start in range(0, count, batch_size)]
    if len(ranges) > 1 and ranges[-1][1] - ranges[-1][0] < 2:
        ranges[-2:] = [(ranges[-2][0], count)]
    return ranges
