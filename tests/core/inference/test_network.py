"""What generation and classification share (inference/network.py): the stage of a size, checked images,
precision."""

from pathlib import Path

import numpy as np
import pytest

from helpers import THREE_CLASSES, saved_checkpoint
from pacgan_cli.core.errors import ConfigError, InputError
from pacgan_cli.core.inference import classify_images, generate_images
from pacgan_cli.core.models.checkpoint import DISCRIMINATOR, GENERATOR, load_checkpoint, save_checkpoint


def test_generation_at_a_smaller_size_and_size_errors(generator) -> None:
    assert generate_images(generator, [3], size=8).images.shape == (3, 1, 8, 8)
    with pytest.raises(InputError, match="not a stage size"):
        generate_images(generator, [3], size=12)
    with pytest.raises(InputError, match="beyond"):
        generate_images(generator, [3], size=32)
    with pytest.raises(ConfigError, match="no images"):
        generate_images(generator, [0])


def test_generation_refuses_a_size_beyond_the_trained_stage(tmp_path: Path) -> None:
    model = THREE_CLASSES.build(GENERATOR)
    path = save_checkpoint(tmp_path / "G1.pt", model, THREE_CLASSES, epoch=1, stage=1, alpha=1.0)
    checkpoint = load_checkpoint(path)
    assert generate_images(checkpoint, [3]).size == 8
    with pytest.raises(InputError, match="trained up to 8x8"):
        generate_images(checkpoint, [3], size=16)


def test_classify_rejects_wrong_channels_sizes_and_kinds(
    tmp_path: Path, images: np.ndarray, generator
) -> None:
    checkpoint = load_checkpoint(saved_checkpoint(tmp_path, DISCRIMINATOR, "D.pt", batch_statistic=0.7))
    with pytest.raises(InputError, match="expects 1"):
        classify_images(checkpoint, np.repeat(images, 3, axis=1))
    with pytest.raises(InputError, match="not a stage size"):
        classify_images(checkpoint, np.zeros((2, 1, 12, 12), np.float32))
    with pytest.raises(InputError, match="no images"):
        classify_images(checkpoint, np.zeros((0, 1, 16, 16), np.float32))
    with pytest.raises(InputError, match="belongs to size 16"):
        classify_images(checkpoint, images[:, :, ::2, ::2])
    with pytest.raises(InputError, match="needs a discriminator"):
        classify_images(generator, images)


def test_bf16_generation_and_classification_stay_close_to_fp32(tmp_path: Path, images: np.ndarray) -> None:
    generator = load_checkpoint(saved_checkpoint(tmp_path, GENERATOR, "G.pt"))
    fp32 = generate_images(generator, [4, 4, 4], seed=1).images
    bf16 = generate_images(generator, [4, 4, 4], seed=1, precision="bf16").images
    assert bf16.dtype == np.float32 and np.abs(bf16 - fp32).mean() < 0.03  # bf16 keeps 8 bits of mantissa
    critic = load_checkpoint(saved_checkpoint(tmp_path, DISCRIMINATOR, "D.pt"))
    exact = classify_images(critic, images, reference=images).probabilities
    rounded = classify_images(critic, images, reference=images, precision="bf16").probabilities
    assert np.abs(rounded - exact).max() < 0.05
