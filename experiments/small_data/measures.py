"""What one finished small-data run is scored on, each beside its real-image reference.

- critic: the auxiliary head's macro AUC on the held-out images (the run's own end-of-stage test) and on
  the training images;
- TSTR: the evaluation package's two classifiers trained on the synthetic images, tested on the held-out
  real images; TRTR (trained on the real training images) is the reference;
- diversity: mean MS-SSIM of random same-class pairs (core/metrics/diversity.py, up to 1000 pairs per
  class, seed 0) of the synthetic images, and of the real training images as the reference; lower is
  more diverse;
- precision, recall, density and coverage (core/metrics/prdc.py, k = 5) per class in pixel space (no
  InceptionV3 weights are available offline), of the synthetic images against the held-out real images, as
  many of each as there are real training images of the class (random subsets, seed 0), mean over classes;
  the real training images against the same held-out images are the reference;
- artifact pixels: pixels where the mean synthetic image lies outside every real value (training and
  held-out images), as `pacgan evaluate`'s artifacts check counts them (core/metrics/artifacts.py);
- augmentation gain: the same classifiers trained on the real training images plus every synthetic image,
  minus trained on the real ones alone, macro AUC on the held-out images, with the paired bootstrap
  interval of core/metrics/bootstrap.py (1000 resamples, seed 0).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from experiments.harness import classifier_scores, generate_images, stage_arrays, training_auc
from pacgan_cli.core.metrics.artifacts import pixel_artifacts

DIVERSITY_PAIRS = 1000
PRDC_K = 5
PRDC_SCORES = ("precision", "recall", "density", "coverage")
BOOTSTRAP_RESAMPLES = 1000
REFERENCE = "real_reference.json"  # in a data set's folder: TRTR and the real training images' diversity
REAL_PROBABILITIES = "real_probabilities.npz"  # held-out probabilities of the classifiers trained on real


def measure_run(run: Path, folder: Path, size: int, num_classes: int, synthetic: int, seed: int) -> dict:
    """Every measure of the module docstring for the run folder `run` trained on the data set `folder`
    (whose real-image reference `write_real_reference` wrote)."""
    stage = json.loads((run / f"PACGAN_{size}x{size}" / "stage_complete.json").read_text())
    train_images, train_labels = stage_arrays(folder / "train", size)
    test_images, test_labels = stage_arrays(folder / "test", size)
    fake_images, fake_labels = generate_images(run, size, synthetic, num_classes, seed)
    reference = json.loads((folder / REFERENCE).read_text())
    with np.load(folder / REAL_PROBABILITIES) as saved:
        real_probabilities = {name: saved[name] for name in saved.files}
    return {
        "critic_auc_test": stage["test"]["auc_macro"],
        "critic_auc_train": training_auc(run, folder, size),
        "tstr": classifier_scores(fake_images, fake_labels, test_images, test_labels, num_classes),
        "trtr": reference["trtr"],
        "diversity": {
            "synthetic": same_class_ms_ssim(fake_images, fake_labels, num_classes),
            "real": reference["diversity"],
        },
        "artifact_pixels": len(
            pixel_artifacts(fake_images, np.concatenate([train_images, test_images])).flagged
        ),
        "prdc": {
            "synthetic": pixel_prdc((test_images, test_labels), (fake_images, fake_labels), train_labels),
            "real": reference["prdc"],
        },
        "augmentation_gain": augmentation_gain(
            real_probabilities,
            (np.concatenate([train_images, fake_images]), np.concatenate([train_labels, fake_labels])),
            (test_images, test_labels),
            num_classes,
        ),
    }


def write_real_reference(folder: Path, size: int, num_classes: int) -> None:
    """What every run of a data set is compared with, computed once: TRTR, the real training images'
    diversity, and the classifiers' held-out probabilities when trained on the real images alone."""
    from pacgan_cli.core.metrics.tstr import CLASSIFIERS, score_probabilities, trained_probabilities

    train_images, train_labels = stage_arrays(folder / "train", size)
    test_images, test_labels = stage_arrays(folder / "test", size)
    probabilities = {
        name: trained_probabilities(classifier, train_images, train_labels, test_images, num_classes, 0)
        for name, classifier in CLASSIFIERS.items()
    }
    trtr = {}
    for name, probability in probabilities.items():
        score = score_probabilities(len(train_labels), probability, test_labels)
        trtr[name] = {"auc": score.auc_macro, "accuracy": score.accuracy}
    diversity = same_class_ms_ssim(train_images, train_labels, num_classes)
    prdc = pixel_prdc((test_images, test_labels), (train_images, train_labels), train_labels)
    np.savez(folder / REAL_PROBABILITIES, **probabilities)
    reference = {"trtr": trtr, "diversity": diversity, "prdc": prdc}
    (folder / REFERENCE).write_text(json.dumps(reference, indent=2) + "\n")


def same_class_ms_ssim(images: np.ndarray, labels: np.ndarray, num_classes: int) -> dict[str, Any]:
    """Mean MS-SSIM of random same-class pairs, pooled and per class."""
    from pacgan_cli.core.metrics.diversity import same_class_pair_ms_ssim

    scores = same_class_pair_ms_ssim(images, labels, num_classes, pairs_per_class=DIVERSITY_PAIRS, seed=0)
    return {"mean": scores.mean, "per_class": list(scores.mean_per_class)}


def pixel_prdc(
    held_out: tuple[np.ndarray, np.ndarray], compared: tuple[np.ndarray, np.ndarray], train_labels: np.ndarray
) -> dict[str, float]:
    """The four scores of `compared` (images, labels) against the `held_out` real images, class by class on
    flattened pixels, each side subsampled to the class's count of real training images (fewer if a side has
    fewer), so that synthetic and real sets are scored at the same sample size (the scores depend on it);
    mean over classes."""
    from pacgan_cli.core.metrics.prdc import precision_recall_density_coverage

    rng = np.random.default_rng(0)
    per_class = []
    for label in np.unique(train_labels):
        sides = [images[labels == label] for images, labels in (held_out, compared)]
        count = min(int(np.sum(train_labels == label)), *(len(side) for side in sides))
        real, other = (side[np.sort(rng.choice(len(side), count, replace=False))] for side in sides)
        scores = precision_recall_density_coverage(
            real.reshape(count, -1), other.reshape(count, -1), k=PRDC_K
        )
        per_class.append([getattr(scores, name) for name in PRDC_SCORES])
    return dict(zip(PRDC_SCORES, np.mean(per_class, axis=0).tolist(), strict=True))


def augmentation_gain(
    real_probabilities: dict[str, np.ndarray],
    augmented: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    num_classes: int,
) -> dict[str, Any]:
    """Per classifier: macro AUC trained on real alone (`real_probabilities` on the held-out images), on
    the `augmented` set (real + synthetic), the difference and its 95% paired bootstrap interval."""
    from pacgan_cli.core.metrics.bootstrap import paired_difference
    from pacgan_cli.core.metrics.tstr import CLASSIFIERS, trained_probabilities

    gains = {}
    for name, classifier in CLASSIFIERS.items():
        probabilities = trained_probabilities(classifier, *augmented, test[0], num_classes, 0)
        difference = paired_difference(
            test[1], real_probabilities[name], probabilities, resamples=BOOTSTRAP_RESAMPLES, seed=0
        )
        gains[name] = {
            "auc_real": difference.auc_a,
            "auc_augmented": difference.auc_b,
            "auc_difference": difference.auc_difference,
            "auc_interval": list(difference.auc_interval),
        }
    return gains
