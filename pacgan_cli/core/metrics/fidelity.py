"""FID and KID on InceptionV3 pool features (2048-d), computed once per image set and reused.

The feature extractor is torch-fidelity's InceptionV3 (through torchmetrics' wrapper, which adds the
resize choice), built once from a local weights file and shared by FID and KID. Images `[N, C, S, S]` in
[-1, 1] are mapped to [0, 1], repeated to 3 channels when grey, quantised to uint8 exactly as torchmetrics
does with `normalize=True`, and resized to 299x299 inside the extractor.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pacgan_cli.core.errors import InputError
from pacgan_cli.core.metrics import RESIZE_MODES
from pacgan_cli.core.models.checkpoint import check_tensor_file_size

INCEPTION_URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
INCEPTION_FILE_NAME = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_WEIGHTS_VARIABLE = "PACGAN_INCEPTION_WEIGHTS"


@dataclass(frozen=True)
class KernelDistance:
    """KID as mean and (population) standard deviation over random subsets; NaN when it cannot be computed."""

    mean: float
    std: float
    subset_size: int


def inception_cache_path() -> Path:
    """Where torch-fidelity and torchmetrics download the weights to (torch hub's checkpoint cache)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE_NAME


def find_inception_weights(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The weights file: `explicit`, else `$PACGAN_INCEPTION_WEIGHTS`, else the torch hub cache; None if absent."""
    for candidate, origin in (
        (explicit, "--inception-weights"),
        (os.environ.get(INCEPTION_WEIGHTS_VARIABLE), INCEPTION_WEIGHTS_VARIABLE),
    ):
        if candidate:
            path = Path(candidate).expanduser()
            if not path.is_file():
                raise InputError(f"{path}: InceptionV3 weights file not found (given by {origin})")
            return path
    cached = inception_cache_path()
    return cached if cached.is_file() else None


def missing_weights_message() -> str:
    """One line: where to get the InceptionV3 weights, where to put them, and how to go on without them."""
    return (
        f"FID, KID and prdc need the InceptionV3 weights, which are not here and are not downloaded automatically: "
        f"download {INCEPTION_URL} and save it as {inception_cache_path()} "
        f"(or pass --inception-weights PATH, or set {INCEPTION_WEIGHTS_VARIABLE}); "
        "to go on without them add --skip-unavailable, which computes every other metric"
    )


def build_inception_extractor(weights: str | os.PathLike[str], resize: str = "antialias") -> nn.Module:
    """InceptionV3 returning 2048-d pool features for uint8 `[B, 3, H, W]` images; resized to 299 inside.

    The file is first read with `weights_only=True`, so nothing but tensors is ever unpickled, once its
    declared size is known to be within the checkpoint size limit.
    """
    from torchmetrics.image.fid import NoTrainInceptionV3

    if resize not in RESIZE_MODES:
        raise InputError(f"resize must be one of {', '.join(RESIZE_MODES)}; got {resize!r}")
    path = Path(weights)
    try:
        check_tensor_file_size(path)
        state = torch.load(path, map_location="cpu", weights_only=True)
    except InputError:
        raise
    except Exception as error:
        raise InputError(f"{path}: not a readable weights file ({str(error).splitlines()[0]})") from error
    if not isinstance(state, dict) or "fc.weight" not in state:
        raise InputError(f"{path}: not the torch-fidelity InceptionV3 weights; get {INCEPTION_URL}")
    try:
        extractor = NoTrainInceptionV3(
            name="inception-v3-compat",
            features_list=["2048"],
            feature_extractor_weights_path=str(path),
            antialias=resize == "antialias",
        )
    except RuntimeError as error:
        raise InputError(
            f"{path}: the weights do not fit InceptionV3 ({str(error).splitlines()[0]})"
        ) from error
    return extractor.eval()


def to_inception_input(images: torch.Tensor) -> torch.Tensor:
    """`[B, C, S, S]` in [-1, 1] -> uint8 `[B, 3, S, S]`: scaled to [0, 1], grey repeated, then x255 truncated."""
    scaled = ((images + 1) / 2).clamp(0, 1)
    if scaled.shape[1] == 1:
        scaled = scaled.repeat(1, 3, 1, 1)
    return (scaled * 255).to(torch.uint8)


@torch.no_grad()
def extract_features(
    images: np.ndarray, extractor: nn.Module, batch_size: int = 32, device: torch.device | str = "cpu"
) -> np.ndarray:
    """Features `[N, D]` float64 of `images` `[N, C, S, S]` in [-1, 1], in batches."""
    extractor = extractor.to(device)
    chunks = []
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(images[start : start + batch_size], dtype=np.float32))
        features = extractor(to_inception_input(batch).to(device))
        chunks.append(features.reshape(len(batch), -1).double().cpu().numpy())
    return np.concatenate(chunks)


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID between two feature sets `[N, D]` (each N >= 2): |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2).

    The trace of the matrix square root is the sum of the square roots of the eigenvalues of S_a S_b,
    as torchmetrics computes it, in float64.
    """
    if len(features_a) < 2 or len(features_b) < 2:
        return float("nan")
    a = torch.from_numpy(np.asarray(features_a, dtype=np.float64))
    b = torch.from_numpy(np.asarray(features_b, dtype=np.float64))
    mean_term = (a.mean(0) - b.mean(0)).square().sum()
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    root_trace = torch.linalg.eigvals(cov_a @ cov_b).sqrt().real.sum()
    return float(mean_term + cov_a.trace() + cov_b.trace() - 2 * root_trace)


def kernel_inception_distance(
    features_a: np.ndarray,
    features_b: np.ndarray,
    subset_size: int = 1000,
    subsets: int = 100,
    seed: int = 0,
) -> KernelDistance:
    """KID: unbiased MMD^2 with the cubic polynomial kernel `(x.y / D + 1)^3`, over random subsets.

    The subset size is capped at the smaller set, so small test sets still get a value; fewer than 2
    images in either set gives NaN.
    """
    from torchmetrics.image.kid import poly_mmd

    size = min(int(subset_size), len(features_a), len(features_b))
    if size < 2:
        return KernelDistance(float("nan"), float("nan"), size)
    a = torch.from_numpy(np.asarray(features_a, dtype=np.float64))
    b = torch.from_numpy(np.asarray(features_b, dtype=np.float64))
    generator = torch.Generator().manual_seed(int(seed))
    scores = []
    for _ in range(subsets):
        subset_a = a[torch.randperm(len(a), generator=generator)[:size]]
        subset_b = b[torch.randperm(len(b), generator=generator)[:size]]
        scores.append(float(poly_mmd(subset_a, subset_b)))
    return KernelDistance(float(np.mean(scores)), float(np.std(scores)), size)
