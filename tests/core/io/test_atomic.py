import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from pacgan_cli.core.errors import UnsafeFileError
from pacgan_cli.core.io.atomic import append_text, json_ready, write_json_atomic


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
