"""How `evaluate` computes its metrics: one frozen set of options, defaults from the published evaluation."""

from __future__ import annotations

from dataclasses import dataclass

from pacgan_cli.core.errors import ConfigError
from pacgan_cli.core.metrics import RESIZE_MODES

# What to do with a metric these inputs cannot serve (no InceptionV3 weights, too few images of a class):
# stop with one line, or leave it out and say why in the report.
UNAVAILABLE_ERROR = "error"
UNAVAILABLE_SKIP = "skip"


@dataclass(frozen=True)
class EvaluationOptions:
    """How the metrics are computed; the defaults follow the published evaluation where it has one."""

    ssim_pairs: int = 1000
    seed: int = 0
    kid_subset_size: int = 1000
    kid_subsets: int = 100
    resize: str = "antialias"
    inception_weights: str | None = None
    unavailable: str = UNAVAILABLE_ERROR
    feature_batch_size: int = 32
    memorisation_quantile: float = 0.05
    copy_tolerance: float = 0.02
    closest_pairs: int = 8
    artifact_tolerance: float = 0.1
    prdc_k: int = 5
    diversity_pairs: int = 1000
    bootstrap_resamples: int = 1000  # for the intervals of AUC and accuracy over the test images
    class_names: tuple[str, ...] = ()  # for the report and figures (default: the discriminator's config)

    def __post_init__(self) -> None:
        """Refuse settings that cannot work, named by the option of `pacgan evaluate` that sets them."""
        if self.resize not in RESIZE_MODES:
            raise ConfigError(f"--resize must be one of {', '.join(RESIZE_MODES)}; got {self.resize!r}")
        for name in (
            "kid_subset_size",
            "kid_subsets",
            "ssim_pairs",
            "diversity_pairs",
            "prdc_k",
            "bootstrap_resamples",
        ):
            value = getattr(self, name)
            if value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1; got {value}")
