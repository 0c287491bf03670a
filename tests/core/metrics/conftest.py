"""A full-size InceptionV3 weights file with random weights, made once per session (the real ones cannot
be downloaded in tests); it exercises the real loading path of `build_inception_extractor`."""

from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def random_inception_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from benchmarks.metrics import random_inception_state

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    torch.save(random_inception_state(), path)
    return path
