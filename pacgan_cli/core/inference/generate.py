"""Generating images with a trained generator, streamed in batches so memory does not grow with N.

`generate` is `pacgan generate` (load, check, run, write); `generate_images` keeps the images in memory."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from pacgan_cli.core.classes import class_titles, resolve_class_names
from pacgan_cli.core.errors import ConfigError, InputError
from pacgan_cli.core.inference.network import (
    InferenceSettings,
    fade_alpha,
    find_model,
    open_model,
    prepare_for_inference,
    resolve_stage,
    start_on_device,
)
from pacgan_cli.core.io.atomic import ensure_can_write, ensure_distinct
from pacgan_cli.core.io.nifti import StackWriter, nifti_stem, write_stack
from pacgan_cli.core.io.tables import write_synthetic_labels
from pacgan_cli.core.models.checkpoint import GENERATOR, LoadedCheckpoint
from pacgan_cli.core.progress import Reporter, SilentReporter
from pacgan_cli.core.runtime import compile_module, forward_precision
from pacgan_cli.core.stages import stage_size

LATENT_BLOCK = 256  # latent vectors are drawn in blocks of this many, whatever the batch size


@dataclass(frozen=True)
class GenerationRequest:
    """What `pacgan generate` makes: images from `model` (a checkpoint file or a loaded one, or the run folder
    of `pacgan train`: its largest stage's best generator; None: the run `pacgan train` last trained from the
    current folder), `total` split evenly over the classes or `per_class` counts, written to the stack
    `output` (None: a fresh `synthetic_<n>.nii.gz`, `default_generation_path`), its labels (default
    `<stem>_labels.csv` beside it) and an optional PNG preview."""

    model: str | os.PathLike[str] | LoadedCheckpoint | None = None
    output: str | os.PathLike[str] | None = None
    total: int | None = None
    per_class: tuple[int, ...] | None = None
    labels_output: str | os.PathLike[str] | None = None
    preview: str | os.PathLike[str] | None = None
    preview_per_class: int = 8
    class_names: tuple[str, ...] = ()  # for the preview; default: the names the model was trained with
    size: int | None = None  # default: the largest size the checkpoint reached
    seed: int = 0
    force: bool = False

    def __post_init__(self) -> None:
        if self.total is not None and self.per_class is not None:
            raise ConfigError("give either --per-class or --total, not both")
        if self.total is None and self.per_class is None:
            raise ConfigError("say how many images: --per-class N N ... (one per class) or --total N")


@dataclass(frozen=True)
class GenerationOutcome:
    """What `generate` made (`plan`: labels, size, seed), the images per class and the files written."""

    plan: GenerationPlan
    counts: tuple[int, ...]
    files: list[Path]  # the stack, its labels, the preview when asked for

    def summary_lines(self) -> list[str]:
        plan = self.plan
        return [
            f"{len(plan.labels)} images {plan.size}x{plan.size} (per class {list(self.counts)}), seed {plan.seed}"
        ]


def generate(
    request: GenerationRequest,
    settings: InferenceSettings = InferenceSettings(),
    reporter: Reporter | None = None,
) -> GenerationOutcome:
    """`pacgan generate`: load the generator, check the request, stream the images into the stack, then
    write its labels and the optional preview.

    Everything is checked before the first image (the outputs may be written and are distinct files, none
    of them the model; the counts and size fit the model), and nothing is written unless all of it passes.
    Memory holds one batch and the preview's images, however many images are made.
    """
    path, note = find_model(request.model, GENERATOR)
    output = request.output if request.output is not None else default_generation_path(request.model)
    targets = generation_targets(output, request.preview, request.labels_output, model=path)
    ensure_can_write(*targets, force=request.force)
    checkpoint = open_model(request.model, path, GENERATOR)
    num_classes = checkpoint.architecture.num_classes
    counts = _requested_counts(request, num_classes)
    plan = plan_generation(checkpoint, counts, request.size, request.seed, settings.batch_size)
    names = resolve_class_names(request.class_names, checkpoint.config, num_classes)
    device, reporter = start_on_device(settings, checkpoint, reporter or SilentReporter(), "generating", note)
    settings = replace(settings, device=device)
    shown = _write_streamed(checkpoint, plan, targets, settings, reporter, request.preview_per_class)
    if request.preview is not None:
        _save_preview(request.preview, shown, names, plan.size, plan.seed)
    return GenerationOutcome(plan, tuple(counts), targets)


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
    settings: InferenceSettings = InferenceSettings(),
    reporter: Reporter | None = None,
) -> Iterator[np.ndarray]:
    """The planned images `[n, C, S, S]` float32, one batch at a time, so memory does not grow with N.

    The latent vectors come from one seeded generator in fixed blocks of `LATENT_BLOCK`, so the same seed
    gives the same images whatever `batch_size` is. A non-finite image (a damaged checkpoint) is an error.
    """
    device, batch_size = settings.device, settings.batch_size
    model = compile_module(prepare_for_inference(checkpoint.model, device), settings.compile_model)
    latents = _LatentStream(plan.seed, checkpoint.architecture.latent_size)
    reporter = reporter or SilentReporter()
    total = len(plan.labels)
    reporter.stage_started(f"generate {plan.size}x{plan.size}", total)
    with torch.inference_mode(), forward_precision(device, settings.precision):
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
    into memory; classes in order 0, 1, ... (`generate` streams them to a file instead).

    Keywords rather than `InferenceSettings`, as `classify_images` takes them: the in-memory Python API."""
    plan = plan_generation(checkpoint, counts, size, seed, batch_size)
    images = np.empty((len(plan.labels), plan.channels, plan.size, plan.size), dtype=np.float32)
    start = 0
    settings = InferenceSettings(batch_size, device, precision, compile_model)
    for batch in generated_batches(checkpoint, plan, settings, reporter):
        images[start : start + len(batch)] = batch
        start += len(batch)
    return GenerationResult(images=images, labels=plan.labels, size=plan.size, seed=seed)


def default_generation_path(model: str | os.PathLike[str] | LoadedCheckpoint | None) -> Path:
    """Where `generate` writes without `-o`: `synthetic_<n>.nii.gz`, n the first number from 1 whose stack
    and labels file are both free (so nothing is overwritten), in the run's `generated/` folder when the
    model is a run (None: the run last trained from the current folder, in its image directory; a run
    folder), else in the current folder. `pacgan train --force` clears a run's `generated/` folder."""
    from pacgan_cli.core.io.run_layout import RunLayout, last_run

    if model is None:
        folder = last_run().end_of_run.generated_directory
    elif not isinstance(model, LoadedCheckpoint) and Path(model).is_dir():
        folder = RunLayout(Path(model), Path(model)).end_of_run.generated_directory
    else:
        folder = Path(".")
    number = 1
    while (folder / f"synthetic_{number}.nii.gz").exists() or (
        folder / f"synthetic_{number}_labels.csv"
    ).exists():
        number += 1
    return folder / f"synthetic_{number}.nii.gz"


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
    """The files `generate` and `save_generation` write: the stack, its labels (default `<stem>_labels.csv` beside it),
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


def _requested_counts(request: GenerationRequest, num_classes: int) -> list[int]:
    """The images per class: `total` split evenly, or `per_class`, which needs one count per class."""
    if request.total is not None:
        return counts_per_class([request.total], num_classes)
    per_class = request.per_class or ()
    if len(per_class) != num_classes:
        raise InputError(
            f"the model has {num_classes} classes, so --per-class needs {num_classes} counts; "
            f"got {len(per_class)} (use --total N to split N images evenly)"
        )
    return counts_per_class(per_class, num_classes)


def _write_streamed(
    checkpoint: LoadedCheckpoint,
    plan: GenerationPlan,
    targets: list[Path],
    settings: InferenceSettings,
    reporter: Reporter,
    preview_per_class: int,
) -> dict[int, np.ndarray]:
    """Stream the images into `targets[0]` and their labels into `targets[1]`; returns the first
    `preview_per_class` images of each class that has any, `[n, C, S, S]`, for the preview."""
    shown: dict[int, list[np.ndarray]] = {k: [] for k in range(checkpoint.architecture.num_classes)}
    start = 0
    with StackWriter(targets[0], len(plan.labels), plan.channels, plan.size, plan.size, force=True) as writer:
        for batch in generated_batches(checkpoint, plan, settings, reporter):
            writer.write(batch)
            for image, label in zip(batch, plan.labels[start : start + len(batch)], strict=True):
                if len(shown[int(label)]) < preview_per_class:
                    shown[int(label)].append(image)
            start += len(batch)
    write_synthetic_labels(targets[1], plan.labels, force=True)
    return {k: np.stack(images) for k, images in shown.items() if images}


def _save_preview(
    path: str | os.PathLike[str],
    rows: dict[int, np.ndarray],
    class_names: Sequence[str],
    size: int,
    seed: int,
) -> None:
    """A PNG grid of generated images, one row per class (`rows`: class -> images `[n, C, S, S]`)."""
    from pacgan_cli.core.figures import save_image_rows

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
