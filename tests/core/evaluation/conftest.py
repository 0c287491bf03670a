"""Fixtures of the evaluation tests: pooled pixels for InceptionV3's features, or no weights at all."""

from pathlib import Path

import pytest

from helpers import use_pooled_pixel_features
from pacgan_cli.core.metrics import fidelity


@pytest.fixture
def small_extractor(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_pooled_pixel_features(monkeypatch, tmp_path)


@pytest.fixture
def no_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fidelity, "find_inception_weights", lambda explicit=None: None)
