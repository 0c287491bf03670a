"""Evaluation throughput: SSIM pairs/s (against scikit-image pair by pair, as published) and InceptionV3
feature images/s for FID/KID."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import Row
from pacgan_cli.core.metrics.fidelity import (
    build_inception_extractor,
    extract_features,
    find_inception_weights,
)
from pacgan_cli.core.metrics.similarity import same_class_pair_ssim


def ssim(pairs_per_class: int, size: int = 256) -> list[Row]:
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (200, 1, size, size)).astype(np.float32)
    other = rng.uniform(-1, 1, (200, 1, size, size)).astype(np.float32)
    labels = np.repeat([0, 1], 100)
    started = time.perf_counter()
    same_class_pair_ssim(images, labels, other, labels, 2, pairs_per_class=pairs_per_class)
    ours = 2 * pairs_per_class / (time.perf_counter() - started)
    sample = 50
    started = time.perf_counter()
    for index in range(sample):
        structural_similarity(images[index, 0], other[index, 0], data_range=2)
    reference = sample / (time.perf_counter() - started)
    case = f"SSIM {size}x{size}, {pairs_per_class} pairs per class, 2 classes"
    return [
        Row("metrics", case, "scikit-image pair by pair", reference, "pairs/s"),
        Row("metrics", case, "ours batched", ours, "pairs/s", ours / reference),
    ]


def inception_features(count: int, device: torch.device, size: int = 256) -> list[Row]:
    """Feature extraction speed; random weights stand in when the real file is absent (speed does not
    depend on the weights' values)."""
    weights = find_inception_weights()
    note = "real weights" if weights is not None else "random weights"
    with tempfile.TemporaryDirectory() as folder:
        if weights is None:
            weights = Path(folder) / "random-inception.pth"
            torch.save(random_inception_state(), weights)
        extractor = build_inception_extractor(weights)
    images = np.random.default_rng(0).uniform(-1, 1, (count, 1, size, size)).astype(np.float32)
    extract_features(images[:8], extractor, device=device)  # warm-up
    started = time.perf_counter()
    extract_features(images, extractor, device=device)
    rate = count / (time.perf_counter() - started)
    return [
        Row(
            "metrics", f"InceptionV3 features {size}x{size}, {count} images", "ours", rate, "img/s", note=note
        )
    ]


def random_inception_state() -> dict[str, torch.Tensor]:
    """A state dict of torch-fidelity's InceptionV3 with random values (the real file is a download)."""
    import torch_fidelity.feature_extractor_inceptionv3 as inception

    load, download = inception.FeatureExtractorInceptionV3.load_state_dict, inception.load_state_dict_from_url
    inception.FeatureExtractorInceptionV3.load_state_dict = lambda self, state: None
    inception.load_state_dict_from_url = lambda *args, **kwargs: {}
    try:
        return inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"]).state_dict()
    finally:
        inception.FeatureExtractorInceptionV3.load_state_dict = load
        inception.load_state_dict_from_url = download
