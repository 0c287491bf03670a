"""The resume checkpoint is checked like a stage checkpoint: a SHA-256 over its contents and the size limit."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import torch

from helpers import run_cli, tiny_config, write_config
from pacgan_cli.core.errors import InputError
from pacgan_cli.core.io.limits import CHECKPOINT_BYTES_VARIABLE
from pacgan_cli.core.io.run_layout import RunLayout
from pacgan_cli.core.training.resume import load_progress
from pacgan_cli.core.training.run_folder import RunFolder

WEIGHTS = torch.arange(1000, dtype=torch.float32)


def saved_progress(tmp_path: Path) -> Path:
    folder = RunFolder(RunLayout(tmp_path, tmp_path))
    folder.save_progress({"format": 1, "stage": 2, "alpha": 0.625, "weights": WEIGHTS.clone()})
    return folder.layout.progress_path


def replace_once(path: Path, old: bytes, new: bytes) -> None:
    content = path.read_bytes()
    assert content.count(old) == 1
    path.write_bytes(content.replace(old, new))


def test_an_intact_resume_checkpoint_loads_as_written(tmp_path: Path) -> None:
    data = load_progress(saved_progress(tmp_path))
    assert data["alpha"] == 0.625 and data["stage"] == 2 and torch.equal(data["weights"], WEIGHTS)
    assert "sha256" not in data


def test_a_changed_tensor_byte_is_refused(tmp_path: Path) -> None:
    path = saved_progress(tmp_path)
    # torch.save stores tensor bytes uncompressed: change the weight 500.0 to 501.0 in place.
    replace_once(path, struct.pack("<f", 500.0), struct.pack("<f", 501.0))
    assert torch.load(path, weights_only=True)["weights"][500] == 501.0  # still a readable file
    with pytest.raises(
        InputError, match="resume checkpoint is damaged: its contents do not match the SHA-256"
    ):
        load_progress(path)


def test_a_changed_plain_value_is_refused(tmp_path: Path) -> None:
    path = saved_progress(tmp_path)
    replace_once(path, struct.pack(">d", 0.625), struct.pack(">d", 0.75))  # alpha in the pickle
    assert torch.load(path, weights_only=True)["alpha"] == 0.75
    with pytest.raises(InputError, match="delete it to resume from the last finished stage"):
        load_progress(path)


def test_a_resume_checkpoint_over_the_size_limit_is_refused_before_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = saved_progress(tmp_path)
    monkeypatch.setenv(CHECKPOINT_BYTES_VARIABLE, "1000")
    with pytest.raises(InputError, match=f"over the limit of 1000 bytes; .*{CHECKPOINT_BYTES_VARIABLE}="):
        load_progress(path)


def test_resuming_from_a_damaged_resume_checkpoint_is_one_line_and_touches_nothing(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    write_config(run / "config.yaml", tiny_config(tiny_data))
    path = saved_progress(run)
    replace_once(path, struct.pack("<f", 500.0), struct.pack("<f", -500.0))
    before = {file: file.read_bytes() for file in run.iterdir()}
    code, _, err = run_cli(["train", "--resume", "-o", str(run), "--quiet"], capsys)
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"error: {path}: the resume checkpoint is damaged")
    assert {file: file.read_bytes() for file in run.iterdir()} == before
