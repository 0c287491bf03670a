"""What the quality studies under experiments/ share: small data sets built offline from installed packages,
the tiny network they train, and the scores they read from a finished run.

Each data set folder holds train/ and test/, each with Real{S}x{S}.nii.gz for every stage size and a
labels.csv (ID, Label, Subject_ID), so that a run reads it as it reads a user's data.
"""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FACTORS = {16: [1.0, 1.0, 1.0], 32: [1.0, 1.0, 1.0, 0.5]}  # stage widths of the tiny network, by final size
CLASSIFIER_NAMES = ("logistic_regression", "small_cnn")
DEMO_SUBJECTS = 150  # 75 per class; the mni data sets hold 25 per class for training, the rest held out


def tiny_training_settings(
    folder: Path, size: int, epochs: int, seed: int, device: str = "cpu"
) -> dict[str, Any]:
    """Config keys of a short test-mode run of the tiny network (32 base channels, latent 32, batch 16) on a
    data set folder; no validation, no image writing, the held-out fold scored at the end of each stage."""
    from pacgan_cli.demo import tiny_network_settings

    return {**tiny_network_settings(folder, epochs, seed, device), "factors": FACTORS[size]}


def versions() -> dict[str, Any]:
    """What the numbers depend on besides the settings."""
    import platform

    import sklearn
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "cpu_count": os.cpu_count(),
    }


def training_auc(run: Path, folder: Path, size: int) -> float:
    """The auxiliary head's AUC on the (un-augmented) training images, with the checkpoint's batch statistic."""
    import torch

    from pacgan_cli.core.models.checkpoint import load_checkpoint
    from pacgan_cli.core.training.validation import classify_with_statistic

    loaded = load_checkpoint(run / f"PACGAN_{size}x{size}" / "discriminator_last.pt")
    images, labels = (torch.tensor(array) for array in stage_arrays(folder / "train", size))
    stage = loaded.architecture.num_stages - 1
    report, _ = classify_with_statistic(
        loaded.model, images, labels, 1.0, stage, float(loaded.batch_statistic or 0)
    )
    return float(report.to_data()["auc_macro"])


def generate_images(
    run: Path, size: int, per_class: int, num_classes: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """`per_class` images of each class from the run's final generator (its moving average where the run kept
    one; latents drawn with 1000 + seed): `[N, C, S, S]` float32 in [-1, 1] and their labels `[N]`."""
    import torch

    from pacgan_cli.core.models.checkpoint import load_checkpoint

    stage = run / f"PACGAN_{size}x{size}"
    average = stage / "generator_last_ema.pt"
    loaded = load_checkpoint(average if average.is_file() else stage / "generator_last.pt")
    labels = torch.arange(num_classes).repeat_interleave(per_class)
    z = torch.randn(
        len(labels), loaded.architecture.latent_size, generator=torch.Generator().manual_seed(1000 + seed)
    )
    with torch.no_grad():
        images = loaded.model(z, labels, 1.0, loaded.architecture.num_stages - 1).numpy()
    return images, labels.numpy()


def classifier_scores(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    num_classes: int = 2,
) -> dict[str, Any]:
    """ROC AUC (macro, one vs rest) and accuracy of each of core/metrics/tstr.py's classifiers (seed 0)."""
    from pacgan_cli.core.metrics.tstr import CLASSIFIERS, score_classifier

    scores = {}
    for name, classifier in CLASSIFIERS.items():
        score = score_classifier(
            classifier, train_images, train_labels, test_images, test_labels, num_classes, seed=0
        )
        scores[name] = {"auc": score.auc_macro, "accuracy": score.accuracy}
    return scores


def stage_arrays(folder: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The images of one size of a train/ or test/ folder in ID order, `[N, C, S, S]`, and their labels."""
    from pacgan_cli.core.io.nifti import read_stack

    labels = pd.read_csv(folder / "labels.csv").sort_values("ID")
    images = read_stack(folder / f"Real{size}x{size}.nii.gz")[labels["ID"].to_numpy()]
    return images, labels["Label"].to_numpy()


def build_digits(folder: Path, digits: tuple[int, ...] = (3, 8), per_class: int = 30) -> None:
    """scikit-learn's 8x8 digits of the chosen `digits` (label = position in `digits`), upsampled to 16x16
    and scaled x/8 - 1 to [-1, 1]; `per_class` per class for training, every other one held out."""
    from sklearn.datasets import load_digits

    from pacgan_cli.core.cohort.pyramid import resize_stack

    loaded = load_digits()
    chosen = np.isin(loaded.target, digits)
    images = (loaded.images[chosen] / 8 - 1).astype(np.float32)[:, None]
    labels = np.array([digits.index(digit) for digit in loaded.target[chosen]])
    write_split(folder, resize_stack(images, 16), labels, per_class=per_class)


def build_mni(folder: Path, size: int = 32) -> None:
    """The demo's subjects (CN label 0, AD label 1), its axial slice through the ventricles at `size`;
    25 per class for training."""
    from pacgan_cli import demo
    from pacgan_cli.core.cohort.pyramid import resize_stack

    images, table = demo_subject_slices((demo.ventricle_slice_index(),))
    labels = (table["Group"] == "AD").astype(int).to_numpy()
    write_split(folder, resize_stack(images, size), labels, per_class=25)


def demo_subject_slices(indices: tuple[int, ...]) -> tuple[np.ndarray, pd.DataFrame]:
    """Axial slices at `indices` of the demo's cube (64 px) of each of its subjects (seed 0), scaled per slice
    as published: `[subjects * len(indices), 1, 64, 64]`, a subject's slices together, and the cohort table."""
    from pacgan_cli import demo
    from pacgan_cli.core.cohort.slices import SliceOptions, extract_slices
    from pacgan_cli.core.io.intensity import scale_to_unit_range
    from pacgan_cli.core.io.nifti import read_stack

    with tempfile.TemporaryDirectory() as scratch:
        volumes = Path(scratch) / "volumes"
        volumes.mkdir()
        table = demo.build_dataset(volumes, Path(scratch) / "cohort.csv", DEMO_SUBJECTS, seed=0)
        options = SliceOptions(cube_size=demo.CUBE_SIZE, indices=indices)
        stack = extract_slices(volumes, Path(scratch) / "slices.nii.gz", options=options).stack_path
        return scale_to_unit_range(read_stack(stack)), table


def write_split(folder: Path, images: np.ndarray, labels: np.ndarray, per_class: int) -> None:
    """train/ (`per_class` images per class, drawn with seed 0) and test/ (the rest), every stage size."""
    from pacgan_cli.core.cohort.pyramid import pyramid_sizes, resize_pyramid
    from pacgan_cli.core.io.nifti import write_stack

    rng = np.random.default_rng(0)
    train = np.sort(
        np.concatenate(
            [rng.choice(np.flatnonzero(labels == k), per_class, replace=False) for k in np.unique(labels)]
        )
    )
    parts = {"train": train, "test": np.setdiff1d(np.arange(len(labels)), train)}
    for part, rows in parts.items():
        target = folder / part
        target.mkdir(parents=True, exist_ok=True)
        selected = np.clip(images[rows], -1, 1)
        for size, stack in resize_pyramid(selected, pyramid_sizes(images.shape[-1])).items():
            write_stack(target / f"Real{size}x{size}.nii.gz", stack, force=True)
        pd.DataFrame(
            {"ID": np.arange(len(rows)), "Label": labels[rows], "Subject_ID": [f"img-{r:04d}" for r in rows]}
        ).to_csv(target / "labels.csv", index=False)


def summary(values: list[float]) -> str:
    """`mean (min-max)` over seeds, or the one value."""
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.fmean(values):.3f} ({min(values):.3f}-{max(values):.3f})"
