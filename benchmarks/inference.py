"""Generation and classification at 256x256 against the published one-shot forward, and the memory of
streaming generation as the number of images grows."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch

from benchmarks.common import Row, interleaved_seconds, published_layers
from pacgan_cli.core.inference import (
    GenerationRequest,
    InferenceSettings,
    classify_images,
    generate,
    generate_images,
)
from pacgan_cli.core.models.checkpoint import DISCRIMINATOR, GENERATOR, LoadedCheckpoint, NetworkArchitecture

DEFAULT_ARCHITECTURE = NetworkArchitecture(
    base_channels=512, factors=(1, 1, 1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32), image_channels=1, num_classes=2
)
# Small enough that 10,000 images at 256x256 take about a minute on two cores.
MEMORY_ARCHITECTURE = NetworkArchitecture(
    base_channels=64, factors=DEFAULT_ARCHITECTURE.factors, image_channels=1, num_classes=2
)
STAGE = 6  # 256x256


def fresh(kind: str, architecture: NetworkArchitecture) -> LoadedCheckpoint:
    torch.manual_seed(0)
    return LoadedCheckpoint(
        kind=kind,
        model=architecture.build(kind).eval(),
        architecture=architecture,
        path=Path(f"random-{kind}"),
        epoch=None,
        stage=STAGE,
        alpha=1.0,
        batch_statistic=0.5,
        optimizer_state=None,
        config=None,
        published_format=False,
    )


def measure(
    count: int, device: torch.device, budget_seconds: float, batch_sizes: tuple[int, ...] = (64,)
) -> list[Row]:
    """images/s of ours (batches of 64 or `batch_sizes`, channels-last, inference mode; fp32 and bf16) and of
    the published one-shot forward (every image in one call under no_grad) on the default architecture."""
    generator = fresh(GENERATOR, DEFAULT_ARCHITECTURE)
    published_generator = copy.deepcopy(generator.model).to(device)
    critic = fresh(DISCRIMINATOR, DEFAULT_ARCHITECTURE)
    published_critic = copy.deepcopy(critic.model).to(device)
    z = torch.randn(count, DEFAULT_ARCHITECTURE.latent_size, device=device)
    labels = (torch.arange(count) % 2).to(device)
    images = generate_images(generator, [count], seed=0, device=device).images

    def published_generation() -> None:
        with torch.no_grad(), published_layers():
            published_generator(z, labels, 1.0, STAGE).cpu().numpy()

    def published_classification() -> None:
        with torch.no_grad(), published_layers():
            _, logits = published_critic(torch.from_numpy(images).to(device), 1.0, STAGE)
            torch.softmax(logits, 1).cpu().numpy()

    generation: dict[str, Callable[[], object]] = {"published": published_generation}
    classification: dict[str, Callable[[], object]] = {"published": published_classification}
    for batch in batch_sizes:
        for precision in ("fp32", "bf16"):
            name = f"ours {precision}" + (f", batches of {batch}" if len(batch_sizes) > 1 else "")
            settings = {"device": device, "precision": precision, "batch_size": batch}
            generation[name] = partial(generate_images, generator, [count], **settings)
            classification[name] = partial(classify_images, critic, images, **settings)
    rows = []
    for task, variants in (("generate", generation), ("classify", classification)):
        seconds = interleaved_seconds(variants, device, budget_seconds, min_rounds=1)
        reference = count / seconds["published"]
        for name, value in seconds.items():
            rate = count / value
            ratio = None if name == "published" else rate / reference
            rows.append(Row("inference", f"{task} 256x256 C=512, {count} images", name, rate, "img/s", ratio))
    return rows


def streaming_memory(counts: list[int], device: torch.device) -> list[Row]:
    """Peak RSS of `generate` writing `counts[i]` images at 256x256 to an uncompressed stack, each in a fresh
    process; the ratio is against the first count (flat memory = 1.0)."""
    rows = []
    baseline = None
    with tempfile.TemporaryDirectory() as folder:
        for count in counts:
            output = Path(folder) / f"s{count}.nii"
            result = subprocess.run(
                [sys.executable, "-m", "benchmarks.inference", str(count), str(output), str(device)],
                capture_output=True,
                text=True,
                check=True,
            )
            measured = json.loads(result.stdout.strip().splitlines()[-1])
            output.unlink()
            baseline = baseline or measured["peak_rss_mib"]
            rows.append(
                Row(
                    "memory",
                    f"generate {count} images 256x256 C=64 to a stack",
                    "ours (peak RSS MiB)",
                    measured["peak_rss_mib"],
                    "MiB",
                    measured["peak_rss_mib"] / baseline,
                    f"{measured['images_per_s']:.0f} img/s",
                )
            )
    return rows


def _generate_in_this_process(count: int, output: Path, device: str) -> None:
    import time

    checkpoint = fresh(GENERATOR, MEMORY_ARCHITECTURE)
    started = time.perf_counter()
    generate(GenerationRequest(checkpoint, output, total=count), InferenceSettings(device=device))
    seconds = time.perf_counter() - started
    # VmHWM: this process's own peak (getrusage's ru_maxrss keeps the parent's peak across exec).
    status = Path("/proc/self/status").read_text().splitlines()
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
    print(json.dumps({"peak_rss_mib": peak, "images_per_s": count / seconds}))


if __name__ == "__main__":
    _generate_in_this_process(int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
