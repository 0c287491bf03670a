"""What each training setting may be: the allowed names and ranges, and `validate_config`, which lists every
broken rule of a configuration in one error, one line each."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pacgan_cli.core.classes import check_class_names
from pacgan_cli.core.errors import ConfigError, did_you_mean
from pacgan_cli.core.models.architecture import AUX_HEADS, GENERATOR_PADDINGS
from pacgan_cli.core.published_config import shown
from pacgan_cli.core.stages import is_stage_size

if TYPE_CHECKING:
    from pacgan_cli.core.config import TrainingConfig

PER_STAGE_KEYS = ("batch_sizes", "critic_iterations", "progressive_epochs")
STAGE_HANDOVERS = ("last", "best")
PRECISIONS = ("fp32", "bf16")
MEMORY_FORMATS = ("auto", "channels_last", "contiguous")
AUGMENT_MODES = ("none", "diffaugment", "ada")  # none: published; see core/training/augment.py
CLASSIFIER_DATA = ("real_and_fake", "real")  # what trains the critic's classifier; real_and_fake: published
AUGMENT_TRANSFORMS = ("translation", "cutout", "brightness", "contrast", "saturation")
COLOUR_TRANSFORMS = ("saturation",)
# auto (CUDA when there is a GPU, else the CPU), auto:N (GPU N when there is one, else the CPU), cpu,
# cuda (the GPUs of gpus_n), cuda:N (GPU N alone).
DEVICE_NAME = re.compile(r"cpu|(auto|cuda)(:\d+)?")


def validate_config(config: TrainingConfig) -> None:
    """Raise one ConfigError listing every problem, one line each."""
    problems = [
        *_shape_problems(config),
        *_value_problems(config),
        *_run_problems(config),
        *_augment_problems(config),
        *_conditioning_problems(config),
    ]
    if problems:
        raise ConfigError("\n".join(problems))


class _Problems(list[str]):
    def check(self, condition: bool, message: str) -> None:
        if not condition:
            self.append(message)


def _shape_problems(config: TrainingConfig) -> list[str]:
    """The networks' shape and the per-stage lists."""
    problems = _Problems()
    check = problems.check
    stages = config.num_stages
    check(stages >= 1, "`factors` needs at least one entry (one per stage)")
    check(all(f > 0 for f in config.factors), "`factors` must all be positive")
    check(
        all(int(config.in_channels * f) >= 1 for f in config.factors),
        "`in_channels` x each factor must give at least 1 channel",
    )
    for key in PER_STAGE_KEYS:
        entries = getattr(config, key)
        check(
            len(entries) == stages,
            f"`{key}` needs {stages} entries, one per stage (sizes 4..{config.max_size}); got {len(entries)}",
        )
    check(
        all(b >= 2 for b in config.batch_sizes), "`batch_sizes` must be at least 2 (minibatch stddev needs 2)"
    )
    check(all(c >= 1 for c in config.critic_iterations), "`critic_iterations` must be at least 1")
    check(all(e >= 1 for e in config.progressive_epochs), "`progressive_epochs` must be at least 1")
    return problems


def _value_problems(config: TrainingConfig) -> list[str]:
    """Counts, weights and rates within their ranges."""
    problems = _Problems()
    check = problems.check
    check(config.class_size >= 2, f"`class_size` must be at least 2; got {config.class_size}")
    try:
        check_class_names(config.class_names, config.class_size, "`class_names`")
    except ConfigError as error:
        problems.append(str(error))
    check(
        config.image_channels in (1, 3),
        f"`image_channels` must be 1 (grey) or 3 (RGB); got {config.image_channels}",
    )
    for key in ("in_channels", "z_dim", "embedding_dim", "disp_every_n_epochs", "samples_per_class"):
        check(getattr(config, key) >= 1, f"`{key}` must be at least 1; got {getattr(config, key)}")
    check(
        config.validation_folds >= 2, f"`validation_folds` must be at least 2; got {config.validation_folds}"
    )
    check(config.learning_rate > 0, f"`learning_rate` must be positive; got {config.learning_rate}")
    for key in ("lambda_gp", "lambda_cls_1", "lambda_cls_2", "drift_weight"):
        check(getattr(config, key) >= 0, f"`{key}` must not be negative; got {getattr(config, key)}")
    check(
        0 <= config.start_check_at <= 1,
        f"`start_check_at` is a fraction of the epochs (0..1); got {config.start_check_at}",
    )
    check(0 <= config.ema_decay < 1, f"`ema_decay` must be in [0, 1); got {config.ema_decay}")
    check(
        len(config.adam_betas) == 2 and all(0 <= b < 1 for b in config.adam_betas),
        "`adam_betas` needs two values in [0, 1)",
    )
    check(
        len(config.gpus_n) > 0 and all(g >= 0 for g in config.gpus_n),
        f"`gpus_n` lists GPU ids (0, 1, ...); got {shown(list(config.gpus_n))}",
    )
    return problems


def _run_problems(config: TrainingConfig) -> list[str]:
    """Where and how the run starts, runs and ends."""
    problems = _Problems()
    check = problems.check
    size = config.start_train_at_img_size
    check(
        is_stage_size(size),
        f"`start_train_at_img_size` must be a power of two (4, 8, 16, ...); got {size}",
    )
    check(
        size <= config.max_size,
        f"`start_train_at_img_size` {size} is beyond the largest size {config.max_size} that `factors` allows",
    )
    check(
        DEVICE_NAME.fullmatch(config.device) is not None,
        f"`device` must be auto, auto:N, cpu, cuda or cuda:N; got {shown(config.device)}",
    )
    check(
        config.checkpoint_every_epochs >= 0,
        f"`checkpoint_every_epochs` must be 0 (by time only) or more; got {config.checkpoint_every_epochs}",
    )
    check(
        config.checkpoint_every_minutes > 0,
        f"`checkpoint_every_minutes` must be positive; got {config.checkpoint_every_minutes}",
    )
    check(config.precision in PRECISIONS, f"`precision` must be fp32 or bf16; got {shown(config.precision)}")
    check(
        config.memory_format in MEMORY_FORMATS,
        f"`memory_format` must be auto, channels_last or contiguous; got {shown(config.memory_format)}"
        + did_you_mean(config.memory_format, MEMORY_FORMATS),
    )
    check(
        config.generator_padding in GENERATOR_PADDINGS,
        f"`generator_padding` must be zeros (published) or replicate; got {shown(config.generator_padding)}",
    )
    check(
        config.stage_handover in STAGE_HANDOVERS,
        f"`stage_handover` must be last or best; got {shown(config.stage_handover)}",
    )
    counts = config.n_images_generated
    check(
        len(counts) in (1, config.class_size) and all(c >= 0 for c in counts),
        f"`n_images_generated` needs one total or {config.class_size} per-class counts, none negative; got {shown(list(counts))}",
    )
    return problems


def _augment_problems(config: TrainingConfig) -> list[str]:
    """Unknown augmentation or transform names (with the closest valid one), and lists that cannot work."""
    problems = []
    if config.augment not in AUGMENT_MODES:
        problems.append(
            f"`augment` must be none, diffaugment or ada; got {shown(config.augment)}"
            + did_you_mean(config.augment, AUGMENT_MODES)
        )
    for name in config.augment_transforms:
        if name not in AUGMENT_TRANSFORMS:
            problems.append(
                f"`augment_transforms`: unknown transform {shown(name)}"
                + did_you_mean(name, AUGMENT_TRANSFORMS)
                + f" (choose from {', '.join(AUGMENT_TRANSFORMS)})"
            )
        elif name in COLOUR_TRANSFORMS and config.image_channels == 1:
            problems.append(
                f"`augment_transforms`: {name} changes colours, which grey images (image_channels 1) lack; "
                "remove it"
            )
    if config.augment != "none" and not config.augment_transforms:
        problems.append("`augment_transforms` is empty; list at least one transform or set augment: none")
    if not 0 < config.ada_target < 1:
        problems.append(f"`ada_target` must be between 0 and 1; got {config.ada_target}")
    if not 0 < config.ada_step <= 1:
        problems.append(f"`ada_step` (change of p per epoch) must be in (0, 1]; got {config.ada_step}")
    return problems


def _conditioning_problems(config: TrainingConfig) -> list[str]:
    """Unknown head or classifier data (with the closest valid name), weights and spans that cannot work."""
    problems = _Problems()
    check = problems.check
    check(
        config.aux_head in AUX_HEADS,
        f"`aux_head` must be {', '.join(AUX_HEADS)}; got {shown(config.aux_head)}"
        + did_you_mean(config.aux_head, AUX_HEADS),
    )
    check(
        config.classifier_data in CLASSIFIER_DATA,
        f"`classifier_data` must be {' or '.join(CLASSIFIER_DATA)}; got {shown(config.classifier_data)}"
        + did_you_mean(config.classifier_data, CLASSIFIER_DATA),
    )
    check(
        not (config.aux_head == "adc" and config.classifier_data == "real"),
        "`aux_head: adc` learns a fake class per class from the generated images; it cannot be combined with "
        "`classifier_data: real` (use aux_head acgan or tac for a classifier of real images only)",
    )
    check(
        0 <= config.conditioning_ramp <= config.num_stages,
        f"`conditioning_ramp` is a span of stages from 0 to the {config.num_stages} stages of the run "
        f"(0: no ramp); got {config.conditioning_ramp:g}",
    )
    for key in ("mode_seeking_weight", "lecam_weight"):
        check(getattr(config, key) >= 0, f"`{key}` must not be negative; got {getattr(config, key):g}")
    check(0 <= config.lecam_decay < 1, f"`lecam_decay` must be in [0, 1); got {config.lecam_decay:g}")
    check(0 <= config.augment_p <= 1, f"`augment_p` is a probability in [0, 1]; got {config.augment_p:g}")
    check(
        config.gp_interval >= 1,
        f"`gp_interval` must be at least 1 (every critic step); got {config.gp_interval}",
    )
    return problems
