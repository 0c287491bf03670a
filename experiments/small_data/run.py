"""`python -m experiments.small_data.run`: the conditioning options of issue 16 on four small data sets,
several seeds each, to decide the `small-data` preset on evidence. Writes one JSON per run under
--results; `python -m experiments.small_data.summarize` turns them into tables (docs/small-data.md).

Each run trains the augmentation study's tiny network (experiments/harness.py) in test mode for --epochs per
stage and is scored as experiments/small_data/measures.py says. Runs go --jobs at a time, each in its own
process with one thread. `--reuse` scores finished run folders under --runs again instead of training.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from experiments.harness import generate_images, stage_arrays, tiny_training_settings, versions
from experiments.small_data.datasets import DATASETS
from experiments.small_data.measures import REFERENCE, measure_run, write_real_reference
from pacgan_cli.core.presets import PRESETS

VARIANTS: dict[str, dict[str, Any]] = {
    "published": {},
    "mode-seeking": {"mode_seeking_weight": 0.3},
    "gp-interval-4": {"gp_interval": 4},
    "mode-seeking-0.1": {"mode_seeking_weight": 0.1},
    "mode-seeking-0.1-mask": {"mode_seeking_weight": 0.1, "mode_seeking_mask": True},
    "classifier-real": {"classifier_data": "real"},
    "tac": {"aux_head": "tac"},
    "adc": {"aux_head": "adc"},
    "ramp-2": {"conditioning_ramp": 2},
    "lecam-0.1": {"lecam_weight": 0.1},
    "diffaugment-0.3": {"augment": "diffaugment", "augment_p": 0.3},
    # Combinations of what helped alone (docs/small-data.md).
    "mode-seeking-0.1-real": {"mode_seeking_weight": 0.1, "classifier_data": "real"},
    "mode-seeking-0.1-mask-real": {
        "mode_seeking_weight": 0.1,
        "mode_seeking_mask": True,
        "classifier_data": "real",
    },
    "gp-interval-2": {"gp_interval": 2},
    "gp-interval-8": {"gp_interval": 8},
    # The preset with a moving average of the generator, which the measures then sample from.
    "preset-ema-0.99": {**PRESETS["small-data"], "ema": True, "ema_decay": 0.99},
}
DEFAULT_VARIANTS = ("published", "mode-seeking", "gp-interval-4")
DEFAULT_DATASETS = ("digits2", "digits10", "mni-demo", "mni-heights")  # the screen; mni-demo-32 confirms
RESULTS = Path(__file__).parent / "results"
GRID_COLUMNS = 8
SCRATCH = Path(tempfile.gettempdir()) / "pacgan-small-data"


@dataclass(frozen=True)
class RunRequest:
    """One (data set, variant, seed) to train and score, and where things are."""

    dataset: str
    variant: str
    seed: int
    epochs: int
    synthetic: int
    data: Path
    runs: Path
    results: Path
    device: str
    reuse: bool

    @property
    def name(self) -> str:
        return f"{self.dataset}-{self.variant}-seed{self.seed}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.small_data.run", description=" ".join(__doc__.split("\n\n")[0].split())
    )
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DEFAULT_DATASETS))
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(DEFAULT_VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--epochs",
        type=int,
        default=40,
        help="epochs per stage of a 60-image set (other sets: scaled to see as many images)",
    )
    parser.add_argument("--synthetic", type=int, default=100, help="synthetic images per class")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time, one thread each")
    parser.add_argument("--data", type=Path, default=SCRATCH / "data", help="data sets (built if missing)")
    parser.add_argument("--runs", type=Path, default=SCRATCH / "runs", help="run folders")
    parser.add_argument("--results", type=Path, default=RESULTS, help="one JSON per run")
    parser.add_argument("--reuse", action="store_true", help="score finished runs under --runs, train none")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    for name in args.datasets:
        if not (args.data / name / REFERENCE).is_file():
            dataset = DATASETS[name]
            dataset.build(args.data / name)
            write_real_reference(args.data / name, dataset.size, dataset.num_classes)
            print(f"built {args.data / name}", flush=True)
    requests = [
        RunRequest(
            dataset,
            variant,
            seed,
            args.epochs,
            args.synthetic,
            args.data,
            args.runs,
            args.results,
            args.device,
            args.reuse,
        )
        for seed in args.seeds
        for dataset in args.datasets
        for variant in args.variants
    ]
    started = time.monotonic()
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        try:
            for path in pool.map(run_one, requests):
                print(f"{time.monotonic() - started:7.0f} s  wrote {path}", flush=True)
        except BaseException:  # a failed run or Ctrl-C: the runs not yet started do not start
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    print(f"{len(requests)} runs in {time.monotonic() - started:.0f} s", flush=True)
    return 0


def run_one(request: RunRequest) -> Path:
    """Train (unless reused) and score one run in a process of its own with one thread; its JSON path."""
    import torch

    from pacgan_cli.core.config import build_config
    from pacgan_cli.core.training.loop import train

    torch.set_num_threads(1)
    dataset = DATASETS[request.dataset]
    folder = request.data / request.dataset
    run = request.runs / request.name
    settings = {
        **tiny_training_settings(
            folder, dataset.size, dataset.stage_epochs(request.epochs), request.seed, request.device
        ),
        "class_size": dataset.num_classes,
        **VARIANTS[request.variant],
    }
    started = time.monotonic()
    marker = run / f"PACGAN_{dataset.size}x{dataset.size}" / "stage_complete.json"
    if not (request.reuse and marker.is_file()):
        train(build_config(settings), output=run, force=True)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    result = {
        "dataset": request.dataset,
        "variant": request.variant,
        "seed": request.seed,
        "epochs_per_stage": dataset.stage_epochs(request.epochs),
        "synthetic_per_class": request.synthetic,
        "variant_settings": VARIANTS[request.variant],
        "training_seconds": sum(r["seconds"] for r in records if r["event"] == "epoch"),
        **measure_run(run, folder, dataset.size, dataset.num_classes, request.synthetic, request.seed),
        "wall_seconds": time.monotonic() - started,
        "versions": versions(),
        "request": {key: str(value) for key, value in asdict(request).items()},
    }
    request.results.mkdir(parents=True, exist_ok=True)
    path = request.results / f"{request.name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    if request.seed == 0:
        save_grids(request, run, folder)
    return path


def save_grids(request: RunRequest, run: Path, folder: Path) -> None:
    """Seed 0's sample grid (GRID_COLUMNS images per class, one row per class) under results/grids/, and
    the data set's real training images beside it once."""
    from pacgan_cli.core.figures import save_sample_grid

    dataset = DATASETS[request.dataset]
    grids = request.results / "grids"
    grids.mkdir(exist_ok=True)
    real = grids / f"{request.dataset}-real.png"
    if not real.is_file():
        images, labels = stage_arrays(folder / "train", dataset.size)
        order = np.concatenate(
            [np.flatnonzero(labels == k)[:GRID_COLUMNS] for k in range(dataset.num_classes)]
        )
        save_sample_grid(images[order], dataset.num_classes, real, f"{request.dataset}: real training images")
    fake, _ = generate_images(run, dataset.size, GRID_COLUMNS, dataset.num_classes, request.seed)
    title = f"{request.dataset}: {request.variant}, seed {request.seed}"
    save_sample_grid(fake, dataset.num_classes, grids / f"{request.name}.png", title)


if __name__ == "__main__":
    sys.exit(main())
