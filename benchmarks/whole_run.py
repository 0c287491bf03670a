"""The speed a user sees: whole `pacgan train` processes, with 1 and with 3 epochs per stage, differenced, so
that start-up and stage ends cancel and what is left is the cost of one epoch of every stage, including the
work between epochs (metrics lines, sample grids, resume checkpoints). The same is measured for a re-enactment
of the published loop (benchmarks/published_loop.py) in the same run, interleaved.

Reported per variant: seconds per epoch of every stage (whole processes), the epochs' own seconds (the
`seconds` of metrics.jsonl, ours only), the share of the whole that lies between epochs, and the ratio to the
published loop. `--whole-run` in `python -m benchmarks`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Row
from pacgan_cli.core.config import DEFAULT_FACTORS

# Named by what they run, as the step's variants are; "published" is benchmarks/published_loop.py.
VARIANTS = ("published", "ours fp32", "ours bf16", "ours fp32 gp_interval 4")
CHOICES = (*VARIANTS, "ours fp32 channels-last", "ours bf16 gp_interval 4")
TESTS = Path(__file__).resolve().parents[1] / "tests"
ROOT = Path(__file__).resolve().parents[1]


def measure(
    channels: int = 512,
    images: int = 128,
    batch: int = 32,
    max_size: int = 16,
    variants: tuple[str, ...] = VARIANTS,
    rounds: int = 2,
    work: Path | None = None,
) -> list[Row]:
    """Interleaved rounds of every variant at 1 and 3 epochs per stage; the faster of the rounds counts.

    The share between epochs is taken per round from the same two processes: their wall-clock difference
    less the difference of their epochs' own seconds, over the latter. A slower or faster machine moves both
    alike, so what is left is the work outside the epochs that two more epochs per stage add (metrics lines,
    checkpoint decisions, and one sample grid per stage, drawn at every stage's first and last epoch).
    """
    work = work or Path(tempfile.mkdtemp(prefix="pacgan-whole-run-"))
    data = _write_data(work / "data", images, max_size)
    seconds: dict[str, dict[int, list[float]]] = {name: {1: [], 3: []} for name in variants}
    inside: dict[str, dict[int, list[float]]] = {name: {1: [], 3: []} for name in variants}
    for _ in range(rounds):
        for epochs in (1, 3):
            for name in variants:
                config = _write_config(
                    work / f"{name}-{epochs}.yaml", data, name, channels, batch, max_size, epochs
                )
                run = work / "run"
                shutil.rmtree(run, ignore_errors=True)
                seconds[name][epochs].append(_timed(_command(name, config, run)))
                if name != "published":
                    inside[name][epochs].append(_epoch_seconds(run / "metrics.jsonl"))
    case = f"C={channels} 4..{max_size} px, N={images}, batch {batch}"
    per_epoch = {name: (min(s[3]) - min(s[1])) / 2 for name, s in seconds.items()}
    reference = per_epoch.get("published")
    rows = []
    for name in variants:
        whole = per_epoch[name]
        note = ""
        if inside[name][3]:
            pairs = zip(seconds[name][1], seconds[name][3], inside[name][1], inside[name][3], strict=True)
            shares = sorted((t3 - t1 - (e3 - e1)) / (e3 - e1) for t1, t3, e1, e3 in pairs)
            epochs_only = min(e3 - e1 for e1, e3 in zip(inside[name][1], inside[name][3], strict=True)) / 2
            note = f"epochs alone {epochs_only:.2f} s; between epochs " + " / ".join(
                f"{100 * share:+.1f} %" for share in shares
            )
        ratio = None if reference is None or name == "published" else reference / whole
        rows.append(
            Row(
                "whole run",
                case,
                name,
                1 / whole,
                "epochs/s",
                ratio,
                f"{whole:.2f} s per epoch; {note}".rstrip("; "),
            )
        )
    return rows


def _command(variant: str, config: Path, run: Path) -> list[str]:
    if variant == "published":
        return [sys.executable, "-m", "benchmarks.published_loop", str(config), str(run)]
    return [sys.executable, "-m", "pacgan_cli", "train", "-c", str(config), "-o", str(run), "--quiet"]


def _timed(command: list[str]) -> float:
    environment = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    subprocess.run(
        command, check=True, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def _epoch_seconds(metrics: Path) -> float:
    """Every epoch's own seconds, summed over the run."""
    lines = [json.loads(line) for line in metrics.read_text().splitlines()]
    return sum(line["seconds"] for line in lines if line.get("event") == "epoch")


def _write_data(folder: Path, images: int, max_size: int) -> Path:
    sys.path.insert(0, str(TESTS))
    from helpers import write_data_folder

    return write_data_folder(folder, images, max_size)


def _write_config(
    path: Path, data: Path, variant: str, channels: int, batch: int, max_size: int, epochs: int
) -> Path:
    import yaml

    stages = max_size.bit_length() - 2
    config: dict[str, Any] = {
        "data_train_directory": str(data),
        "label_train_directory": str(data / "labels.csv"),
        "data_test_directory": str(data),
        "label_test_directory": str(data / "labels.csv"),
        "in_channels": channels,
        "factors": list(DEFAULT_FACTORS[:stages]),  # the default architecture's blocks
        "batch_sizes": batch,
        "critic_iterations": 1,
        "progressive_epochs": epochs,
        "validate": False,
        "generate": False,
        "device": "cpu",
        "precision": "bf16" if "bf16" in variant else "fp32",
        "gp_interval": 4 if "gp_interval 4" in variant else 1,
        "memory_format": "channels_last" if "channels-last" in variant else "contiguous",
    }
    path.write_text(yaml.safe_dump(config))
    return path
