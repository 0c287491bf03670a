"""Using trained networks: generate images with a generator, classify images with a discriminator.

Both work on a `LoadedCheckpoint` (any format `load_checkpoint` reads) and stream in batches, so the
network's memory does not grow with the number of images. `generation` and `classification` hold the
work; this package's namespace is the Python API.
"""

from pacgan_cli.core.inference.classification import (
    BATCH_STATISTIC_MODES,
    STATISTIC_AUTO,
    STATISTIC_PUBLISHED,
    ClassificationOutcome,
    ClassificationResult,
    classification_targets,
    classify_images,
    default_predictions_path,
    write_classification,
)
from pacgan_cli.core.inference.generation import (
    GenerationPlan,
    GenerationResult,
    counts_per_class,
    generate,
    generate_images,
    generated_batches,
    generation_targets,
    plan_generation,
    save_generation,
    synthetic_labels_path,
)
from pacgan_cli.core.inference.network import check_images, fade_alpha, find_model, resolve_stage

__all__ = [
    "BATCH_STATISTIC_MODES",
    "STATISTIC_AUTO",
    "STATISTIC_PUBLISHED",
    "ClassificationOutcome",
    "ClassificationResult",
    "GenerationPlan",
    "GenerationResult",
    "check_images",
    "classification_targets",
    "classify_images",
    "counts_per_class",
    "default_predictions_path",
    "fade_alpha",
    "find_model",
    "generate",
    "generate_images",
    "generated_batches",
    "generation_targets",
    "plan_generation",
    "resolve_stage",
    "save_generation",
    "synthetic_labels_path",
    "write_classification",
]
