"""Generating images with a trained generator, streamed in batches so memory does not grow with N."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pacgan_cli.core.classes import class_titles
from pacgan_cli.core.errors import ConfigError, InputError
from pacgan_cli.core.inference.network import fade_alpha, prepare_for_inference, resolve_stage
from pacgan_cli.core.io.atomic import ensure_can_write, ensure_distinct
from pacgan_cli.core.io.nifti import StackWriter, nifti_stem, write_stack
from pacgan_cli.core.io.tables import write_synthetic_labels
from pacgan_cli.core.models.checkpoint import GENERATOR, LoadedCheckpoint
from pacgan_cli.core.progress import Reporter, SilentReporter
from pacgan_cli.core.runtime import compile_module, forward_precision
from pacgan_cli.core.stages import stage_size

LATENT_BLOCK = 256  # latent vectors are drawn in blocks of this many, whatever the batch size


@dataclass(frozen=True)
class GenerationResult:
    """Generated images `[N, C, S, S]` float32 in [-1, 1] and their class labels `[N]`, class by class."""

    images: np.ndarray
    labels: np.ndarray
    size: int
    seed: int


def counts_per_class(counts: Sequence[int], num_classes: int) -> list[int]:
    """One total (split evenly, the remainder going to the last class, as published) or one count per class."""
    counts = [int(c) for c in counts]
    if any(c < 0 for c in counts):
        raise ConfigError(f"image counts must not be negative; got {counts}")
    if len(counts) == 1:
        share = counts[0] // num_classes
        return [share] * (num_classes - 1) + [counts[0] - share * (num_classes - 1)]
    if len(counts) != num_classes:
        raise ConfigError(
            f"the model has {num_classes} classes, so give one total or {num_classes} per-class counts; "
            f"got {len(counts)} counts"
        )
    return counts


@dataclass(frozen=True)
class GenerationPlan:
    """What a generation run makes: labels `[N]` class by class, at one image size."""

    labels: np.ndarray
    size: int
    stage: int
    alpha: float
    channels: int
    seed: int


def plan_generation(
    checkpoint: LoadedCheckpoint, counts: Sequence[int], size: int | None, seed: int, batch_size: int
) -> GenerationPlan:
    """Check the request against the generator before any image is made."""
    if checkpoint.kind != GENERATOR:
        raise InputError(
            f"{checkpoint.path}: this is a {checkpoint.kind}; generating images needs a generator"
        )
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1; got {batch_size}")
    architecture = checkpoint.architecture
    per_class = counts_per_class(counts, architecture.num_classes)
    if sum(per_class) == 0:
        raise ConfigError("no images asked for; give a positive --total or --per-class counts")
    stage = resolve_stage(checkpoint, size)
    return GenerationPlan(
        labels=np.repeat(np.arange(architecture.num_classes), per_class),
        size=stage_size(stage),
        stage=stage,
        alpha=fade_alpha(checkpoint, stage),
        channels=architecture.image_channels,
        seed=seed,
    )


def generated_batches(
    checkpoint: LoadedCheckpoint,
    plan: GenerationPlan,
    *,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    compile_model: bool = False,
    reporter: Reporter | None = None,
) -> Iterator[np.ndarray]:
    """The planned images `[n, C, S, S]` float32, one batch at a time, so memory does not grow with N.

    The latent vectors come from one seeded generator in fixed blocks of `LATENT_BLOCK`, so the same seed
    gives the same images whatever `batch_size` is. A non-finite image (a damaged checkpoint) is an error.
    """
    model = compile_module(prepare_for_inference(checkpoint.model, device), compile_model)
    latents = _LatentStream(plan.seed, checkpoint.architecture.latent_size)
    reporter = reporter or SilentReporter()
    total = len(plan.labels)
    reporter.stage_started(f"generate {plan.size}x{plan.size}", total)
    with torch.inference_mode(), forward_precision(device, precision):
        for start in range(0, total, batch_size):
            stop = min(start + batch_size, total)
            z = latents.take(stop - start).to(device)
            batch_labels = torch.from_numpy(plan.labels[start:stop]).to(device)
            images = model(z, batch_labels, plan.alpha, plan.stage).float()
            if not bool(torch.isfinite(images).all()):
                raise InputError(
                    f"{checkpoint.path}: the generator produced NaN or infinite pixels; "
                    "its weights are damaged (use another checkpoint)"
                )
            yield images.cpu().numpy()
            reporter.advance(stop - start)
    reporter.stage_finished()


def generate_images(
    checkpoint: LoadedCheckpoint,
    counts: Sequence[int],
    *,
    size: int | None = None,
    seed: int = 0,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    compile_model: bool = False,
    reporter: Reporter | None = None,
) -> GenerationResult:
    """Generate `counts` images (one total or per class) at `size` (default: the checkpoint's own size)
    into memory; classes in order 0, 1, ... (`generate` streams them to a file instead)."""
    plan = plan_generation(checkpoint, counts, size, seed, batch_size)
    images = np.empty((len(plan.labels), plan.channels, plan.size, plan.size), dtype=np.float32)
    start = 0
    for batch in generated_batches(
        checkpoint,
        plan,
        batch_size=batch_size,
        device=device,
        precision=precision,
        compile_model=compile_model,
        reporter=reporter,
    ):
        images[start : start + len(batch)] = batch
        start += len(batch)
    return GenerationResult(images=images, labels=plan.labels, size=plan.size, seed=seed)


def generate(
    checkpoint: LoadedCheckpoint,
    counts: Sequence[int],
    path: str | os.PathLike[str],
    *,
    labels: str | os.PathLike[str] | None = None,
    preview: str | os.PathLike[str] | None = None,
    preview_per_class: int = 8,
    class_names: Sequence[str] = (),
    size: int | None = None,
    seed: int = 0,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    compile_model: bool = False,
    force: bool = False,
    reporter: Reporter | None = None,
) -> tuple[GenerationPlan, list[Path]]:
    """`pacgan generate`: stream the images into a stack, then write its labels and the optional preview.

    Memory holds one batch and the preview's images, however many images are made. Nothing is written
    unless every target may be written (existing files need `force`); returns the plan and the files.
    """
    plan = plan_generation(checkpoint, counts, size, seed, batch_size)
    targets = generation_targets(path, preview, labels, model=checkpoint.path)
    ensure_can_write(*targets, force=force)
    classes = range(checkpoint.architecture.num_classes)
    shown: dict[int, list[np.ndarray]] = {k: [] for k in classes}
    start = 0
    count = len(plan.labels)
    with StackWriter(targets[0], count, plan.channels, plan.size, plan.size, force=True) as writer:
        for batch in generated_batches(
            checkpoint,
            plan,
            batch_size=batch_size,
            device=device,
            precision=precision,
            compile_model=compile_model,
            reporter=reporter,
        ):
            writer.write(batch)
            for image, label in zip(batch, plan.labels[start : start + len(batch)], strict=True):
                if len(shown[int(label)]) < preview_per_class:
                    shown[int(label)].append(image)
            start += len(batch)
    write_synthetic_labels(targets[1], plan.labels, force=True)
    if preview is not None:
        rows = {k: np.stack(images) for k, images in shown.items() if images}
        _save_preview(preview, rows, class_names, plan.size, seed)
    return plan, targets


def synthetic_labels_path(path: str | os.PathLike[str]) -> Path:
    """`synth/a.nii.gz` -> `synth/a_labels.csv`: each stack its own labels, so stacks can share a folder."""
    path = Path(path)
    return path.with_name(f"{nifti_stem(path)}_labels.csv")


def generation_targets(
    path: str | os.PathLike[str],
    preview: str | os.PathLike[str] | None = None,
    labels: str | os.PathLike[str] | None = None,
    model: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """The files `save_generation` writes: the stack, its labels (default `<stem>_labels.csv` beside it),
    the optional preview; a ConfigError if two of them, or one of them and the `model` file, are one file."""
    path = Path(path)
    labels_path = Path(labels) if labels is not None else synthetic_labels_path(path)
    labels_name = "--labels-output" if labels is not None else f"the labels file {labels_path}"
    outputs = {"--output": path, labels_name: labels_path, "--preview": preview}
    ensure_distinct(outputs, {"--model": model})
    return [path, labels_path] + ([Path(preview)] if preview is not None else [])


def save_generation(
    result: GenerationResult,
    path: str | os.PathLike[str],
    *,
    labels: str | os.PathLike[str] | None = None,
    preview: str | os.PathLike[str] | None = None,
    preview_per_class: int = 8,
    class_names: Sequence[str] = (),
    force: bool = False,
) -> list[Path]:
    """Write the stack, its labels (`ID, Label`, the published `labels_syn.csv` layout; default
    `<stem>_labels.csv` beside the stack) and optionally a PNG grid (one row per class).

    Nothing is written unless every target may be written (existing files need `force`).
    """
    targets = generation_targets(path, preview, labels)
    ensure_can_write(*targets, force=force)
    path, labels_path = targets[:2]
    write_stack(path, result.images, force=True)
    write_synthetic_labels(labels_path, result.labels, force=True)
    if preview is not None:
        rows = {
            int(k): result.images[result.labels == k][:preview_per_class] for k in np.unique(result.labels)
        }
        _save_preview(preview, rows, class_names, result.size, result.seed)
    return targets


def _save_preview(
    path: str | os.PathLike[str],
    rows: dict[int, np.ndarray],
    class_names: Sequence[str],
    size: int,
    seed: int,
) -> None:
    """A PNG grid of generated images, one row per class (`rows`: class -> images `[n, C, S, S]`)."""
    from pacgan_cli.core.metrics.plots import save_image_rows

    titles = class_titles(class_names, max(rows) + 1)
    save_image_rows(
        path, list(rows.values()), [titles[k] for k in rows], title=f"Generated {size}x{size}, seed {seed}"
    )


class _LatentStream:
    """Latent vectors from one seeded generator, drawn in fixed-size blocks and handed out in any batch size."""

    def __init__(self, seed: int, latent_size: int) -> None:
        self.generator = torch.Generator().manual_seed(int(seed))
        self.latent_size = latent_size
        self.buffer = torch.empty(0, latent_size)

    def take(self, count: int) -> torch.Tensor:
        while len(self.buffer) < count:
            block = torch.randn(LATENT_BLOCK, self.latent_size, generator=self.generator)
            self.buffer = torch.cat([self.buffer, block])
        taken, self.buffer = self.buffer[:count], self.buffer[count:]
        return taken
