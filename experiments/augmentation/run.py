"""`python -m experiments.augmentation.run`: augment none vs diffaugment vs ada on two small data sets of real
images shipped inside installed packages; prints the table of docs/augmentation.md and writes the results as JSON.

Data sets (built once under --data, from fixed seeds):
- digits: scikit-learn's 8x8 handwritten digits, the classes 3 (label 0) and 8 (label 1), upsampled bilinearly
  to 16x16 and scaled x/8 - 1 to [-1, 1]; 30 training images per class drawn with seed 0, every other 3 and 8
  (297 images) held out.
- mni: the demo's synthetic subjects (nilearn's MNI152 template, each deformed; "AD" with enlarged ventricles;
  pacgan_cli/demo.py), the demo's axial slice through the ventricles at 32x32, scaled per slice as published;
  25 training subjects per class, 100 held out (50 per class).

Each run trains in test mode with a tiny network (32 base channels, latent 32, batch 16) and reports:
- the discriminator's held-out AUC: the auxiliary head on the held-out real images at the last stage (with the
  minibatch statistic measured on the training images, as `pacgan classify` uses it), and on the training
  images for the gap;
- train on synthetic, test on real (TSTR): `--synthetic` images per class from the final generator train the
  evaluation package's two fixed classifiers (core/metrics/tstr.py: a logistic regression on standardised
  pixels, and a small CNN), scored on the held-out real images; the same classifiers trained on the real
  training images (TRTR) are the reference.

`--reuse` scores the finished runs found under --runs again instead of training them anew.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from experiments.harness import (
    CLASSIFIER_NAMES,
    build_digits,
    build_mni,
    classifier_scores,
    generate_images,
    stage_arrays,
    summary,
    tiny_training_settings,
    training_auc,
    versions,
)

MODES = ("none", "diffaugment", "ada")
DATASETS = {"digits": 16, "mni": 32}  # largest size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.augmentation.run", description=" ".join(__doc__.split("\n\n")[0].split())
    )
    parser.add_argument(
        "--data", type=Path, default=Path("augmentation_data"), help="data sets (built if missing)"
    )
    parser.add_argument("--runs", type=Path, help="run folders (default: a temporary folder)")
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--epochs", type=int, default=60, help="epochs per stage")
    parser.add_argument("--transforms", nargs="+", help="augment_transforms (default: the config's)")
    parser.add_argument("--ada-target", type=float, help="ada_target (default: the config's)")
    parser.add_argument("--synthetic", type=int, default=200, help="synthetic images per class for TSTR")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time, one thread each")
    parser.add_argument("--prepare-only", action="store_true", help="build the data sets and stop")
    parser.add_argument("--reuse", action="store_true", help="score finished runs under --runs, train none")
    parser.add_argument("--output", type=Path, help="JSON results (default: print only)")
    parser.add_argument(
        "--table", type=Path, nargs="+", help="print the table of earlier JSON results and stop"
    )
    args = parser.parse_args(argv)
    if args.table:
        reports = [json.loads(path.read_text()) for path in args.table]
        merged = {"runs": [r for report in reports for r in report["runs"]], "trtr": {}}
        for report in reports:
            merged["trtr"].update(report["trtr"])
        print(markdown_table(merged))
        return 0

    for name in args.datasets:
        if not (args.data / name / "test" / "labels.csv").is_file():
            {"digits": build_digits, "mni": build_mni}[name](args.data / name)
            print(f"built {args.data / name}", flush=True)
    if args.prepare_only:
        return 0
    runs = args.runs or Path(tempfile.mkdtemp(prefix="pacgan-augmentation-"))
    settings = {"augment_transforms": args.transforms, "ada_target": args.ada_target}
    settings = {key: value for key, value in settings.items() if value is not None}
    jobs = [
        (dataset, mode, seed, args.data, runs, args.epochs, args.synthetic, args.device, settings, args.reuse)
        for dataset in args.datasets
        for seed in args.seeds
        for mode in args.modes
    ]
    started = time.monotonic()
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        results = []
        for result in pool.map(run_one, jobs):
            results.append(result)
            print(json.dumps(result), flush=True)
    references = {name: real_reference(args.data / name, DATASETS[name]) for name in args.datasets}
    local = ("data", "runs", "output", "table", "prepare_only")
    report = {
        "settings": {key: value for key, value in vars(args).items() if key not in local},
        "versions": versions(),
        "seconds": time.monotonic() - started,
        "runs": results,
        "trtr": references,
    }
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown_table(report))
    return 0


def run_one(job: tuple[Any, ...]) -> dict[str, Any]:
    """Train one (data set, mode, seed) and measure it; runs in its own process with one thread."""
    import torch

    from pacgan_cli.core.config import build_config
    from pacgan_cli.core.training.loop import train

    dataset, mode, seed, data, runs, epochs, synthetic, device, settings, reuse = job
    torch.set_num_threads(1)
    size = DATASETS[dataset]
    folder = data / dataset
    run = runs / f"{dataset}-{variant_name(mode, settings).replace(' ', '')}-{seed}"
    config = build_config(
        {**tiny_training_settings(folder, size, epochs, seed, device), "augment": mode, **settings}
    )
    marker = run / f"PACGAN_{size}x{size}" / "stage_complete.json"
    if not (reuse and marker.is_file()):
        train(config, output=run, force=True)
    stage = json.loads(marker.read_text())
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    last_stage = [r for r in records if r["event"] == "epoch" and r["size"] == size]
    synthetic = synthetic_scores(run, folder, size, synthetic, seed)
    return {
        "dataset": dataset,
        "mode": mode,
        "variant": variant_name(mode, settings),
        "seed": seed,
        "device": device,
        "seconds": sum(r["seconds"] for r in records if r["event"] == "epoch"),
        "d_auc_test": stage["test"]["auc_macro"],
        "d_accuracy_test": stage["test"]["accuracy"],
        "d_auc_train": training_auc(run, folder, size),
        "tstr": synthetic,
        "final_p": last_stage[-1].get("augment_p"),
        "mean_signal_last_10": (
            statistics.fmean(r["augment_signal"] for r in last_stage[-10:])
            if "augment_signal" in last_stage[-1]
            else None
        ),
        "p_by_stage_end": [
            r.get("augment_p") for r in records if r["event"] == "epoch" and r["epoch"] == epochs
        ],
    }


def variant_name(mode: str, settings: dict[str, Any]) -> str:
    """The mode, with the settings that differ from the config's defaults: `diffaugment [translation]`."""
    if mode == "none":
        return mode
    parts = [mode]
    if "augment_transforms" in settings:
        parts.append("[" + ", ".join(settings["augment_transforms"]) + "]")
    if mode == "ada" and "ada_target" in settings:
        parts.append(f"target {settings['ada_target']:g}")
    return " ".join(parts)


def synthetic_scores(run: Path, folder: Path, size: int, per_class: int, seed: int) -> dict[str, Any]:
    """TSTR: the evaluation package's classifiers trained on generated images with their labels, tested on
    the held-out real images; {classifier: {"auc": ..., "accuracy": ...}}."""
    images, labels = generate_images(run, size, per_class, 2, seed)
    return classifier_scores(images, labels, *stage_arrays(folder / "test", size))


def real_reference(folder: Path, size: int) -> dict[str, Any]:
    """TRTR: the same classifiers trained on the real training images."""
    return classifier_scores(*stage_arrays(folder / "train", size), *stage_arrays(folder / "test", size))


def markdown_table(report: dict[str, Any]) -> str:
    """Mean (min-max over seeds) of each measure per data set and variant, and the real-trained reference."""
    lines = [
        "| data set | augment | D AUC held-out | D AUC train | TSTR AUC, logistic | TSTR AUC, CNN | final p |",
        "|---|---|---|---|---|---|---|",
    ]
    runs = report["runs"]
    for dataset in dict.fromkeys(r["dataset"] for r in runs):
        for variant in dict.fromkeys(r["variant"] for r in runs):
            chosen = [r for r in runs if r["dataset"] == dataset and r["variant"] == variant]
            if not chosen:
                continue
            cells = [summary([r[key] for r in chosen]) for key in ("d_auc_test", "d_auc_train")]
            cells += [summary([r["tstr"][name]["auc"] for r in chosen]) for name in CLASSIFIER_NAMES]
            p = [r["final_p"] for r in chosen if r["final_p"] is not None]
            lines.append(
                f"| {dataset} | {variant} | " + " | ".join(cells) + f" | {summary(p) if p else '-'} |"
            )
        reference = report["trtr"][dataset]
        aucs = " | ".join(f"{reference[name]['auc']:.3f}" for name in CLASSIFIER_NAMES)
        lines.append(f"| {dataset} | (real training images, TRTR) | | | {aucs} | |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
