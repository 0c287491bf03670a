"""Presets fill in the settings a configuration leaves out; explicit settings win."""

import pytest

from helpers import run_cli, tiny_config, write_config
from pacgan_cli.core import presets
from pacgan_cli.core.config import build_config, config_to_yaml, resolve_config
from pacgan_cli.core.errors import ConfigError


@pytest.fixture
def trial_preset(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    values = {"aux_head": "tac", "lecam_weight": 0.2, "gp_interval": 2}
    monkeypatch.setitem(presets.PRESETS, "trial", values)
    return values


def test_published_changes_nothing() -> None:
    assert build_config({"preset": "published"}) == build_config({})
    assert presets.PRESETS["published"] == {}


def test_a_preset_fills_in_only_what_is_not_given(trial_preset: dict[str, object]) -> None:
    config = build_config({"preset": "trial", "lecam_weight": 0.5})
    assert (config.aux_head, config.lecam_weight, config.gp_interval) == ("tac", 0.5, 2)
    assert presets.preset_settings({"preset": "trial", "lecam_weight": 0.5}) == {
        "aux_head": "tac",
        "gp_interval": 2,
    }


def test_a_written_config_reads_back_the_same(trial_preset: dict[str, object], tmp_path) -> None:
    config = build_config({"preset": "trial", "gp_interval": 1})
    path = tmp_path / "config.yaml"
    path.write_text(config_to_yaml(config))
    assert resolve_config(path) == config


def test_every_shipped_preset_is_a_valid_configuration() -> None:
    for name in presets.PRESETS:
        assert build_config({"preset": name}).preset == name


def test_an_unknown_preset_is_one_line_with_the_closest_name() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^`preset` must be published or small-data; got 'small_data'; did you mean small-data\?$",
    ) as error:
        build_config({"preset": "small_data"})
    assert error.value.exit_code == 2


def test_dry_run_shows_what_the_preset_set(
    trial_preset: dict[str, object], tiny_data, tmp_path, capsys
) -> None:
    config = write_config(tmp_path / "c.yaml", tiny_config(tiny_data))
    code, out, err = run_cli(
        ["train", "-c", str(config), "--preset", "trial", "--gp-interval", "3", "--dry-run"], capsys
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "# preset trial set: aux_head: tac, lecam_weight: 0.2"
    assert "gp_interval: 3" in lines and "aux_head: tac" in lines and "preset: trial" in lines


def test_small_data_sets_the_study_s_recipe_unless_the_config_gives_a_key() -> None:
    chosen = build_config({"preset": "small-data"})
    assert (chosen.mode_seeking_weight, chosen.mode_seeking_mask, chosen.classifier_data) == (
        0.1,
        True,
        "real",
    )
    own = build_config(
        {"preset": "small-data", "mode_seeking_weight": 0.0, "classifier_data": "real_and_fake"}
    )
    assert (own.mode_seeking_weight, own.mode_seeking_mask, own.classifier_data) == (
        0.0,
        True,
        "real_and_fake",
    )
    published = build_config({})
    assert (published.mode_seeking_weight, published.mode_seeking_mask, published.classifier_data) == (
        0.0,
        False,
        "real_and_fake",
    )
