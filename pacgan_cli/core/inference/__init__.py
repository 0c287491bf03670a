"""Using trained networks: generate images with a generator, classify images with a discriminator.

`generate(GenerationRequest)` and `classify(ClassificationRequest)` are the commands (load, check, run,
write), and `fit_model_temperature(TemperatureRequest)` is `classify --fit-temperature`; `generate_images`
and `classify_images` work in memory on a `LoadedCheckpoint` (any format `load_checkpoint` reads). Both
stream in batches, so memory does not grow with the number of images. `generate`, `classify` and
`calibration` hold the work; this package's namespace is the Python API.
"""

from pacgan_cli.core.inference.calibration import (
    TemperatureOutcome,
    TemperatureRequest,
    fit_model_temperature,
    stored_temperature,
)
from pacgan_cli.core.inference.classify import (
    BATCH_STATISTIC_MODES,
    STATISTIC_AUTO,
    STATISTIC_PUBLISHED,
    ClassificationOutcome,
    ClassificationRequest,
    ClassificationResult,
    classification_targets,
    classify,
    classify_images,
    default_predictions_path,
    write_classification,
)
from pacgan_cli.core.inference.generate import (
    GenerationOutcome,
    GenerationPlan,
    GenerationRequest,
    GenerationResult,
    counts_per_class,
    default_generation_path,
    generate,
    generate_images,
    generated_batches,
    generation_targets,
    plan_generation,
    save_generation,
    synthetic_labels_path,
)
from pacgan_cli.core.inference.network import (
    InferenceSettings,
    check_images,
    fade_alpha,
    find_model,
    resolve_stage,
)

__all__ = [
    "BATCH_STATISTIC_MODES",
    "STATISTIC_AUTO",
    "STATISTIC_PUBLISHED",
    "ClassificationOutcome",
    "ClassificationRequest",
    "ClassificationResult",
    "GenerationOutcome",
    "GenerationPlan",
    "GenerationRequest",
    "GenerationResult",
    "InferenceSettings",
    "TemperatureOutcome",
    "TemperatureRequest",
    "check_images",
    "classification_targets",
    "classify",
    "classify_images",
    "counts_per_class",
    "default_generation_path",
    "default_predictions_path",
    "fade_alpha",
    "find_model",
    "fit_model_temperature",
    "generate",
    "generate_images",
    "generated_batches",
    "generation_targets",
    "plan_generation",
    "resolve_stage",
    "save_generation",
    "stored_temperature",
    "synthetic_labels_path",
    "write_classification",
]
