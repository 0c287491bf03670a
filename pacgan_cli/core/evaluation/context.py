"""What a metric computes from (`MetricContext`) and what its section is rendered with (`ReportContext`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from pacgan_cli.core.classes import class_titles
from pacgan_cli.core.evaluation.inputs import ImageSet
from pacgan_cli.core.evaluation.markdown import markdown_text
from pacgan_cli.core.evaluation.options import EvaluationOptions
from pacgan_cli.core.metrics import fidelity
from pacgan_cli.core.models.checkpoint import LoadedCheckpoint
from pacgan_cli.core.progress import Reporter


@dataclass(frozen=True)
class ReportContext:
    """What every section's Markdown may mention besides its own data."""

    class_names: tuple[str, ...]
    num_classes: int
    image_size: int
    options: EvaluationOptions

    @property
    def class_titles(self) -> list[str]:
        """Each class's title as Markdown text: a user's names are escaped, since sections put them in tables."""
        return [markdown_text(title) for title in class_titles(self.class_names, self.num_classes)]


@dataclass
class MetricContext:
    """The checked inputs of one evaluation, with what several metrics use computed once and shared:
    InceptionV3 features, and the small classifiers trained on the real training images."""

    real: ImageSet
    fake: ImageSet
    train: ImageSet | None
    discriminator: LoadedCheckpoint | None
    options: EvaluationOptions
    output_directory: Path
    num_classes: int
    device: torch.device | str
    reporter: Reporter
    class_names: tuple[str, ...] = ()
    extractor: torch.nn.Module | None = None
    feature_cache: dict[str, np.ndarray] = field(default_factory=dict)
    baseline_cache: dict[str, np.ndarray | None] = field(default_factory=dict)

    @property
    def class_titles(self) -> list[str]:
        return class_titles(self.class_names, self.num_classes)

    def features(self, which: str) -> np.ndarray:
        """InceptionV3 features of the real or fake set, computed once."""
        if which not in self.feature_cache:
            self.reporter.message(f"evaluate: InceptionV3 features of the {which} images")
            images = self.real.images if which == "real" else self.fake.images
            self.feature_cache[which] = fidelity.extract_features(
                images, self.extractor, self.options.feature_batch_size, self.device
            )
        return self.feature_cache[which]

    def baseline_probabilities(self, name: str) -> np.ndarray | None:
        """Real test images' class probabilities `[N, K]` from the small classifier `name` (metrics.tstr)
        trained on the real training images, trained once: tstr's yardstick, augmentation_gain's real-only
        model and the discriminator's baseline. None when the training images hold one class."""
        from pacgan_cli.core.metrics.tstr import CLASSIFIERS, trained_probabilities

        assert self.train is not None
        if name not in self.baseline_cache:
            self.reporter.message(f"evaluate: {name.replace('_', ' ')} on the real training images")
            self.baseline_cache[name] = trained_probabilities(
                CLASSIFIERS[name],
                self.train.images,
                self.train.labels,
                self.real.images,
                self.num_classes,
                self.options.seed,
            )
        return self.baseline_cache[name]

    def halves(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """Two class-stratified random halves of a set (indices), for the same-set baseline."""
        labels = (self.real if which == "real" else self.fake).labels
        rng = np.random.default_rng(self.options.seed)
        first, second = [], []
        for k in range(self.num_classes):
            members = rng.permutation(np.flatnonzero(labels == k))
            first.append(members[: len(members) // 2])
            second.append(members[len(members) // 2 :])
        return np.concatenate(first), np.concatenate(second)

    def comparisons(self) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """(name, features A, labels A, features B, labels B) for real-real, real-fake and fake-fake."""
        real, fake = self.features("real"), self.features("fake")
        real_a, real_b = self.halves("real")
        fake_a, fake_b = self.halves("fake")
        return [
            ("real_real", real[real_a], self.real.labels[real_a], real[real_b], self.real.labels[real_b]),
            ("real_fake", real, self.real.labels, fake, self.fake.labels),
            ("fake_fake", fake[fake_a], self.fake.labels[fake_a], fake[fake_b], self.fake.labels[fake_b]),
        ]
