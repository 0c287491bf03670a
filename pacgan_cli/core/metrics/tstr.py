"""Train on synthetic, test on real: do classifiers learnt from the synthetic images separate the real classes?

Two fixed, small classifiers, each trained once on the synthetic images with their labels and once on the
real training images, and both tested on the same real test images. The first is the measure of what the
generator captured of the class difference, independent of the discriminator; the second is what the
same classifier reaches with real data, the yardstick. Everything is seeded and the budgets are fixed, so
a number changes only with the images.

- Logistic regression on pixels: images average-pooled to at most 32x32, standardised per pixel with the
  training images' statistics, L2-regularised (C = 1), lbfgs, up to 1000 iterations (scikit-learn).
- A small CNN: images average-pooled to at most 64x64; conv 3x3 (16) - ReLU - max-pool 2 - conv 3x3 (32) -
  ReLU - max-pool 2 - global average - linear; Adam (lr 1e-3), 200 steps of 32 images, cross-entropy;
  on one CPU thread, the project's rule for networks this small (more threads only wait for each other).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from pacgan_cli.core.metrics.classification import one_vs_rest_auc

LOGISTIC_SIDE = 32
LOGISTIC_C = 1.0
LOGISTIC_ITERATIONS = 1000
CNN_SIDE = 64
CNN_STEPS = 200
CNN_BATCH = 32
CNN_LEARNING_RATE = 1e-3


@dataclass(frozen=True)
class ClassifierScore:
    """One classifier trained on one set and tested on the real test images; None scores when it could
    not be trained (`note` says why)."""

    training_images: int
    accuracy: float | None
    auc_macro: float | None
    auc_per_class: tuple[float, ...]
    note: str = ""

    def to_data(self) -> dict[str, object]:
        return {
            "training_images": self.training_images,
            "accuracy": self.accuracy,
            "auc_macro": self.auc_macro,
            "auc_per_class": list(self.auc_per_class),
            "note": self.note,
        }


Classifier = Callable[[np.ndarray, np.ndarray, np.ndarray, int, int], np.ndarray]


def logistic_regression_probabilities(
    train_images: np.ndarray, train_labels: np.ndarray, test_images: np.ndarray, num_classes: int, seed: int
) -> np.ndarray:
    """Class probabilities `[N_test, K]` of a logistic regression on pooled, standardised pixels."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    train = _pooled(train_images, LOGISTIC_SIDE).reshape(len(train_images), -1)
    test = _pooled(test_images, LOGISTIC_SIDE).reshape(len(test_images), -1)
    scaler = StandardScaler().fit(train)
    model = LogisticRegression(C=LOGISTIC_C, max_iter=LOGISTIC_ITERATIONS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(scaler.transform(train), train_labels)
    probabilities = np.zeros((len(test), num_classes))
    probabilities[:, model.classes_] = model.predict_proba(scaler.transform(test))
    return probabilities


def small_cnn_probabilities(
    train_images: np.ndarray, train_labels: np.ndarray, test_images: np.ndarray, num_classes: int, seed: int
) -> np.ndarray:
    """Class probabilities `[N_test, K]` of the small CNN after its fixed training budget."""
    train = torch.from_numpy(_pooled(train_images, CNN_SIDE))
    labels = torch.tensor(np.asarray(train_labels), dtype=torch.int64)
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = small_cnn(train.shape[1], num_classes)
    optimiser = torch.optim.Adam(model.parameters(), lr=CNN_LEARNING_RATE)
    model.train()
    with _one_cpu_thread():
        _train_steps(model, optimiser, train, labels, generator)
    model.eval()
    test = torch.from_numpy(_pooled(test_images, CNN_SIDE))
    with torch.inference_mode(), _one_cpu_thread():
        logits = torch.cat([model(test[start : start + 256]) for start in range(0, len(test), 256)])
    return logits.softmax(dim=1).double().numpy()


def small_cnn(channels: int, num_classes: int) -> nn.Module:
    """The fixed small CNN (see the module docstring); works from 4x4 images up."""
    return nn.Sequential(
        nn.Conv2d(channels, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, num_classes),
    )


CLASSIFIERS: dict[str, Classifier] = {
    "logistic_regression": logistic_regression_probabilities,
    "small_cnn": small_cnn_probabilities,
}
DESCRIPTIONS = {
    "logistic_regression": (
        f"logistic regression on pixels (average-pooled to at most {LOGISTIC_SIDE}x{LOGISTIC_SIDE}, "
        f"standardised per pixel, L2 with C = {LOGISTIC_C}, lbfgs, up to {LOGISTIC_ITERATIONS} iterations; "
        "scikit-learn)"
    ),
    "small_cnn": (
        f"small CNN (average-pooled to at most {CNN_SIDE}x{CNN_SIDE}; conv 3x3 16 - ReLU - max-pool - "
        "conv 3x3 32 - ReLU - max-pool - global average - linear; Adam lr "
        f"{CNN_LEARNING_RATE:g}, {CNN_STEPS} steps of {CNN_BATCH} images, one CPU thread; PyTorch)"
    ),
}


ONE_CLASS = "the training images hold one class"


def score_classifier(
    classifier: Classifier,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    num_classes: int,
    seed: int = 0,
) -> ClassifierScore:
    """Train `classifier` on one set, test it on the real test images: accuracy and one-vs-rest ROC AUC."""
    probabilities = trained_probabilities(
        classifier, train_images, train_labels, test_images, num_classes, seed
    )
    return score_probabilities(len(train_labels), probabilities, test_labels)


def trained_probabilities(
    classifier: Classifier,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    num_classes: int,
    seed: int = 0,
) -> np.ndarray | None:
    """Class probabilities `[N_test, K]` of `classifier` trained on one set; None when that set holds one
    class (nothing to learn)."""
    train_labels = np.asarray(train_labels, dtype=np.int64)
    if len(np.unique(train_labels)) < 2:
        return None
    return classifier(train_images, train_labels, test_images, num_classes, seed)


def score_probabilities(
    training_images: int, probabilities: np.ndarray | None, test_labels: np.ndarray
) -> ClassifierScore:
    """Accuracy and one-vs-rest ROC AUC of test-image probabilities (None: a one-class training set)."""
    if probabilities is None:
        return ClassifierScore(training_images, None, None, (), ONE_CLASS)
    per_class, macro = one_vs_rest_auc(test_labels, probabilities)
    accuracy = float((probabilities.argmax(axis=1) == np.asarray(test_labels)).mean())
    return ClassifierScore(training_images, accuracy, macro, per_class)


def _train_steps(
    model: nn.Module,
    optimiser: torch.optim.Optimizer,
    train: torch.Tensor,
    labels: torch.Tensor,
    generator: torch.Generator,
) -> None:
    """The fixed budget: `CNN_STEPS` batches of `CNN_BATCH` images (all of them when fewer), drawn without
    replacement within each pass over the data."""
    order = torch.randperm(len(train), generator=generator)
    position = 0
    for _ in range(CNN_STEPS):
        if position + CNN_BATCH > len(order):
            order, position = torch.randperm(len(train), generator=generator), 0
        rows = order[position : position + CNN_BATCH]
        position += CNN_BATCH
        loss = nn.functional.cross_entropy(model(train[rows]), labels[rows])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()


def _pooled(images: np.ndarray, side: int) -> np.ndarray:
    """`[N, C, S, S]` average-pooled to at most `side` x `side`, float32."""
    tensor = torch.tensor(np.asarray(images), dtype=torch.float32)  # a copy: the input may be read-only
    if tensor.shape[-1] > side:
        tensor = nn.functional.adaptive_avg_pool2d(tensor, side)
    return tensor.numpy()


@contextlib.contextmanager
def _one_cpu_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
