"""The end of a training run (published GENERATE): images from the final stage's best generator,
evaluated as `pacgan generate` + `pacgan evaluate` would."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pacgan_cli.core.config import TrainingConfig
from pacgan_cli.core.evaluation.evaluate import generate_and_evaluate
from pacgan_cli.core.evaluation.inputs import ImageSet, load_image_set
from pacgan_cli.core.io.run_layout import RunLayout
from pacgan_cli.core.progress import Reporter


def evaluate_run_end(
    config: TrainingConfig,
    layout: RunLayout,
    rows: tuple[np.ndarray, np.ndarray] | None,
    device: torch.device,
    reporter: Reporter,
) -> Path:
    """Generate `n_images_generated` images with the final stage's best generator and evaluate them; the
    images and the report go under the run's image directory. A validation run (`rows`: its training part
    and held-out fold) compares them with its held-out fold, never the test set, which belongs to test
    mode; the other modes compare them with the test set."""
    real: str | ImageSet = config.data_test_directory
    train: str | ImageSet = config.data_train_directory
    if rows is not None:
        every = load_image_set(
            config.data_train_directory, config.label_train_directory, size=config.max_size, role="train"
        )
        train, real = every.subset(rows[0], "training part"), every.subset(rows[1], "validation fold")
    reporter.message(f"generating {list(config.n_images_generated)} images and evaluating them")
    report = generate_and_evaluate(
        layout.checkpoint(config.max_size, "generator", "best"),
        config.n_images_generated,
        real,
        layout.image_directory,
        test_labels=config.label_test_directory,
        train_images=train,
        train_labels=config.label_train_directory,
        discriminator_path=layout.checkpoint(config.max_size, "discriminator", "best"),
        seed=config.seed,
        device=device,
        reporter=reporter,
        force=True,
    )
    return report.output_directory
