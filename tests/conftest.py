"""Fixtures shared by every test; the helpers they use live in helpers.py (one importable module name)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import write_data_folder


@pytest.fixture(autouse=True)
def current_folder_of_its_own(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test runs in an empty current folder of its own, so that what a command keeps there (`pacgan
    train`'s .pacgan/last_run.json) neither lands in the checkout nor reaches another test."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    """A data root with train/ (40 images) and test/ (20 images), sizes 4..16."""
    write_data_folder(tmp_path / "data" / "train", 40, 16, seed=1)
    write_data_folder(tmp_path / "data" / "test", 20, 16, seed=2)
    return tmp_path / "data"
