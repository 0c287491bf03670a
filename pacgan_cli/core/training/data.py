"""Training data: a run's data folders checked before any work starts, its validation split and batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pacgan_cli.core.errors import InputError
from pacgan_cli.core.io.stage_folder import StageFolder, open_stage_folder
from pacgan_cli.core.stages import stage_size


def open_data_folder(
    folder: str | Path,
    labels_path: str | Path,
    stages: range,
    image_channels: int,
    num_classes: int,
) -> StageFolder:
    """Check every stack the stages will read (headers, then every pixel finite and in [-1, 1]) and the
    labels, so that bad data stops a run before anything is written."""
    if not Path(folder).is_dir():
        raise InputError(f"{folder}: data folder not found; set data_train_directory/data_test_directory")
    data = open_stage_folder(
        folder,
        labels_path,
        [stage_size(stage) for stage in stages],
        image_channels=image_channels,
        num_classes=num_classes,
    )
    data.check_pixels()
    return data


def load_stage(
    data: StageFolder, size: int, rows: np.ndarray | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images `[n, C, S, S]` float32 and labels `[n]` int64 of the selected label rows (all by default)."""
    images, labels = data.read(size, rows)
    return torch.from_numpy(images), torch.from_numpy(labels)


def batch_ranges(count: int, batch_size: int, processes: int = 1) -> list[tuple[int, int]]:
    """[start, end) ranges covering `count` items; a trailing batch smaller than 2 (or than the number of
    processes sharing each batch) joins the previous one.

    A batch of one image would make the minibatch standard deviation NaN (the published loader can
    produce one), and a distributed run needs an image per process; merging keeps every image.
    """
    ranges = [(start, min(start + batch_size, count)) for start in range(0, count, batch_size)]
    if len(ranges) > 1 and ranges[-1][1] - ranges[-1][0] < max(2, processes):
        ranges[-2:] = [(ranges[-2][0], count)]
    return ranges
