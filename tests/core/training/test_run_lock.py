"""The run folder's lock: one holder at a time however the processes race, the holder's pid in the refusal,
and nothing left to take over when a holder dies."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from helpers import tiny_config
from pacgan_cli.core.config import build_config
from pacgan_cli.core.errors import OutputExistsError, UnsafeFileError
from pacgan_cli.core.io.run_layout import RunLayout
from pacgan_cli.core.training.resume import ResumePoint
from pacgan_cli.core.training.run_folder import RunFolder
from pacgan_cli.core.training.run_lock import RunLock

PROCESSES = 8
ROUNDS = 20


def test_a_second_lock_is_refused_with_the_holders_pid_until_the_first_is_released(tmp_path: Path) -> None:
    first, second = RunLock(tmp_path / ".pacgan.lock"), RunLock(tmp_path / ".pacgan.lock")
    first.acquire()
    with pytest.raises(OutputExistsError) as refused:
        second.acquire()
    assert str(refused.value) == (
        f"{tmp_path}: another training process (pid {os.getpid()}) is using this run folder; wait for it "
        "to finish or stop it"
    )
    first.release()
    assert not (tmp_path / ".pacgan.lock").exists()
    second.acquire()
    assert json.loads((tmp_path / ".pacgan.lock").read_text())["pid"] == os.getpid()
    second.release()


def test_the_lock_file_of_a_killed_process_does_not_block(tmp_path: Path) -> None:
    script = (
        "import os, sys; from pathlib import Path; from pacgan_cli.core.training.run_lock import RunLock; "
        "RunLock(Path(sys.argv[1])).acquire(); os._exit(9)"  # ends without releasing, as a kill would
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path / ".pacgan.lock")], check=False, timeout=60)
    assert json.loads((tmp_path / ".pacgan.lock").read_text())["pid"] != os.getpid()
    lock = RunLock(tmp_path / ".pacgan.lock")
    lock.acquire()
    lock.release()


def test_a_link_in_place_of_the_lock_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".pacgan.lock").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UnsafeFileError, match="is a symbolic link"):
        RunLock(tmp_path / ".pacgan.lock").acquire()
    assert not (tmp_path / "elsewhere").exists()


def _race(folders: list[str], start: Barrier, held: multiprocessing.Queue) -> None:
    """Each round every process opens the round's run folder at once; the one that opened it keeps it until
    everyone has tried."""
    config = build_config(tiny_config(Path("data")))
    for folder in folders:
        start.wait()
        run = RunFolder(RunLayout(Path(folder), Path(folder)))
        try:
            run.open(config, resuming=True, force=False, point=ResumePoint(0))
        except OutputExistsError:
            pass
        else:
            held.put(folder)
        start.wait()
        run.close()


def test_processes_racing_for_one_run_folder_get_one_holder_each_round(tmp_path: Path) -> None:
    folders = [str(tmp_path / f"round{index}") for index in range(ROUNDS)]
    for folder in folders:
        Path(folder).mkdir()
        # The lock file of a killed run: taking over such a stale lock raced (two holders in 20 of 100 rounds).
        (Path(folder) / ".pacgan.lock").write_text(
            json.dumps({"pid": 999_999_999, "host": os.uname().nodename})
        )
    context = multiprocessing.get_context("fork")
    start, held = context.Barrier(PROCESSES, timeout=60), context.Queue()
    workers = [context.Process(target=_race, args=(folders, start, held)) for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES
    holders = [held.get(timeout=10) for _ in range(held.qsize())]
    assert sorted(holders) == sorted(folders)  # exactly one holder in every round
