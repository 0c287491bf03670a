import numpy as np
import pytest

from helpers import make_separable_images
from pacgan_cli.core.metrics.tstr import (
    CLASSIFIERS,
    _pooled,
    score_classifier,
    small_cnn_probabilities,
)


def separable(count: int, seed: int, size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    labels = np.arange(count) % 2
    return make_separable_images(labels, size, seed), labels


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_classes_learnt_from_synthetic_images_separate_the_real_test_images(name: str) -> None:
    synthetic, synthetic_labels = separable(24, 1)
    test, test_labels = separable(16, 2)
    right = score_classifier(CLASSIFIERS[name], synthetic, synthetic_labels, test, test_labels, 2)
    assert right.auc_macro == 1.0 and right.accuracy == 1.0 and right.training_images == 24
    swapped = score_classifier(CLASSIFIERS[name], synthetic, 1 - synthetic_labels, test, test_labels, 2)
    assert swapped.auc_macro == 0.0 and swapped.accuracy == 0.0


def test_one_class_of_training_images_cannot_train_a_classifier() -> None:
    images, _ = separable(8, 1)
    test, test_labels = separable(8, 2)
    score = score_classifier(CLASSIFIERS["small_cnn"], images, np.zeros(8), test, test_labels, 2)
    assert score.auc_macro is None and score.note == "the training images hold one class"


def test_the_cnn_is_seeded_and_leaves_the_global_random_state_alone() -> None:
    import torch

    images, labels = separable(12, 1)
    torch.manual_seed(5)
    before = torch.rand(1)
    torch.manual_seed(5)
    first = small_cnn_probabilities(images, labels, images, 2, seed=3)
    assert torch.rand(1) == before
    assert np.array_equal(first, small_cnn_probabilities(images, labels, images, 2, seed=3))
    assert first.shape == (12, 2) and np.allclose(first.sum(axis=1), 1)


def test_images_larger_than_the_classifier_side_are_average_pooled() -> None:
    images = np.random.default_rng(0).uniform(-1, 1, size=(2, 1, 64, 64)).astype(np.float32)
    pooled = _pooled(images, 32)
    assert pooled.shape == (2, 1, 32, 32)
    assert pooled[1, 0, 3, 5] == pytest.approx(images[1, 0, 6:8, 10:12].mean(), abs=1e-6)
    assert _pooled(images[:, :, :16, :16], 32).shape == (2, 1, 16, 16)
