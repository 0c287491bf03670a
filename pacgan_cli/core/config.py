"""Training configuration: one frozen dataclass holding every published setting plus ours.

Names are the published UPPER_CASE names in lower_snake_case (`BATCH_SIZES` -> `batch_sizes`). The
published `config.json` is read as it is; its expression strings go through `published_config`, which never
executes anything. Precedence: defaults < config file < explicit command-line options (`resolve_config`).
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import yaml

from pacgan_cli.core.classes import check_class_names
from pacgan_cli.core.errors import ConfigError
from pacgan_cli.core.models.architecture import GENERATOR_PADDINGS, NetworkArchitecture
from pacgan_cli.core.published_config import (
    MAX_ELEMENTS,
    MAX_INTEGER,
    PUBLISHED_VARIABLES,
    clip,
    element_count,
    evaluate_expression,
    shown,
)
from pacgan_cli.core.stages import is_stage_size, size_to_stage, stage_size

DEFAULT_FACTORS = (1.0, 1.0, 1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32)
DEFAULT_BATCH_SIZES = (32, 32, 32, 16, 16, 16, 16)
DEFAULT_CRITIC_ITERATIONS = (1, 1, 1, 1, 1, 2, 2)
DEFAULT_EPOCHS = 100
PER_STAGE_KEYS = ("batch_sizes", "critic_iterations", "progressive_epochs")
# The published code reads these per stage and never looks past the last one (extra entries are unused);
# progressive_epochs decides how many stages it runs, so there a longer list stays an error.
UNREAD_BEYOND_LAST_STAGE = ("batch_sizes", "critic_iterations")
STAGE_HANDOVERS = ("last", "best")
PRECISIONS = ("fp32", "bf16")
AUGMENT_MODES = ("none", "diffaugment", "ada")  # none: published; see core/training/augment.py
AUGMENT_TRANSFORMS = ("translation", "cutout", "brightness", "contrast", "saturation")
COLOUR_TRANSFORMS = ("saturation",)
# A configuration is a few kilobytes: larger files are refused before they are parsed.
MAX_CONFIG_BYTES = 2**20


@dataclass(frozen=True)
class TrainingConfig:
    """Every training setting with its published default (ours are marked in the YAML template)."""

    data_train_directory: str = "data/ADNI/ADNI_train"
    label_train_directory: str = "data/ADNI/ADNI_train/labels.csv"
    data_test_directory: str = "data/ADNI/ADNI_test"
    label_test_directory: str = "data/ADNI/ADNI_test/labels.csv"
    image_directory: str = "saved_images/PACGAN"
    model_directory: str = "saved_models/PACGAN"
    image_channels: int = 1
    class_size: int = 2
    device: str = "auto"
    gpus_n: tuple[int, ...] = (0,)
    in_channels: int = 512
    factors: tuple[float, ...] = DEFAULT_FACTORS
    learning_rate: float = 1e-3
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES
    embedding_dim: int = 3
    z_dim: int = 512
    critic_iterations: tuple[int, ...] = DEFAULT_CRITIC_ITERATIONS
    lambda_gp: float = 10.0
    lambda_cls_1: float = 4.0
    lambda_cls_2: float = 2.0
    progressive_epochs: tuple[int, ...] = (DEFAULT_EPOCHS,) * 7
    disp_every_n_epochs: int = 50
    validate: bool = True
    start_check_at: float = 0.6
    testing: bool = False
    test_using_best_model: bool = True
    generate: bool = True
    n_images_generated: tuple[int, ...] = (200,)
    load_model: bool = False
    start_train_at_img_size: int = 4
    seed: int = 8
    stage_handover: str = "last"
    adam_betas: tuple[float, ...] = (0.5, 0.999)
    drift_weight: float = 0.001
    validation_folds: int = 5
    best_epochs_from: str | None = None
    ema: bool = False
    ema_decay: float = 0.999
    samples_per_class: int = 8
    class_names: tuple[str, ...] = ()
    generator_padding: str = "zeros"
    precision: str = "fp32"
    compile: bool = False
    checkpoint_every_epochs: int = 1
    checkpoint_every_minutes: float = 10.0
    tensorboard: bool = False
    augment: str = "none"
    augment_transforms: tuple[str, ...] = ("translation", "cutout", "brightness", "contrast")
    ada_target: float = 0.6
    ada_step: float = 0.05

    @property
    def num_stages(self) -> int:
        return len(self.factors)

    @property
    def max_size(self) -> int:
        return stage_size(self.num_stages - 1)

    @property
    def start_stage(self) -> int:
        return size_to_stage(self.start_train_at_img_size) if self.load_model else 0

    @property
    def mode(self) -> str:
        """validate (hold out a fold, keep each stage's best epoch), test (train on all, score the test set)
        or train."""
        if self.validate:
            return "validate"
        return "test" if self.testing else "train"

    @property
    def architecture(self) -> NetworkArchitecture:
        return NetworkArchitecture(
            base_channels=self.in_channels,
            factors=tuple(self.factors),
            image_channels=self.image_channels,
            num_classes=self.class_size,
            latent_size=self.z_dim,
            embedding_size=self.embedding_dim,
            generator_padding=self.generator_padding,
        )

    @property
    def loss_weights(self) -> LossWeights:
        return LossWeights(
            cls_real=self.lambda_cls_1, cls_fake=self.lambda_cls_2, gp=self.lambda_gp, drift=self.drift_weight
        )

    @property
    def augmentation(self) -> AugmentationSettings:
        return AugmentationSettings(
            self.augment, tuple(self.augment_transforms), self.ada_target, self.ada_step
        )

    def schedule(self, stage: int) -> StageSchedule:
        """Stage `stage`'s epochs, batch size and critic iterations as configured."""
        return StageSchedule(
            self.progressive_epochs[stage], self.batch_sizes[stage], self.critic_iterations[stage]
        )


@dataclass(frozen=True)
class LossWeights:
    """The weights of the loss terms. As in the published code, `cls_real` (LAMBDA_CLS_1) weighs the real
    images' classification term in the critic and the fakes' in the generator; `cls_fake` (LAMBDA_CLS_2)
    the fakes' in the critic."""

    cls_real: float
    cls_fake: float
    gp: float
    drift: float


@dataclass(frozen=True)
class StageSchedule:
    """How one stage trains: epochs, images per batch, critic updates per generator update."""

    epochs: int
    batch_size: int
    critic_iterations: int


@dataclass(frozen=True)
class AugmentationSettings:
    """What the critic's inputs go through (see training/augment.py)."""

    mode: str
    transforms: tuple[str, ...]
    ada_target: float
    ada_step: float


FIELD_TYPES = {f.name: f.type for f in fields(TrainingConfig)}
DEFAULT_CONFIG = TrainingConfig()
KNOWN_KEYS = tuple(FIELD_TYPES)

BARE_DEVICE = re.compile(r"[\w:]+")  # cpu, cuda, cuda:1, auto: taken as they are, not as expressions
# auto (CUDA when there is a GPU, else the CPU), auto:N (GPU N when there is one, else the CPU), cpu,
# cuda (the GPUs of gpus_n), cuda:N (GPU N alone).
DEVICE_NAME = re.compile(r"cpu|(auto|cuda)(:\d+)?")


def resolve_config(
    path: str | os.PathLike[str] | None, overrides: dict[str, Any] | None = None
) -> TrainingConfig:
    """Defaults < file (YAML, or the published config.json) < explicit overrides; validated."""
    raw = read_config_file(path) if path is not None else {}
    raw.update({key: value for key, value in (overrides or {}).items() if value is not None})
    return build_config(raw, source=str(path) if path else "options")


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML file or a published config.json into a dict of lower-case keys (values not yet checked)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path}: {path.stat().st_size} bytes is too large for a configuration file (at most {MAX_CONFIG_BYTES})"
        )
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {error.start} cannot be decoded); save the file as UTF-8"
        ) from error
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except RecursionError as error:
        raise ConfigError(f"{path}: cannot be parsed (values nested too deeply)") from error
    except (ValueError, yaml.YAMLError) as error:  # ValueError: JSON errors, integers of thousands of digits
        raise ConfigError(f"{path}: cannot be parsed ({clip(str(error).splitlines()[0], 200)})") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of setting names to values")
    for key, value in data.items():
        if element_count(value, MAX_ELEMENTS) > MAX_ELEMENTS:
            raise ConfigError(
                f"{path}: `{clip(str(key))}` holds more than {MAX_ELEMENTS} values (nested lists counted in full)"
            )
    return {str(key).lower(): value for key, value in data.items() if not str(key).startswith("//")}


def build_config(raw: dict[str, Any], source: str = "config") -> TrainingConfig:
    """Turn raw values (numbers, lists, published expression strings) into a validated TrainingConfig."""
    unknown = [key for key in raw if key not in FIELD_TYPES]
    if unknown:
        raise ConfigError("\n".join(_unknown_key_message(key, source) for key in unknown))
    values: dict[str, Any] = {}
    names: dict[str, Any] = {}
    problems: list[str] = []
    for key in KNOWN_KEYS:
        if key in raw:
            try:
                values[key] = _coerce(key, raw[key], names)
            except ConfigError as error:
                problems.append(str(error))
                continue
            value = values[key]
        elif key in PER_STAGE_KEYS:  # a later expression sees the default a missing key will get
            value = _default_per_stage(key, len(names.get("factors", DEFAULT_FACTORS)))
        else:
            value = getattr(DEFAULT_CONFIG, key)
        for variable, field_name in PUBLISHED_VARIABLES.items():
            if field_name == key:
                names[variable] = list(value) if isinstance(value, tuple) else value
    if problems:
        raise ConfigError("\n".join(problems))
    factors = values.get("factors", DEFAULT_FACTORS)
    for key in PER_STAGE_KEYS:
        if key not in values:
            values[key] = _default_per_stage(key, len(factors))
        elif isinstance(raw[key], int) and not isinstance(raw[key], bool):
            values[key] = values[key] * len(factors)
    for key in UNREAD_BEYOND_LAST_STAGE:  # so a config.json with fewer FACTORS but the 7 defaults runs
        values[key] = values[key][: len(factors)]
    if "lambda_cls_1" in values and "lambda_cls_2" not in values:
        values["lambda_cls_2"] = values["lambda_cls_1"] / 2
    config = TrainingConfig(**values)
    validate_config(config)
    return config


def validate_config(config: TrainingConfig) -> None:
    """Raise one ConfigError listing every problem, one line each."""
    problems: list[str] = []
    stages = config.num_stages

    def check(condition: bool, message: str) -> None:
        if not condition:
            problems.append(message)

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
        config.checkpoint_every_epochs >= 1,
        f"`checkpoint_every_epochs` must be at least 1; got {config.checkpoint_every_epochs}",
    )
    check(
        config.checkpoint_every_minutes > 0,
        f"`checkpoint_every_minutes` must be positive; got {config.checkpoint_every_minutes}",
    )
    check(config.precision in PRECISIONS, f"`precision` must be fp32 or bf16; got {shown(config.precision)}")
    check(
        config.generator_padding in GENERATOR_PADDINGS,
        f"`generator_padding` must be zeros (published) or replicate; got {shown(config.generator_padding)}",
    )
    problems.extend(_augment_problems(config))
    check(
        config.stage_handover in STAGE_HANDOVERS,
        f"`stage_handover` must be last or best; got {shown(config.stage_handover)}",
    )
    counts = config.n_images_generated
    check(
        len(counts) in (1, config.class_size) and all(c >= 0 for c in counts),
        f"`n_images_generated` needs one total or {config.class_size} per-class counts, none negative; got {shown(list(counts))}",
    )
    if problems:
        raise ConfigError("\n".join(problems))


def _augment_problems(config: TrainingConfig) -> list[str]:
    """Unknown augmentation or transform names (with the closest valid one), and lists that cannot work."""
    problems = []
    if config.augment not in AUGMENT_MODES:
        problems.append(
            f"`augment` must be none, diffaugment or ada; got {shown(config.augment)}"
            + _did_you_mean(config.augment, AUGMENT_MODES)
        )
    for name in config.augment_transforms:
        if name not in AUGMENT_TRANSFORMS:
            problems.append(
                f"`augment_transforms`: unknown transform {shown(name)}"
                + _did_you_mean(name, AUGMENT_TRANSFORMS)
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


def _did_you_mean(name: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name.lower(), choices, n=1, cutoff=0.5)
    return f"; did you mean {close[0]}?" if close else ""


def config_to_data(config: TrainingConfig) -> dict[str, Any]:
    """Plain data (lists, numbers, strings) for YAML, JSON and checkpoints."""
    return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(config).items()}


def config_to_yaml(config: TrainingConfig) -> str:
    return yaml.safe_dump(config_to_data(config), sort_keys=False)


def with_overrides(config: TrainingConfig, **changes: Any) -> TrainingConfig:
    """A validated copy with some settings changed."""
    changed = replace(config, **changes)
    validate_config(changed)
    return changed


def _coerce(key: str, value: Any, names: dict[str, Any]) -> Any:
    """Convert one raw value to its field's type, reading expression strings where the field is not a string."""
    kind = FIELD_TYPES[key]
    if kind == "tuple[str, ...]" and isinstance(value, str) and not value.lstrip().startswith(("[", "(")):
        value = value.replace(",", " ").split()  # `CN, AD` or `CN AD`, as on the command line
    is_expression = isinstance(value, str) and (
        kind not in ("str", "str | None", "bool")
        or (kind == "bool" and (not value.isidentifier() or value in names))
        or (key == "device" and not BARE_DEVICE.fullmatch(value))
    )
    try:
        if is_expression:
            text, value = value, evaluate_expression(value, names)
            if kind == "bool" and isinstance(value, str):
                raise ConfigError(
                    f"{text!r} is quoted text, which the published code reads as true whatever it says; "
                    "write True or False without quotes"
                )
        return _convert(kind, value)
    except ConfigError as error:
        raise ConfigError(f"`{key}`: {error}") from None
    except (TypeError, ValueError) as error:
        raise ConfigError(f"`{key}`: {error}") from None


def _convert(kind: str, value: Any) -> Any:
    if kind == "str":
        if not isinstance(value, str):
            raise TypeError(f"expected text; got {shown(value)}")
        return value
    if kind == "str | None":
        return None if value is None else str(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):  # published: eval("1") is a true value
            return bool(value)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise TypeError(f"expected True or False; got {shown(value)}")
    if kind == "int":
        return _whole_number(value)
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"expected a number; got {shown(value)}")
        try:
            number = float(value)
        except OverflowError:  # an integer beyond the float range
            number = math.inf
        if not math.isfinite(number):
            raise TypeError(f"expected a finite number; got {shown(value)}")
        return number
    if kind.startswith("tuple["):
        items = value if isinstance(value, list | tuple) else [value]
        if "str" in kind:
            return tuple(_convert("str", item) for item in items)
        if "int" in kind:
            return tuple(_whole_number(item) for item in items)
        return tuple(_convert("float", item) for item in items)
    raise TypeError(f"unsupported setting type {kind}")


def _whole_number(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected a whole number; got {shown(value)}")
    if abs(value) > MAX_INTEGER:
        raise TypeError(f"{shown(value)} is too large (the number overflows)")
    return value


def _default_per_stage(key: str, stages: int) -> tuple[int, ...]:
    """Published defaults, cut or extended (with the last value) to the number of stages."""
    published = {
        "batch_sizes": DEFAULT_BATCH_SIZES,
        "critic_iterations": DEFAULT_CRITIC_ITERATIONS,
        "progressive_epochs": (DEFAULT_EPOCHS,) * 7,
    }[key]
    return tuple(published[min(i, len(published) - 1)] for i in range(stages))


def _unknown_key_message(key: str, source: str) -> str:
    close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
    hint = f"; did you mean `{close[0]}`?" if close else f"; valid keys: {', '.join(KNOWN_KEYS)}"
    return f"{source}: unknown setting `{clip(key)}`{hint}"
