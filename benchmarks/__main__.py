"""`python -m benchmarks [--full]`: every benchmark section, one table, one JSON file of results."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from benchmarks import checkpoints, compilation, inference, metrics, training, whole_run
from benchmarks.common import Row, peak_cuda_mib, peak_rss_mib

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--full", action="store_true", help="training sizes up to 256 (the default with CUDA)"
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--channels",
        type=int,
        nargs="*",
        default=[512, 64],
        help="base channels to train (none: skip training)",
    )
    parser.add_argument(
        "--max-size", type=int, help="largest training size (default 32 on CPU, 256 with --full/CUDA)"
    )
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per measured case, roughly")
    parser.add_argument(
        "--images", type=int, default=64, help="images for generation/classification at 256x256"
    )
    parser.add_argument("--memory-counts", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--ssim-pairs", type=int, default=1000, help="SSIM pairs per class")
    parser.add_argument(
        "--inference-batches",
        type=int,
        nargs="+",
        default=[64],
        help="batch sizes of ours for generate/classify",
    )
    parser.add_argument("--feature-images", type=int, default=64)
    parser.add_argument(
        "--no-checkpoints", dest="checkpoints", action="store_false", help="skip the checkpoint cost"
    )
    parser.add_argument("--compile", action="store_true", help="also measure torch.compile (slow to compile)")
    parser.add_argument("--compile-size", type=int, default=16, help="training size for --compile")
    parser.add_argument(
        "--whole-run",
        action="store_true",
        help="also whole pacgan train processes (1 vs 3 epochs per stage) beside the published loop",
    )
    parser.add_argument("--whole-run-channels", type=int, default=512)
    parser.add_argument(
        "--whole-run-variants", nargs="+", choices=whole_run.CHOICES, default=list(whole_run.VARIANTS)
    )
    parser.add_argument(
        "--output", type=Path, help="JSON file (default benchmarks/results/<date>-<host>.json)"
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    max_size = args.max_size or (256 if args.full or device.type == "cuda" else 32)
    sizes = [4 * 2**stage for stage in range(7) if 4 * 2**stage <= max_size]

    started = time.perf_counter()
    rows: list[Row] = []
    memory: dict[str, float | None] = {}
    rows += show([training.matmul_peak(device)])
    for channels in args.channels:
        rows += show(training.measure(channels, sizes, args.batch, device, args.budget))
    memory["after training"] = peak_rss_mib()
    if args.images:
        rows += show(inference.measure(args.images, device, args.budget, tuple(args.inference_batches)))
        memory["after inference"] = peak_rss_mib()
    if args.memory_counts:
        rows += show(inference.streaming_memory(args.memory_counts, device))
    if args.checkpoints:
        rows += show(checkpoints.measure(device))
    if args.ssim_pairs:
        rows += show(metrics.ssim(args.ssim_pairs))
    if args.feature_images:
        rows += show(metrics.inception_features(args.feature_images, device))
    if args.compile:
        rows += show(compilation.measure(device, size=args.compile_size))
    if args.whole_run:
        variants = tuple(args.whole_run_variants)
        rows += show(whole_run.measure(args.whole_run_channels, batch=args.batch, variants=variants))
    memory["peak RSS MiB"] = peak_rss_mib()
    memory["peak CUDA MiB"] = peak_cuda_mib(device)
    seconds = time.perf_counter() - started

    print_table(rows)
    print(
        f"peak RSS {memory['peak RSS MiB']:.0f} MiB"
        + (f", peak CUDA {memory['peak CUDA MiB']:.0f} MiB" if memory["peak CUDA MiB"] else "")
    )
    print(f"{seconds:.0f} s on {machine(device)['description']}")
    output = args.output or RESULTS / f"{datetime.date.today()}-{platform.node() or 'host'}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps(
            {
                "command": "python -m benchmarks " + " ".join(sys.argv[1:]),
                "machine": machine(device),
                "seconds": seconds,
                "memory": memory,
                "rows": [asdict(row) for row in rows],
            },
            indent=2,
        )
        + "\n"
    )
    print(f"results: {output}")


def show(rows: list[Row]) -> list[Row]:
    """Print each measurement as it is made (stderr), so that a long run shows where it is."""
    for row in rows:
        ratio = "" if row.ratio is None else f"  {row.ratio:.2f}x"
        print(f"{row.section}: {row.case}: {row.variant} {row.rate:,.1f} {row.unit}{ratio}", file=sys.stderr)
    return rows


def print_table(rows: list[Row]) -> None:
    header = ("section", "case", "variant", "rate", "vs reference", "note")
    lines = [
        (
            row.section,
            row.case,
            row.variant,
            f"{row.rate:,.1f} {row.unit}",
            "" if row.ratio is None else f"{row.ratio:.2f}x",
            row.note,
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    for line in [header, tuple("-" * w for w in widths), *lines]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def machine(device: torch.device) -> dict[str, object]:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    description = (
        f"{os.cpu_count()} cores {cpu}, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    if device.type == "cuda":
        description += f", {torch.cuda.get_device_name(device)}"
    return {
        "host": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": str(device),
        "description": description,
    }


if __name__ == "__main__":
    main()
