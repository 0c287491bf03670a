"""Class names for people: reports, sample grids and plots say `CN` and `AD` where the files say 0 and 1.

Files keep the published numbers (`Label` in labels.csv, `Class 0`, `Class 1`, ... in the predictions CSV);
names only change what a person reads. Without names a class reads `class 0`, `class 1`, ...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pacgan_cli.core.errors import ConfigError, shown_list

# The published headline result is only context for data like the data it was measured on.
PUBLISHED_AUC = 0.813
PUBLISHED_CLASS_NAMES = ("CN", "AD")
PUBLISHED_IMAGE_SIZE = 256


def check_class_names(names: Sequence[str], num_classes: int, source: str = "class names") -> tuple[str, ...]:
    """`names` as a tuple: none at all, or one different, non-blank name per class (in label order)."""
    names = tuple(str(name).strip() for name in names)
    if not names:
        return ()
    if len(names) != num_classes:
        raise ConfigError(
            f"{source}: {len(names)} name(s) ({shown_list(names, 'names')}) for {num_classes} classes; "
            f"give one name per class, in label order 0..{num_classes - 1}"
        )
    if any(not name for name in names):
        raise ConfigError(f"{source}: a class name is empty")
    if len(set(names)) != len(names):
        raise ConfigError(f"{source}: the names must differ; got {shown_list(names, 'names')}")
    return names


def class_titles(names: Sequence[str], num_classes: int) -> list[str]:
    """What a person reads for each class: its name, or `class k` without names."""
    return list(names) if names else [f"class {k}" for k in range(num_classes)]


def class_legend(names: Sequence[str]) -> str:
    """`0 = CN, 1 = AD`: which label number each name stands for (empty without names)."""
    return ", ".join(f"{k} = {name}" for k, name in enumerate(names))


def stored_class_names(config: Mapping[str, Any] | None, num_classes: int) -> tuple[str, ...]:
    """The `class_names` of the training config stored in a checkpoint; none when absent or unusable."""
    names = (config or {}).get("class_names") or ()
    if not isinstance(names, list | tuple) or len(names) != num_classes:
        return ()
    return tuple(str(name) for name in names)


def resolve_class_names(
    given: Sequence[str] | None, config: Mapping[str, Any] | None, num_classes: int
) -> tuple[str, ...]:
    """Names given on the command line (checked), else those the model was trained with, else none."""
    if given:
        return check_class_names(given, num_classes, "--class-names")
    return stored_class_names(config, num_classes)


def is_adni_like(names: Sequence[str], image_size: int) -> bool:
    """Whether the published ADNI result is fair context: CN vs AD at the published 256x256."""
    return image_size == PUBLISHED_IMAGE_SIZE and tuple(n.upper() for n in names) == PUBLISHED_CLASS_NAMES
