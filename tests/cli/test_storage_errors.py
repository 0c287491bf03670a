"""A full disk, a file-size limit, a read-only disk and a missing permission are one line each, naming the
file and how to go on (for training: the command that resumes), with exit code 1 and no traceback."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from helpers import run_cli, tiny_config, write_config
from pacgan_cli.core.io.nifti import write_stack


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    """40 random 32x32 images: about 160 kB, compressed or not."""
    images = np.random.default_rng(0).uniform(0, 100, (40, 1, 32, 32)).astype(np.float32)
    return write_stack(tmp_path / "raw.nii.gz", images)


def test_a_write_past_the_file_size_limit_is_one_line(stack: Path, tmp_path: Path) -> None:
    output = tmp_path / "scaled.nii.gz"
    script = (
        "import resource, signal, sys; from pacgan_cli.cli.app import main; "
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "  # the write fails with EFBIG, not a killed process
        "resource.setrlimit(resource.RLIMIT_FSIZE, (16384, resource.getrlimit(resource.RLIMIT_FSIZE)[1])); "
        "sys.argv = ['pacgan', *sys.argv[1:]]; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "scale", str(stack), "-o", str(output)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 1
    assert done.stderr == (
        f"error: {output} reached the file-size limit (ulimit -f) while being written; raise the limit, then "
        "run the command again\n"
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["raw.nii.gz"]


def test_a_folder_without_write_permission_is_one_line(
    stack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
    else:  # root writes whatever the mode says: the system's refusal is simulated where the file is made

        def refused(*args: Any, **kwargs: Any) -> None:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(folder))

        monkeypatch.setattr(tempfile, "mkstemp", refused)
    try:
        code, _, err = run_cli(["scale", str(stack), "-o", str(folder / "scaled.nii.gz")], capsys)
    finally:
        folder.chmod(0o755)
    assert code == 1
    assert err == (
        f"error: permission denied for {folder / 'scaled.nii.gz'}; fix its permissions or choose another "
        "path, then run the command again\n"
    )
    assert list(folder.iterdir()) == []


def test_a_run_folder_on_a_read_only_disk_is_one_line(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "mounted" / "run"
    make_folder = Path.mkdir

    def read_only(path: Path, *args: Any, **kwargs: Any) -> None:
        if path == run:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        make_folder(path, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    config_path = write_config(tmp_path / "config.yaml", tiny_config(tiny_data))
    code, _, err = run_cli(["train", "-c", str(config_path), "-o", str(run), "--quiet"], capsys)
    assert code == 1
    assert err == (
        f"error: cannot write {run}: the disk is read-only; choose a folder on a writable disk, then run the "
        "command again\n"
    )


def test_a_full_disk_during_training_says_how_to_resume(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """torch.save to a path hides the full disk behind a RuntimeError; the free space tells."""
    run = tmp_path / "run"
    save, statvfs = torch.save, os.statvfs

    def full_in_second_stage(data: Any, path: Any, *args: Any, **kwargs: Any) -> None:
        if "PACGAN_8x8" in str(path):
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")
        save(data, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full_in_second_stage)
    monkeypatch.setattr(os, "statvfs", lambda path: SimpleNamespace(f_bavail=0))
    config_path = write_config(tmp_path / "config.yaml", tiny_config(tiny_data))
    code, _, err = run_cli(["train", "-c", str(config_path), "-o", str(run), "--quiet"], capsys)
    assert code == 1 and "Traceback" not in err and err.count("error:") == 1
    assert re.fullmatch(
        rf"error: the disk is full while writing {re.escape(str(run))}/PACGAN_8x8/\w+\.pt; free space, then "
        rf"resume with: pacgan train --resume --output {re.escape(str(run))}",
        err.splitlines()[-1],
    )
    monkeypatch.setattr(torch, "save", save)
    monkeypatch.setattr(os, "statvfs", statvfs)
    code, _, err = run_cli(["train", "--resume", "--output", str(run), "--quiet"], capsys)
    assert code == 0, err
    assert (run / "PACGAN_16x16" / "stage_complete.json").is_file()


def test_a_full_disk_in_the_first_stage_says_to_start_again(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", full)
    run = tmp_path / "run"
    config_path = write_config(tmp_path / "config.yaml", tiny_config(tiny_data))
    code, _, err = run_cli(["train", "-c", str(config_path), "-o", str(run), "--quiet"], capsys)
    assert code == 1 and "Traceback" not in err and err.count("error:") == 1
    assert re.fullmatch(
        rf"error: the disk is full while writing {re.escape(str(run))}/PACGAN_4x4/\w+\.pt; free space, then "
        r"run the same command again with --force",
        err.splitlines()[-1],
    )
