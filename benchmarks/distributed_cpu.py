"""`python -m benchmarks.distributed_cpu [work folder]`: one process against `torchrun --nproc_per_node=2` (gloo)
on the same run, timed whole (start-up included), twice, interleaved. Run it on an otherwise idle machine.

The run: 240 separable images of two classes, 4..32 px, 32 base channels, batch 16, 2 epochs per stage, on the
CPU. One process is `pacgan train -c C --threads 2`, the other `PACGAN_THREADS=1 torchrun --nproc_per_node=2
-m pacgan_cli train -c C`, both with OMP_WAIT_POLICY=PASSIVE; `pacgan` and `torchrun` are the ones beside
this Python.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.distributed_cpu", description=__doc__)
    parser.add_argument("work", nargs="?", type=Path, default=Path("/tmp/pacgan-distributed"))
    work = parser.parse_args().work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    config = write_run_config(work)
    bin_folder = Path(sys.executable).parent
    one_process = [str(bin_folder / "pacgan"), "train", "-c", str(config), "-o", str(work / "one")]
    two_processes = [str(bin_folder / "torchrun"), "--nproc_per_node=2", "-m", "pacgan_cli", "train"]
    two_processes += ["-c", str(config), "-o", str(work / "two")]
    environment = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    for round_number in (1, 2):
        shutil.rmtree(work / "one", ignore_errors=True)
        shutil.rmtree(work / "two", ignore_errors=True)
        seconds = timed([*one_process, "--threads", "2", "--quiet"], environment)
        print(f"round {round_number}: 1 process, 2 threads: {seconds:.2f} s", flush=True)
        seconds = timed([*two_processes, "--quiet"], {**environment, "PACGAN_THREADS": "1"})
        print(f"round {round_number}: 2 processes, 1 thread each: {seconds:.2f} s", flush=True)


def write_run_config(work: Path) -> Path:
    """The data folder (the tests' separable images, 4..32 px) and the config of the timed run."""
    sys.path.insert(0, str(TESTS))
    from helpers import write_config, write_data_folder

    data = write_data_folder(work / "data", 240, 32)
    config = {
        "data_train_directory": str(data),
        "label_train_directory": str(data / "labels.csv"),
        "data_test_directory": str(data),
        "label_test_directory": str(data / "labels.csv"),
        "in_channels": 32,
        "z_dim": 32,
        "embedding_dim": 3,
        "factors": [1, 1, 1, 0.5],
        "batch_sizes": 16,
        "critic_iterations": 1,
        "progressive_epochs": [2, 2, 2, 2],
        "validate": False,
        "generate": False,
        "device": "cpu",
        "seed": 0,
    }
    return write_config(work / "config.yaml", config)


def timed(command: list[str], environment: dict[str, str]) -> float:
    """Wall-clock seconds of one command, its output discarded; a failing command stops the benchmark."""
    start = time.perf_counter()
    subprocess.run(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
