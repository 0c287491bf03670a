"""Distributed training on CPU with gloo: two processes compute what one process computes on the whole batch."""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from helpers import TINY_NETWORK, epochs, train_as_rank, write_config, write_data_folder
from pacgan_cli.core.config import build_config
from pacgan_cli.core.training.data import batch_ranges
from pacgan_cli.core.training.distributed import Ranks, Shard
from pacgan_cli.core.training.loop import train

EPOCHS = 2


def config_for(data: Path, **changes: object) -> dict[str, object]:
    config: dict[str, object] = {
        "data_train_directory": str(data),
        "label_train_directory": str(data / "labels.csv"),
        "data_test_directory": str(data),
        "label_test_directory": str(data / "labels.csv"),
        **TINY_NETWORK,
        "factors": [1, 1],
        "batch_sizes": 7,  # 20 images: batches of 7, 7 and 6, split 4+3 / 3+3 over two processes
        "progressive_epochs": EPOCHS,
        "validate": False,
        "generate": False,
        "samples_per_class": 1,
        "device": "cpu",
        "checkpoint_every_minutes": 1000,
    }
    config.update(changes)
    return config


def epoch_lines(run: Path) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [line for line in lines if line["event"] == "epoch"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same tiny run in two processes and in one."""
    root = tmp_path_factory.mktemp("distributed")
    data = write_data_folder(root / "data", count=20, max_size=8)
    config = config_for(data)
    mp.spawn(
        train_as_rank,
        args=(2, str(root / "store"), config, str(root / "two" / "run")),
        nprocs=2,
        join=True,
    )
    single = train(build_config(config), output=root / "one" / "run")
    (root / "one" / "digest-0.txt").write_text(str(single.weights_digest))
    return {"two": root / "two", "one": root / "one"}


def test_two_processes_write_one_run_folder_with_one_line_per_epoch(runs: dict[str, Path]) -> None:
    folder = runs["two"]
    assert sorted(path.name for path in folder.iterdir()) == ["digest-0.txt", "digest-1.txt", "run"]
    lines = epoch_lines(folder / "run")
    assert [(line["size"], line["epoch"]) for line in lines] == [(4, 1), (4, 2), (8, 1), (8, 2)]
    assert (folder / "run" / "PACGAN_8x8" / "generator_last.pt").is_file()
    assert (folder / "run" / "summary.json").is_file()


def test_both_ranks_end_with_identical_weights(runs: dict[str, Path]) -> None:
    first, second = ((runs["two"] / f"digest-{rank}.txt").read_text() for rank in (0, 1))
    assert len(first) == 64 and first == second


def test_two_processes_reach_the_losses_of_one_on_the_global_batch(runs: dict[str, Path]) -> None:
    two, one = epoch_lines(runs["two"] / "run"), epoch_lines(runs["one"] / "run")
    for name in (
        "d_loss",
        "g_loss",
        "d_real",
        "d_fake",
        "gp",
        "cls_real",
        "cls_fake",
        "auc_real",
        "auc_fake",
    ):
        assert two[0][name] == pytest.approx(one[0][name], rel=1e-4, abs=1e-5), name
    # Later epochs drift only by float rounding of the summed gradients.
    assert two[-1]["d_loss"] == pytest.approx(one[-1]["d_loss"], rel=1e-2, abs=1e-3)


def spawn_two(root: Path, config: dict[str, object], name: str, **options: object) -> Path:
    store = root / f"store-{name}-{len(list(root.iterdir()))}"
    keywords = {"resume": False, "stop_after": None, **options}
    mp.spawn(
        train_as_rank,
        args=(2, str(store), config, str(root / name / "run"), keywords["resume"], keywords["stop_after"]),
        nprocs=2,
        join=True,
    )
    return root / name


def without_clock(lines: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{k: v for k, v in line.items() if k not in ("time", "seconds", "images_per_s")} for line in lines]


def test_a_stop_on_one_rank_stops_both_with_a_checkpoint_and_resume_is_bit_identical(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    config = config_for(runs["two"].parent / "data")
    stopped = spawn_two(tmp_path, config, "stopped", stop_after=1)  # mid-epoch: after batch 2 of 3
    errors = sorted(path.read_text() for path in stopped.glob("error-*.txt"))
    assert len(errors) == 2 and all("TrainingInterrupted" in error for error in errors)
    assert (stopped / "run" / "resume.pt").is_file()
    assert not list(stopped.glob("digest-*.txt"))

    spawn_two(tmp_path, config, "stopped", resume=True)
    digests = {(stopped / f"digest-{rank}.txt").read_text() for rank in (0, 1)}
    assert digests == {(runs["two"] / "digest-0.txt").read_text()}
    assert without_clock(epoch_lines(stopped / "run")) == without_clock(epoch_lines(runs["two"] / "run"))


def test_a_run_folder_refused_on_rank_0_stops_every_rank(runs: dict[str, Path], tmp_path: Path) -> None:
    config = config_for(runs["two"].parent / "data")
    (tmp_path / "taken" / "run").mkdir(parents=True)
    (tmp_path / "taken" / "run" / "metrics.jsonl").write_text("")
    spawn_two(tmp_path, config, "taken")
    first, second = ((tmp_path / "taken" / f"error-{rank}.txt").read_text() for rank in (0, 1))
    assert "already holds a training run" in first
    assert "another training process stopped" in second


def test_a_failed_write_on_rank_0_alone_stops_every_process_within_seconds_with_its_cause_printed_once(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    """Issue 18 item 9: two `pacgan train` processes with torchrun's variables (each joins the group itself,
    as under torchrun); rank 0's files may not exceed 4 KiB, so its first sample grid fails to be written
    while rank 1 trains on. Rank 0 used to wait in leave()'s barrier and rank 1 in its next all-reduce, until
    gloo's 30-minute timeout, and nothing was printed."""
    config = write_config(tmp_path / "config.yaml", config_for(runs["two"].parent / "data"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    processes = []
    for rank in range(2):
        variables = {"RANK": rank, "LOCAL_RANK": rank, "WORLD_SIZE": 2, "MASTER_PORT": port}
        environment = {**os.environ, "MASTER_ADDR": "127.0.0.1", **{k: str(v) for k, v in variables.items()}}
        with (tmp_path / f"stderr-{rank}.txt").open("w") as stderr:
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "pacgan_cli",
                        "train",
                        "-c",
                        str(config),
                        "-o",
                        str(tmp_path / "run"),
                    ],
                    env=environment,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    preexec_fn=limit_file_size if rank == 0 else None,
                )
            )
    ended = wait_for_exits(processes, seconds=300)
    assert None not in ended, "the processes still ran after 300 s"
    assert abs(ended[1] - ended[0]) < 20
    first, second = ((tmp_path / f"stderr-{rank}.txt").read_text() for rank in (0, 1))
    assert [process.returncode for process in processes] == [1, 1]
    assert (first + second).count("file-size limit") == 1
    assert "the file-size limit (ulimit -f) while being written" in first and "Traceback" not in first
    assert "error: another training process stopped; its message says why" in second


def limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


def wait_for_exits(processes: list[subprocess.Popen[bytes]], seconds: float) -> list[float | None]:
    """When each process ended (time.monotonic()), waiting at most `seconds`; those still running are killed
    and have None."""
    ended: list[float | None] = [None] * len(processes)
    deadline = time.monotonic() + seconds
    while None in ended and time.monotonic() < deadline:
        for index, process in enumerate(processes):
            if ended[index] is None and process.poll() is not None:
                ended[index] = time.monotonic()
        time.sleep(0.1)
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()
    return ended


def test_shards_split_a_batch_evenly_and_draw_the_global_random_numbers() -> None:
    shards = [Ranks(rank, 3, rank).shard(8) for rank in range(3)]
    assert [(shard.begin, shard.end) for shard in shards] == [(0, 3), (3, 6), (6, 8)]
    assert sum(shard.share for shard in shards) == pytest.approx(1.0)
    assert [shard.loss_weight for shard in shards] == pytest.approx([9 / 8, 9 / 8, 6 / 8])
    torch.manual_seed(0)
    whole = Shard.whole(8).draw((2,), torch.device("cpu"))
    torch.manual_seed(0)
    assert torch.equal(shards[2].draw((2,), torch.device("cpu")), whole[6:8])


def test_batches_too_small_for_every_process_join_the_previous_one() -> None:
    assert batch_ranges(13, 6, processes=2) == [(0, 6), (6, 13)]
    assert batch_ranges(14, 6, processes=4) == [(0, 6), (6, 14)]
    assert batch_ranges(14, 6) == [(0, 6), (6, 12), (12, 14)]


def test_two_processes_augment_as_one_process_does(tmp_path: Path) -> None:
    """Under torchrun each process takes its rows of the global batch's draw, and the signal's midpoint is the
    global batch's: a two-process run logs what one process logs."""
    import torch.multiprocessing as mp

    from helpers import TINY_NETWORK, train_as_rank, write_data_folder

    data = write_data_folder(tmp_path / "data", count=20, max_size=8)
    config: dict[str, object] = {
        "data_train_directory": str(data),
        "label_train_directory": str(data / "labels.csv"),
        **TINY_NETWORK,
        "factors": [1, 1],
        "batch_sizes": 7,  # batches of 7, 7 and 6: split 4+3 / 3+3 over two processes
        "progressive_epochs": 2,
        "validate": False,
        "generate": False,
        "samples_per_class": 1,
        "device": "cpu",
        "augment": "diffaugment",
    }
    store, two = str(tmp_path / "store"), str(tmp_path / "two" / "run")
    mp.spawn(train_as_rank, args=(2, store, config, two), nprocs=2, join=True)
    train(build_config(config), output=tmp_path / "one")
    first_two, first_one = epochs(tmp_path / "two" / "run")[0], epochs(tmp_path / "one")[0]
    assert first_two["augment_signal"] == pytest.approx(first_one["augment_signal"], abs=1e-6)
    for name in ("d_loss", "g_loss", "d_real", "d_fake", "gp"):
        assert first_two[name] == pytest.approx(first_one[name], rel=1e-4, abs=1e-5), name


def test_leaving_the_group_frees_it_and_stops_gloo_threads(tmp_path: Path) -> None:
    """torch imports torch.distributed.nn.functional lazily (the first optimizer does), and its functions'
    `group=group.WORLD` defaults, evaluated then, held a group joined before: destroy_process_group could not
    free it, and gloo's threads, alive into the interpreter's shutdown, aborted a process now and then."""
    script = f"""
import os, torch, torch.distributed as dist
import pacgan_cli.core.training.distributed
dist.init_process_group("gloo", init_method="file://{tmp_path / "store"}", rank=0, world_size=1)
torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])  # imports torch._dynamo, FSDP, distributed.nn
dist.destroy_process_group()
import torch.distributed.nn.functional as functional
print(functional.all_gather.__defaults__)
threads = [open(f"/proc/self/task/{{t}}/comm").read() for t in os.listdir("/proc/self/task")]
print(sum("gloo" in name for name in threads))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    defaults, gloo_threads = result.stdout.splitlines()
    assert defaults == "(None,)" and gloo_threads == "0"
