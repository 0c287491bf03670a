"""Shared test helpers: tiny, clearly separable two-class image sets in the published folder layout,
configs for tiny networks, saved tiny networks, generated cohorts, reading a run's metrics, and running the
CLI in-process. The one importable helper module of the tests (fixtures live in the conftest.py files)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from torch import nn

from pacgan_cli.core.config import TrainingConfig
from pacgan_cli.core.evaluation.inputs import ImageSet
from pacgan_cli.core.io.nifti import write_stack
from pacgan_cli.core.models.checkpoint import (
    DISCRIMINATOR,
    LoadedCheckpoint,
    NetworkArchitecture,
    load_checkpoint,
    save_checkpoint,
)
from pacgan_cli.core.progress import SilentReporter
from pacgan_cli.core.training.losses import critic_loss, gradient_penalty
from pacgan_cli.core.training.networks import Networks

TINY_NETWORK = {"in_channels": 8, "z_dim": 8, "embedding_dim": 3}
# The keys of a metrics.jsonl line that change from run to run of the same seed.
TIMING_KEYS = {"seconds", "images_per_s", "time"}
# A run with ada whose p moves by a visible step each epoch.
ADA = {"augment": "ada", "ada_step": 0.1, "progressive_epochs": 4, "seed": 3}
# The tiny three-class network of the inference tests (16x16 at stage 2).
THREE_CLASSES = NetworkArchitecture(
    base_channels=8, factors=(1.0, 1.0, 0.5), image_channels=1, num_classes=3, latent_size=6, embedding_size=2
)


def make_separable_images(labels: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """Class 0: a bright left half, class 1: a bright right half, plus noise; [N, 1, S, S] in [-1, 1]."""
    rng = np.random.default_rng(seed)
    images = np.full((len(labels), 1, size, size), -0.8, dtype=np.float32)
    half = size // 2
    for index, label in enumerate(labels):
        if label == 0:
            images[index, 0, :, :half] = 0.8
        else:
            images[index, 0, :, half:] = 0.8
    images += rng.normal(0, 0.1, images.shape).astype(np.float32)
    return np.clip(images, -1, 1)


def write_data_folder(folder: Path, count: int, max_size: int, seed: int = 0) -> Path:
    """`Real{S}x{S}.nii.gz` for S = 4..max_size and labels.csv (two images per subject)."""
    folder.mkdir(parents=True, exist_ok=True)
    subjects = [f"S_{index // 2:04d}" for index in range(count)]
    labels = np.array([(index // 2) % 2 for index in range(count)])  # a subject's two images share its label
    size = 4
    while size <= max_size:
        write_stack(folder / f"Real{size}x{size}.nii.gz", make_separable_images(labels, size, seed))
        size *= 2
    pd.DataFrame({"ID": np.arange(count), "Label": labels, "Subject_ID": subjects}).to_csv(
        folder / "labels.csv", index=False
    )
    return folder


def separable_set(count: int, seed: int, size: int = 16) -> ImageSet:
    """`count` separable images of two alternating classes as an evaluation image set named `set{seed}`."""
    labels = np.arange(count) % 2
    return ImageSet(make_separable_images(labels, size, seed), labels, f"set{seed}")


class PooledPixels(nn.Module):
    """Stands in for InceptionV3 in evaluation tests: uint8 [B, 3, H, W] -> 2x2 mean pixels, [B, 12]."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return nn.functional.adaptive_avg_pool2d(images.float() / 255, 2).flatten(1)


def use_pooled_pixel_features(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Make `evaluate` find a weights file and build `PooledPixels` from it, for the metrics that need one."""
    from pacgan_cli.core.metrics import fidelity

    weights = tmp_path / "weights.pth"
    weights.write_bytes(b"x")
    monkeypatch.setattr(fidelity, "find_inception_weights", lambda explicit=None: weights)
    monkeypatch.setattr(
        fidelity, "build_inception_extractor", lambda path, resize="antialias": PooledPixels()
    )


def tiny_config(data: Path, **changes: object) -> dict[str, object]:
    """A config for a 4..16 run with a tiny network, one epoch per stage."""
    config: dict[str, object] = {
        "data_train_directory": str(data / "train"),
        "label_train_directory": str(data / "train" / "labels.csv"),
        "data_test_directory": str(data / "test"),
        "label_test_directory": str(data / "test" / "labels.csv"),
        **TINY_NETWORK,
        "factors": [1, 1, 1],
        "batch_sizes": 8,
        "progressive_epochs": 1,
        "validate": False,
        "generate": False,
        "samples_per_class": 2,
    }
    config.update(changes)
    return config


def write_config(path: Path, config: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def make_run_folder(root: Path, *, validate: bool = True, seed: int = 0) -> Path:
    """A run folder as `pacgan train` leaves it, as far as `classify --fit-temperature` reads it: config.yaml
    and the 16x16 stage's best discriminator (random weights, seeded), over `root/data/train` (40 images,
    20 subjects)."""
    from pacgan_cli.core.config import config_to_yaml, resolve_config
    from pacgan_cli.core.models.checkpoint import DISCRIMINATOR, NetworkArchitecture, save_checkpoint

    data = root / "data"
    write_data_folder(data / "train", 40, 16, seed=1)
    run = root / "run"
    (run / "PACGAN_16x16").mkdir(parents=True)
    config = resolve_config(write_config(root / "config.yaml", tiny_config(data, validate=validate)))
    (run / "config.yaml").write_text(config_to_yaml(config))
    architecture = NetworkArchitecture(8, (1.0, 1.0, 1.0), 1, 2, 6, 2)
    torch.manual_seed(seed)
    save_checkpoint(
        run / "PACGAN_16x16" / "discriminator_best.pt",
        architecture.build(DISCRIMINATOR),
        architecture,
        epoch=1,
        stage=2,
        alpha=1,
        batch_statistic=0.4,
    )
    return run


def saved_checkpoint(folder: Path, kind: str, name: str, **extra: object) -> Path:
    """A `THREE_CLASSES` network of `kind` (seeded weights) saved in our format at stage 2 as `folder/name`."""
    torch.manual_seed(3)
    model = THREE_CLASSES.build(kind)
    return save_checkpoint(folder / name, model, THREE_CLASSES, epoch=1, stage=2, alpha=1.0, **extra)


def published_checkpoint(folder: Path, kind: str, name: str) -> Path:
    """The published format: only epoch and model_state_dict, DataParallel prefixes, no architecture."""
    torch.manual_seed(3)
    model = THREE_CLASSES.build(kind)
    state = {f"module.{key}": value for key, value in model.state_dict().items()}
    torch.save({"epoch": 5, "model_state_dict": state, "optimizer_state_dict": {}}, folder / name)
    return folder / name


def small_discriminator(folder: Path, size: int = 16, config: dict | None = None) -> LoadedCheckpoint:
    """A two-class discriminator with 4 base channels trained (randomly) up to `size`, with a batch
    statistic and, when given, a training `config` (e.g. its class names)."""
    stages = int(np.log2(size // 4)) + 1
    architecture = NetworkArchitecture(4, (1.0,) * stages, 1, 2, 6, 2)
    path = save_checkpoint(
        folder / f"D{size}.pt",
        architecture.build(DISCRIMINATOR),
        architecture,
        epoch=1,
        stage=stages - 1,
        alpha=1.0,
        batch_statistic=0.3,
        config=config,
    )
    return load_checkpoint(path)


class Recorder:
    """A Reporter that keeps its messages and stage names, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def stage_started(self, name: str, total: int, **info: object) -> None:
        self.events.append(f"stage {name}")

    def advance(self, steps: int = 1, **info: object) -> None:
        pass

    def stage_finished(self, **info: object) -> None:
        pass

    def message(self, text: str) -> None:
        self.events.append(text)


class StopInStage(SilentReporter):
    """Sends this process SIGTERM during the given stage's given batch, as a user's kill would."""

    def __init__(self, stage: int, batch: int) -> None:
        self.stage, self.batch, self.stages, self.batches = stage, batch, -1, 0

    def stage_started(self, name: str, total: int, **info: Any) -> None:
        self.stages, self.batches = self.stages + 1, 0

    def advance(self, steps: int = 1, **info: Any) -> None:
        self.batches += steps
        if self.stages == self.stage and self.batches == self.batch and steps:
            os.kill(os.getpid(), signal.SIGTERM)


def epochs(run: Path) -> list[dict[str, Any]]:
    """The epoch lines of a run's metrics.jsonl without their timing keys."""
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [
        {k: v for k, v in line.items() if k not in TIMING_KEYS} for line in lines if line["event"] == "epoch"
    ]


def stored_probability(run: Path, size: int) -> float | None:
    """The ada probability stored in the last discriminator checkpoint of a run's stage `size`."""
    return load_checkpoint(run / f"PACGAN_{size}x{size}" / "discriminator_last.pt").augment_probability


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run `pacgan ARGS` in-process through the real entry point; returns (exit code, stdout, stderr)."""
    import sys

    from pacgan_cli.cli.app import main

    saved = sys.argv
    sys.argv = ["pacgan", *args]
    try:
        main()
        code = 0
    except SystemExit as exit_request:
        code = (
            exit_request.code
            if isinstance(exit_request.code, int)
            else (0 if exit_request.code is None else 1)
        )
    finally:
        sys.argv = saved
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def reference_critic_step(
    networks: Networks,
    real: torch.Tensor,
    labels: torch.Tensor,
    alpha: float,
    stage: int,
    config: TrainingConfig,
    batched: bool,
) -> dict[str, torch.Tensor]:
    """A critic update written out plainly in fp32, to check `critic_step` against: real and fake in one
    critic call (each half with its own statistic) or, as before batching, in two."""
    z = torch.randn(real.shape[0], config.z_dim)
    with torch.no_grad():
        fake = networks.generator(z, labels, alpha, stage)
    if batched:
        scores, logits = networks.discriminator(torch.cat([real, fake]), alpha, stage, groups=2)
        (real_scores, fake_scores), (real_logits, fake_logits) = scores.chunk(2), logits.chunk(2)
    else:
        real_scores, real_logits = networks.discriminator(real, alpha, stage)
        fake_scores, fake_logits = networks.discriminator(fake, alpha, stage)
    mix = torch.rand(real.shape[0], 1, 1, 1)
    penalty = gradient_penalty(networks.discriminator, real, fake, alpha, stage, mix)
    terms = critic_loss(
        real_scores,
        fake_scores,
        real_logits,
        fake_logits,
        labels,
        penalty,
        lambda_cls_real=config.lambda_cls_1,
        lambda_cls_fake=config.lambda_cls_2,
        lambda_gp=config.lambda_gp,
        drift_weight=config.drift_weight,
    )
    networks.critic_optimizer.zero_grad(set_to_none=True)
    terms["d_loss"].backward()
    networks.critic_optimizer.step()
    return terms


def train_as_rank(
    rank: int,
    world_size: int,
    store: str,
    config: dict[str, object],
    output: str,
    resume: bool = False,
    stop_after: int | None = None,
) -> None:
    """One process of a distributed run (torch.multiprocessing target): joins a file-store group with gloo
    and trains; writes its final weights digest to `digest-{rank}.txt` beside `output`, or the error that
    stopped it to `error-{rank}.txt`. With `stop_after`, rank 1 alone acts as if SIGTERM came at its
    `stop_after`+1-th look at the stop request."""
    import os
    import signal

    import torch
    import torch.distributed as dist

    from pacgan_cli.core.config import build_config
    from pacgan_cli.core.errors import PacganError
    from pacgan_cli.core.training import loop
    from pacgan_cli.core.training.resume import StopRequest

    class LateStop(StopRequest):
        def __init__(self, after: int) -> None:
            super().__init__()
            self.looks = 0
            self.after = after

        def __bool__(self) -> bool:
            self.looks += 1
            if self.looks > self.after:
                self.signal = signal.SIGTERM
            return self.signal is not None

    if stop_after is not None and rank == 1:
        import contextlib

        loop.stop_on_signals = lambda: contextlib.nullcontext(LateStop(stop_after))  # type: ignore[assignment]
    os.environ["LOCAL_RANK"] = str(rank)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world_size)
    folder = Path(output).parent
    try:
        result = loop.train(build_config(config), output=Path(output), resume=resume)
        (folder / f"digest-{rank}.txt").write_text(str(result.weights_digest))
    except PacganError as error:
        (folder / f"error-{rank}.txt").write_text(f"{type(error).__name__}: {error}")
    finally:
        dist.destroy_process_group()


def write_dicom(
    path: Path,
    stored: np.ndarray,
    *,
    slope: float | None = None,
    intercept: float | None = None,
    window: tuple[float, float] | None = None,
    photometric: str = "MONOCHROME2",
    patient: str = "P1",
    bits_stored: int = 12,
) -> Path:
    """A DICOM file written with pydicom: `stored` `[rows, columns]`, `[frames, rows, columns]` (a multi-frame
    file) or `[rows, columns, 3]` uint8 RGB; uncompressed, with the given rescale and window."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    rgb = stored.ndim == 3 and stored.shape[-1] == 3 and stored.dtype == np.uint8
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID, dataset.SOPInstanceUID = (
        meta.MediaStorageSOPClassUID,
        meta.MediaStorageSOPInstanceUID,
    )
    dataset.PatientID = patient
    dataset.Rows, dataset.Columns = stored.shape[-3:-1] if rgb else stored.shape[-2:]
    if stored.ndim == 3 and not rgb:
        dataset.NumberOfFrames = stored.shape[0]
    dataset.SamplesPerPixel = 3 if rgb else 1
    dataset.PhotometricInterpretation = "RGB" if rgb else photometric
    if rgb:
        dataset.PlanarConfiguration = 0
    dataset.BitsAllocated = 8 if rgb else 16
    dataset.BitsStored = 8 if rgb else bits_stored
    dataset.HighBit = dataset.BitsStored - 1
    dataset.PixelRepresentation = 0
    if slope is not None:
        dataset.RescaleSlope, dataset.RescaleIntercept = slope, intercept
    if window is not None:
        dataset.WindowCenter, dataset.WindowWidth = window
    dataset.PixelData = stored.astype(np.uint8 if rgb else np.uint16).tobytes()
    dataset.save_as(path, enforce_file_format=True)
    return path


def png_bytes(width: int, height: int, bit_depth: int, colour_type: int, rows: bytes = b"") -> bytes:
    """A PNG file by hand: the header claims `width`x`height` at `bit_depth` and `colour_type` (0 grey,
    2 RGB), whatever the compressed `rows` hold. Pillow cannot write 16-bit colour, nor a lying header."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def make_cohort(
    subjects: int = 200,
    age_gap: float = 4.0,
    seed: int = 0,
    max_images: int = 3,
    female_share: tuple[float, float] = (0.45, 0.55),
) -> pd.DataFrame:
    """One row per image: Image_Index, Subject_ID, Group (AD/CN alternating), Age, Sex.

    AD subjects are on average `age_gap` years older; a subject's later scans are a year apart.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for subject in range(subjects):
        patient = subject % 2 == 0
        age = rng.normal(75 + (age_gap / 2 if patient else -age_gap / 2), 6)
        sex = "F" if rng.random() < female_share[0 if patient else 1] else "M"
        for visit in range(int(rng.integers(1, max_images + 1))):
            rows.append(
                {
                    "Image_Index": len(rows),
                    "Subject_ID": f"S{subject:04d}",
                    "Group": "AD" if patient else "CN",
                    "Age": round(age + visit, 1),
                    "Sex": sex,
                }
            )
    return pd.DataFrame(rows)


def make_images(count: int, size: int = 8, seed: int = 0) -> np.ndarray:
    """Non-negative `[count, 1, size, size]` float32 images with different maxima, like raw MRI slices."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 1, (count, 1, size, size)) * rng.uniform(50, 500, (count, 1, 1, 1))
    return images.astype(np.float32)
