"""The image sets `evaluate` compares: read from a stage folder or a stack with its labels, and checked."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pacgan_cli.core.errors import InputError
from pacgan_cli.core.io.intensity import check_unit_range, read_unit_stack
from pacgan_cli.core.io.nifti import nifti_stem
from pacgan_cli.core.io.stage_folder import open_stage_folder
from pacgan_cli.core.io.tables import read_labels
from pacgan_cli.core.models.checkpoint import LoadedCheckpoint


@dataclass(frozen=True)
class ImageSet:
    """Images `[N, C, S, S]` in [-1, 1] with their class labels `[N]`, and where they came from."""

    images: np.ndarray
    labels: np.ndarray
    source: str

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])

    def counts(self, num_classes: int) -> list[int]:
        return [int(c) for c in np.bincount(self.labels, minlength=num_classes)]

    def subset(self, rows: np.ndarray, part: str) -> ImageSet:
        """The images at positions `rows`, named after `part` (e.g. a validation fold of a training folder)."""
        return ImageSet(self.images[rows], self.labels[rows], f"{self.source} ({part})")


def load_image_set(
    path: str | os.PathLike[str],
    labels: str | os.PathLike[str] | None = None,
    *,
    size: int | None = None,
    role: str = "real",
) -> ImageSet:
    """Read images and labels from a folder (`Real{S}x{S}.nii.gz` + `labels.csv`) or a stack file.

    A folder is read by the one stage-folder reader (`io.stage_folder`); `size` picks the file (default:
    the largest there). For a stack without `labels`, the
    labels file beside it is used: its own `<stem>_labels.csv` (what `pacgan generate` writes), else
    `labels_syn.csv` first for synthetic images, else `labels.csv`. Only images listed in the labels file
    are kept, in ID order. The images must be in [-1, 1] (`check_unit_range`).
    """
    path = Path(path)
    option = "--fake-labels" if role == "fake" else f"--{role}-labels"
    if path.is_dir():
        folder = open_stage_folder(path, labels, [size] if size is not None else None, require_subject=False)
        images, classes = folder.read(folder.largest_size)
        return ImageSet(images, classes, str(folder.stack_path(folder.largest_size)))
    if labels is not None:
        labels_path = Path(labels)
    else:
        shared = ("labels_syn.csv", "labels.csv") if role == "fake" else ("labels.csv", "labels_syn.csv")
        names = (f"{nifti_stem(path)}_labels.csv", *shared)
        found = [path.parent / name for name in names if (path.parent / name).is_file()]
        if not found:
            raise InputError(f"{path}: no {', '.join(names)} beside it; pass {option} LABELS.csv")
        labels_path = found[0]
    images = read_unit_stack(path, expected_size=size)
    table = read_labels(labels_path, image_count=len(images), require_subject=False)
    ids = table["ID"].to_numpy()
    return ImageSet(images=images[ids], labels=table["Label"].to_numpy(np.int64), source=str(path))


def check_sets(
    real: ImageSet, fake: ImageSet, train: ImageSet | None, discriminator: LoadedCheckpoint | None
) -> int:
    """Refuse empty, out-of-range or differently shaped sets, and synthetic images of a class the real set
    lacks (nothing to compare them with); the number of classes (at least 2)."""
    sets = [("real", real), ("fake", fake)] + ([("training", train)] if train is not None else [])
    for name, image_set in sets:
        if len(image_set.images) == 0:
            raise InputError(f"{image_set.source}: the {name} set holds no images")
        check_unit_range(image_set.images, image_set.source)
    for name, image_set in sets[1:]:
        if image_set.images.shape[1:] != real.images.shape[1:]:
            raise InputError(
                f"{image_set.source}: {name} images are {_shape_text(image_set)} but the real images are "
                f"{_shape_text(real)}; compare images of one size (e.g. Real{fake.size}x{fake.size}.nii.gz)"
            )
    num_classes = int(max(image_set.labels.max() for _, image_set in sets)) + 1
    real_counts, fake_counts = real.counts(num_classes), fake.counts(num_classes)
    for k in range(num_classes):
        if fake_counts[k] and not real_counts[k]:
            raise InputError(
                f"{fake.source}: {fake_counts[k]} synthetic image(s) of class {k}, but the real images "
                f"({real.source}) hold none of that class; compare with real images of every generated class"
            )
    if discriminator is not None:
        if num_classes > discriminator.architecture.num_classes:
            raise InputError(
                f"the labels go up to class {num_classes - 1} but {discriminator.path} knows "
                f"{discriminator.architecture.num_classes} classes"
            )
        num_classes = discriminator.architecture.num_classes
    return max(num_classes, 2)


def _shape_text(image_set: ImageSet) -> str:
    channels, height, width = image_set.images.shape[1:]
    return f"{height}x{width} with {channels} channel(s)"
