"""Named sets of training settings: `preset: published` (the paper's method, nothing changed) or
`small-data` (the combination docs/small-data.md measured best on small sets). A preset fills in only the
settings a configuration or the command line does not give: explicit keys override it."""

from __future__ import annotations

from typing import Any

from pacgan_cli.core.errors import ConfigError, did_you_mean
from pacgan_cli.core.published_config import shown

PRESETS: dict[str, dict[str, Any]] = {
    "published": {},
    # Chosen by the study in docs/small-data.md (issue 16): on the MNI-based sets the images of a class
    # became less alike (near the real images' MS-SSIM), train-on-synthetic AUC rose, the critic's held-out
    # AUC held or rose, and the mask kept mode seeking from drawing specks into the empty background.
    "small-data": {"mode_seeking_weight": 0.1, "mode_seeking_mask": True, "classifier_data": "real"},
}


def preset_settings(raw: dict[str, Any]) -> dict[str, Any]:
    """The settings the preset named in `raw` (default published) sets because `raw` does not."""
    name = raw.get("preset", "published")
    if name not in PRESETS:
        raise ConfigError(
            f"`preset` must be {' or '.join(PRESETS)}; got {shown(name)}"
            + (did_you_mean(name, tuple(PRESETS)) if isinstance(name, str) else "")
        )
    return {key: value for key, value in PRESETS[name].items() if key not in raw}
