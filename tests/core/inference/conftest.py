"""Fixtures of the inference tests: a loaded three-class generator and eleven separable 16x16 images."""

from pathlib import Path

import numpy as np
import pytest

from helpers import make_separable_images, saved_checkpoint
from pacgan_cli.core.models.checkpoint import GENERATOR, load_checkpoint


@pytest.fixture
def generator(tmp_path: Path):
    return load_checkpoint(saved_checkpoint(tmp_path, GENERATOR, "G.pt"), expected_kind=GENERATOR)


@pytest.fixture
def images() -> np.ndarray:
    return make_separable_images(np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1]), 16, seed=4)
