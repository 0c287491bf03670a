"""Fixtures shared by every test; the helpers they use live in helpers.py (one importable module name)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import write_data_folder


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    """A data root with train/ (40 images) and test/ (20 images), sizes 4..16."""
    write_data_folder(tmp_path / "data" / "train", 40, 16, seed=1)
    write_data_folder(tmp_path / "data" / "test", 20, 16, seed=2)
    return tmp_path / "data"
