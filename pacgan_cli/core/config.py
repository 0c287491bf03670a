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
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from pacgan_cli.core.config_rules import PER_STAGE_KEYS, validate_config
from pacgan_cli.core.errors import ConfigError
from pacgan_cli.core.models.architecture import NetworkArchitecture
from pacgan_cli.core.presets import preset_settings
from pacgan_cli.core.published_config import (
    MAX_ELEMENTS,
    MAX_INTEGER,
    PUBLISHED_VARIABLES,
    clip,
    element_count,
    evaluate_expression,
    shown,
)
from pacgan_cli.core.stages import size_to_stage, stage_size

DEFAULT_FACTORS = (1.0, 1.0, 1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32)
DEFAULT_BATCH_SIZES = (32, 32, 32, 16, 16, 16, 16)
DEFAULT_CRITIC_ITERATIONS = (1, 1, 1, 1, 1, 2, 2)
DEFAULT_EPOCHS = 100
# The published code reads these per stage and never looks past the last one (extra entries are unused);
# progressive_epochs decides how many stages it runs, so there a longer list stays an error.
UNREAD_BEYOND_LAST_STAGE = ("batch_sizes", "critic_iterations")
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
    memory_format: str = "auto"
    compile: bool = False
    checkpoint_every_epochs: int = 0
    checkpoint_every_minutes: float = 10.0
    tensorboard: bool = False
    augment: str = "none"
    augment_transforms: tuple[str, ...] = ("translation", "cutout", "brightness", "contrast")
    ada_target: float = 0.6
    ada_step: float = 0.05
    augment_p: float = 1.0
    aux_head: str = "acgan"
    classifier_data: str = "real_and_fake"
    conditioning_ramp: float = 0.0
    mode_seeking_weight: float = 0.0
    mode_seeking_mask: bool = False
    lecam_weight: float = 0.0
    lecam_decay: float = 0.99
    gp_interval: int = 1
    preset: str = "published"

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
            aux_head=self.aux_head,
        )

    @property
    def loss_weights(self) -> LossWeights:
        """The published weights, with the classifier's generated-image term dropped for
        `classifier_data: real` (adc's fake classes always learn from the fakes) and the twin's for tac."""
        only_real = self.classifier_data == "real" and self.aux_head != "adc"
        return LossWeights(
            cls_real=self.lambda_cls_1,
            cls_fake=0.0 if only_real else self.lambda_cls_2,
            gp=self.lambda_gp,
            drift=self.drift_weight,
            cls_twin=self.lambda_cls_2 if self.aux_head == "tac" else 0.0,
        )

    @property
    def augmentation(self) -> AugmentationSettings:
        return AugmentationSettings(
            self.augment, tuple(self.augment_transforms), self.ada_target, self.ada_step, self.augment_p
        )

    @property
    def conditioning(self) -> ConditioningSettings:
        return ConditioningSettings(
            classifier_data=self.classifier_data,
            ramp_stages=self.conditioning_ramp,
            mode_seeking_weight=self.mode_seeking_weight,
            lecam_weight=self.lecam_weight,
            lecam_decay=self.lecam_decay,
            mode_seeking_mask=self.mode_seeking_mask,
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
    the fakes' in the critic; `cls_twin` the twin classifier's term with aux_head tac (LAMBDA_CLS_2)."""

    cls_real: float
    cls_fake: float
    gp: float
    drift: float
    cls_twin: float = 0.0


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
    probability: float = 1.0  # diffaugment's fixed p (ada starts at 0 and adapts)


@dataclass(frozen=True)
class ConditioningSettings:
    """How strongly and where the class conditions training, beyond the auxiliary head's shape (see
    training/conditioning.py): which images train the critic's classifier, a ramp of the classification
    weights from 0 over the first `ramp_stages` stages, the mode-seeking term's weight and LeCam
    regularisation's weight and moving-average decay, and whether mode seeking counts image differences only
    where the training images vary."""

    classifier_data: str = "real_and_fake"
    ramp_stages: float = 0.0
    mode_seeking_weight: float = 0.0
    lecam_weight: float = 0.0
    lecam_decay: float = 0.99
    mode_seeking_mask: bool = False


FIELD_TYPES = {f.name: f.type for f in fields(TrainingConfig)}
DEFAULT_CONFIG = TrainingConfig()
KNOWN_KEYS = tuple(FIELD_TYPES)

BARE_DEVICE = re.compile(r"[\w:]+")  # cpu, cuda, cuda:1, auto: taken as they are, not as expressions


def resolve_config(
    path: str | os.PathLike[str] | None, overrides: dict[str, Any] | None = None
) -> TrainingConfig:
    """Defaults < preset < file (YAML, or the published config.json) < explicit overrides; validated."""
    return build_config(raw_settings(path, overrides), source=str(path) if path else "options")


def raw_settings(
    path: str | os.PathLike[str] | None, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The file's settings with the explicit overrides (None: not given) on top, values not yet checked."""
    raw = read_config_file(path) if path is not None else {}
    raw.update({key: value for key, value in (overrides or {}).items() if value is not None})
    return raw


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
    """Turn raw values (numbers, lists, published expression strings) into a validated TrainingConfig; the
    preset named in `raw` fills in the settings `raw` does not give."""
    unknown = [key for key in raw if key not in FIELD_TYPES]
    if unknown:
        raise ConfigError("\n".join(_unknown_key_message(key, source) for key in unknown))
    raw = {**preset_settings(raw), **raw}
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
    for part in ("train", "test"):  # a data folder given alone brings its own labels.csv (published layout)
        if f"data_{part}_directory" in values and f"label_{part}_directory" not in values:
            values[f"label_{part}_directory"] = str(Path(values[f"data_{part}_directory"]) / "labels.csv")
    config = TrainingConfig(**values)
    validate_config(config)
    return config


def config_to_data(config: TrainingConfig) -> dict[str, Any]:
    """Plain data (lists, numbers, strings) for YAML, JSON and checkpoints."""
    return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(config).items()}


def config_to_yaml(config: TrainingConfig) -> str:
    return yaml.safe_dump(config_to_data(config), sort_keys=False)


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
