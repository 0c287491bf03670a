import errno
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from pacgan_cli.core.errors import StorageError, UnsafeFileError
from pacgan_cli.core.io.atomic import append_text, atomic_path, json_ready, write_json_atomic


def test_undefined_numbers_become_null_and_numpy_scalars_plain_numbers() -> None:
    data = {"auc": float("nan"), 3: [np.float32(0.5), np.int64(7), (math.inf, -math.inf)], "name": "x"}
    assert json_ready(data) == {"auc": None, "3": [0.5, 7, [None, None]], "name": "x"}


def test_written_json_is_strict_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "metrics.json"
    write_json_atomic(target, {"values": [1.0, float("nan")], "score": np.float64(0.25)})
    text = target.read_text()
    assert "NaN" not in text and text.endswith("\n")
    assert json.loads(text) == {"values": [1.0, None], "score": 0.25}
    assert [p.name for p in target.parent.iterdir()] == ["metrics.json"]


def test_an_append_refuses_a_link_to_a_file_outside_the_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("theirs\n")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "train.log").symlink_to(outside)
    with pytest.raises(UnsafeFileError, match=r"train\.log is a symbolic link; .* remove the link"):
        append_text(tmp_path / "run" / "train.log", "ours\n")
    assert outside.read_text() == "theirs\n"


def test_an_append_refuses_a_dangling_link_instead_of_creating_its_target(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "created.txt"
    target.parent.mkdir()
    (tmp_path / "metrics.jsonl").symlink_to(target)
    with pytest.raises(UnsafeFileError, match=r"metrics\.jsonl is a symbolic link"):
        append_text(tmp_path / "metrics.jsonl", "{}\n")
    assert not target.exists()


def test_an_append_refuses_a_fifo_without_waiting_for_a_reader(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "train.log")
    with pytest.raises(UnsafeFileError, match=r"train\.log is not a plain file"):
        append_text(tmp_path / "train.log", "line\n")


def test_an_append_creates_the_file_as_the_umask_says_and_appends(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        append_text(tmp_path / "train.log", "first\n")
        append_text(tmp_path / "train.log", "second\n")
    finally:
        os.umask(previous)
    assert (tmp_path / "train.log").read_text() == "first\nsecond\n"
    assert (tmp_path / "train.log").stat().st_mode & 0o777 == 0o644


def test_an_atomic_write_replaces_a_link_instead_of_following_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text("theirs")
    (tmp_path / "run").mkdir()
    link = tmp_path / "run" / "summary.json"
    link.symlink_to(outside)
    write_json_atomic(link, {"ours": 1})
    assert outside.read_text() == "theirs"
    assert not link.is_symlink() and json.loads(link.read_text()) == {"ours": 1}


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (errno.ENOSPC, "the disk is full while writing {}; free space, then run the command again"),
        (
            errno.EFBIG,
            "{} reached the file-size limit (ulimit -f) while being written; raise the limit, then run the "
            "command again",
        ),
        (
            errno.EROFS,
            "cannot write {}: the disk is read-only; choose a folder on a writable disk, then run the "
            "command again",
        ),
        (
            errno.EACCES,
            "permission denied for {}; fix its permissions or choose another path, then run the command again",
        ),
    ],
)
def test_a_write_the_system_refuses_is_one_line_naming_the_file(
    tmp_path: Path, code: int, message: str
) -> None:
    target = tmp_path / "out.nii.gz"
    with pytest.raises(StorageError) as caught, atomic_path(target) as temporary:
        raise OSError(code, os.strerror(code), str(temporary))
    assert str(caught.value) == message.format(target)
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_folder_is_named_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    message = re.escape(f"cannot write {tmp_path / 'a.json'}: the disk is read-only")
    with pytest.raises(StorageError, match=message):
        write_json_atomic(tmp_path / "a.json", {})


def test_a_writer_that_hides_a_full_disk_behind_another_error_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "statvfs", lambda path: SimpleNamespace(f_bavail=0))
    full = r"^the disk is full while writing .*resume\.pt; free space"
    with pytest.raises(StorageError, match=full), atomic_path(tmp_path / "resume.pt"):
        raise RuntimeError(  # what torch.save to a path raises on a full disk
            "[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598"
        )


def test_other_failures_inside_a_write_are_left_as_they_are(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="unexpected pos"), atomic_path(tmp_path / "resume.pt"):
        raise RuntimeError("unexpected pos 704 vs 598")
    with pytest.raises(OSError) as caught, atomic_path(tmp_path / "x.csv"):
        raise FileNotFoundError(errno.ENOENT, "No such file", "input.csv")
    assert not isinstance(caught.value, StorageError)


def test_torch_save_past_the_file_size_limit_names_the_file(tmp_path: Path) -> None:
    """A real limit (ulimit -f): torch.save to a path raises a bare RuntimeError, the limit explains it."""
    target = tmp_path / "generator_last.pt"
    script = f"""
import resource, signal, torch
from pacgan_cli.core.errors import StorageError
from pacgan_cli.core.io.atomic import atomic_path
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing the process
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    with atomic_path({str(target)!r}) as temporary:
        torch.save({{"weights": torch.zeros(100_000)}}, temporary)
except StorageError as error:
    print(error)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout == (
        f"{target} reached the file-size limit (ulimit -f) while being written; raise the limit, then run the "
        "command again\n"
    ), done.stderr
    assert list(tmp_path.iterdir()) == []
