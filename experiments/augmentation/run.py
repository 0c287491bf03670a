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
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MODES = ("none", "diffaugment", "ada")
DATASETS = {"digits": 16, "mni": 32}  # largest size
FACTORS = {16: [1.0, 1.0, 1.0], 32: [1.0, 1.0, 1.0, 0.5]}
CLASSIFIER_NAMES = ("logistic_regression", "small_cnn")


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


def versions() -> dict[str, Any]:
    """What the numbers depend on besides the settings."""
    import platform

    import sklearn
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "cpu_count": os.cpu_count(),
    }


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
        {
            "data_train_directory": str(folder / "train"),
            "label_train_directory": str(folder / "train" / "labels.csv"),
            "data_test_directory": str(folder / "test"),
            "label_test_directory": str(folder / "test" / "labels.csv"),
            "in_channels": 32,
            "z_dim": 32,
            "factors": FACTORS[size],
            "batch_sizes": 16,
            "critic_iterations": 1,
            "progressive_epochs": epochs,
            "validate": False,
            "testing": True,
            "test_using_best_model": False,
            "generate": False,
            "disp_every_n_epochs": epochs,
            "device": device,
            "seed": seed,
            "augment": mode,
            **settings,
        }
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


def training_auc(run: Path, folder: Path, size: int) -> float:
    """The auxiliary head's AUC on the (un-augmented) training images, with the checkpoint's batch statistic."""
    import torch

    from pacgan_cli.core.models.checkpoint import load_checkpoint
    from pacgan_cli.core.training.validation import classify_with_statistic

    loaded = load_checkpoint(run / f"PACGAN_{size}x{size}" / "discriminator_last.pt")
    images, labels = (torch.from_numpy(array) for array in stage_arrays(folder / "train", size))
    stage = loaded.architecture.num_stages - 1
    report, _ = classify_with_statistic(
        loaded.model, images, labels, 1.0, stage, float(loaded.batch_statistic or 0)
    )
    return float(report.to_data()["auc_macro"])


def synthetic_scores(run: Path, folder: Path, size: int, per_class: int, seed: int) -> dict[str, Any]:
    """TSTR: the evaluation package's classifiers trained on generated images with their labels, tested on
    the held-out real images; {classifier: {"auc": ..., "accuracy": ...}}."""
    import torch

    from pacgan_cli.core.models.checkpoint import load_checkpoint

    loaded = load_checkpoint(run / f"PACGAN_{size}x{size}" / "generator_last.pt")
    labels = torch.arange(2).repeat_interleave(per_class)
    z = torch.randn(
        len(labels), loaded.architecture.latent_size, generator=torch.Generator().manual_seed(1000 + seed)
    )
    with torch.no_grad():
        images = loaded.model(z, labels, 1.0, loaded.architecture.num_stages - 1).numpy()
    return classifier_scores(images, labels.numpy(), *stage_arrays(folder / "test", size))


def real_reference(folder: Path, size: int) -> dict[str, Any]:
    """TRTR: the same classifiers trained on the real training images."""
    return classifier_scores(*stage_arrays(folder / "train", size), *stage_arrays(folder / "test", size))


def classifier_scores(
    train_images: np.ndarray, train_labels: np.ndarray, test_images: np.ndarray, test_labels: np.ndarray
) -> dict[str, Any]:
    """ROC AUC and accuracy of each of core/metrics/tstr.py's classifiers (classifier seed 0)."""
    from pacgan_cli.core.metrics.tstr import CLASSIFIERS, score_classifier

    scores = {}
    for name, classifier in CLASSIFIERS.items():
        score = score_classifier(classifier, train_images, train_labels, test_images, test_labels, 2, seed=0)
        scores[name] = {"auc": score.auc_macro, "accuracy": score.accuracy}
    return scores


def stage_arrays(folder: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    from pacgan_cli.core.io.nifti import read_stack

    labels = pd.read_csv(folder / "labels.csv").sort_values("ID")
    images = read_stack(folder / f"Real{size}x{size}.nii.gz")[labels["ID"].to_numpy()]
    return images, labels["Label"].to_numpy()


def build_digits(folder: Path) -> None:
    """3s (label 0) and 8s (label 1) of scikit-learn's digits at 16x16; 30 per class for training."""
    from sklearn.datasets import load_digits

    from pacgan_cli.core.cohort.pyramid import resize_stack

    digits = load_digits()
    chosen = np.isin(digits.target, (3, 8))
    images = (digits.images[chosen] / 8 - 1).astype(np.float32)[:, None]
    labels = (digits.target[chosen] == 8).astype(int)
    write_split(folder, resize_stack(images, 16), labels, per_class=30)


def build_mni(folder: Path) -> None:
    """150 demo subjects (75 per class), the demo's ventricle slice at 32x32; 25 per class for training."""
    from pacgan_cli import demo
    from pacgan_cli.core.cohort.pyramid import resize_stack
    from pacgan_cli.core.cohort.slices import SliceOptions, extract_slices
    from pacgan_cli.core.io.intensity import scale_to_unit_range
    from pacgan_cli.core.io.nifti import read_stack

    with tempfile.TemporaryDirectory() as scratch:
        volumes = Path(scratch) / "volumes"
        volumes.mkdir()
        table = demo.build_dataset(volumes, Path(scratch) / "cohort.csv", 150, seed=0)
        options = SliceOptions(cube_size=demo.CUBE_SIZE, indices=(demo.ventricle_slice_index(),))
        stack = extract_slices(volumes, Path(scratch) / "slices.nii.gz", options=options).stack_path
        images = scale_to_unit_range(read_stack(stack))
    labels = (table["Group"] == "AD").astype(int).to_numpy()
    write_split(folder, resize_stack(images, 32), labels, per_class=25)


def write_split(folder: Path, images: np.ndarray, labels: np.ndarray, per_class: int) -> None:
    """train/ (`per_class` images per class, drawn with seed 0) and test/ (the rest), every stage size."""
    from pacgan_cli.core.cohort.pyramid import pyramid_sizes, resize_pyramid
    from pacgan_cli.core.io.nifti import write_stack

    rng = np.random.default_rng(0)
    train = np.sort(
        np.concatenate([rng.choice(np.flatnonzero(labels == k), per_class, replace=False) for k in (0, 1)])
    )
    parts = {"train": train, "test": np.setdiff1d(np.arange(len(labels)), train)}
    for part, rows in parts.items():
        target = folder / part
        target.mkdir(parents=True, exist_ok=True)
        selected = np.clip(images[rows], -1, 1)
        for size, stack in resize_pyramid(selected, pyramid_sizes(images.shape[-1])).items():
            write_stack(target / f"Real{size}x{size}.nii.gz", stack, force=True)
        pd.DataFrame(
            {"ID": np.arange(len(rows)), "Label": labels[rows], "Subject_ID": [f"img-{r:04d}" for r in rows]}
        ).to_csv(target / "labels.csv", index=False)


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


def summary(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.fmean(values):.3f} ({min(values):.3f}-{max(values):.3f})"


if __name__ == "__main__":
    sys.exit(main())
