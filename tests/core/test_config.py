import time
from pathlib import Path

import pytest

from pacgan_cli.core.config import (
    TrainingConfig,
    build_config,
    config_to_data,
    config_to_yaml,
    read_config_file,
    resolve_config,
)
from pacgan_cli.core.errors import ConfigError

PUBLISHED = Path(__file__).parent.parent / "data" / "published_config.json"
TEMPLATE = Path(__file__).parents[2] / "configs" / "pacgan.yaml"


def test_published_config_json_parses_to_the_published_defaults() -> None:
    config = resolve_config(PUBLISHED)
    assert config == TrainingConfig()
    assert config.factors == (1, 1, 0.5, 0.25, 0.125, 0.0625, 0.03125)
    assert config.progressive_epochs == (100,) * 7
    assert config.lambda_cls_2 == 2.0
    assert config.device == "auto"
    assert config.validate is True and config.testing is False


def test_each_problem_gets_its_own_line() -> None:
    with pytest.raises(ConfigError) as error:
        build_config(
            {
                "factors": [1, 1, 0.5, 0.25, 0.125],
                "batch_sizes": [8, 8],
                "class_size": 1,
                "start_train_at_img_size": 12,
                "gpus_n": [0, -1],
            }
        )
    lines = str(error.value).splitlines()
    assert "`batch_sizes` needs 5 entries, one per stage (sizes 4..64); got 2" in lines
    assert "`class_size` must be at least 2; got 1" in lines
    assert "`start_train_at_img_size` must be a power of two (4, 8, 16, ...); got 12" in lines
    assert "`gpus_n` lists GPU ids (0, 1, ...); got [0, -1]" in lines


def test_unknown_key_suggests_the_closest_one() -> None:
    with pytest.raises(ConfigError, match="unknown setting `batch_size`; did you mean `batch_sizes`"):
        build_config({"batch_size": 4})


def test_wrong_types_are_named() -> None:
    with pytest.raises(ConfigError, match="`validate`: expected True or False"):
        build_config({"validate": "maybe"})
    with pytest.raises(ConfigError, match="`class_size`: expected a whole number"):
        build_config({"class_size": 2.5})


def test_yaml_round_trip_and_overrides(tmp_path: Path) -> None:
    config = build_config({"factors": [1, 1, 0.5], "seed": 3, "ema": True})
    path = tmp_path / "config.yaml"
    path.write_text(config_to_yaml(config))
    assert resolve_config(path) == config
    assert resolve_config(path, {"seed": 9, "device": None}).seed == 9
    assert config_to_data(config)["factors"] == [1.0, 1.0, 0.5]


def test_single_number_for_a_per_stage_setting_applies_to_every_stage() -> None:
    assert build_config({"factors": [1, 1, 1], "progressive_epochs": 3}).progressive_epochs == (3, 3, 3)


def test_missing_and_unparsable_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        read_config_file(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot be parsed"):
        read_config_file(broken)


def test_a_large_value_is_never_echoed_whole_into_an_error_line() -> None:
    with pytest.raises(
        ConfigError, match=r"^`factors`: expected a number; got \[1, 1, 1, 1, 1, 1, \.\.\.\]$"
    ) as error:
        build_config({"factors": "[[1] * 99] * 100"})  # 10000 entries: allowed, but not numbers
    assert len(str(error.value)) < 200
    with pytest.raises(ConfigError, match="unknown setting `xxx") as error:
        build_config({"x" * 100_000: 1})
    assert (
        "x" * 100 not in str(error.value) and len(str(error.value)) < 2000
    )  # the valid keys, not 100000 x's
    with pytest.raises(ConfigError, match="`device` must be") as error:
        build_config({"device": "z" * 100_000})
    assert len(str(error.value)) < 200


def test_file_numbers_that_overflow_are_config_errors(tmp_path: Path) -> None:
    yaml_file = tmp_path / "config.yaml"
    yaml_file.write_text("learning_rate: 1.0e+400\n")
    with pytest.raises(ConfigError, match="`learning_rate`: expected a finite number; got inf"):
        resolve_config(yaml_file)
    yaml_file.write_text(f"seed: {'9' * 400}\n")
    with pytest.raises(
        ConfigError, match=r"`seed`: 9999.*\.\.\..*9999 is too large \(the number overflows\)"
    ):
        resolve_config(yaml_file)
    yaml_file.write_text(f"learning_rate: {'9' * 400}\n")
    with pytest.raises(ConfigError, match="`learning_rate`: expected a finite number"):
        resolve_config(yaml_file)
    yaml_file.write_text(f"seed: {'9' * 5000}\n")
    with pytest.raises(ConfigError, match=r"config\.yaml: cannot be parsed"):
        resolve_config(yaml_file)
    json_file = tmp_path / "config.json"
    json_file.write_text('{"LEARNING_RATE": 1e400}')
    with pytest.raises(ConfigError, match="`learning_rate`: expected a finite number; got inf"):
        resolve_config(json_file)


def test_unreadable_files_are_one_line_config_errors(tmp_path: Path) -> None:
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("class_names: [Contrôle, Patient]\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1.yaml: not UTF-8 text \(byte 19 cannot be decoded\)"):
        read_config_file(latin)
    deep = tmp_path / "deep.yaml"
    deep.write_text("factors: " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(ConfigError, match=r"deep\.yaml: cannot be parsed"):
        read_config_file(deep)
    large = tmp_path / "large.yaml"
    large.write_text("# " + "x" * 2**20 + "\n")
    with pytest.raises(ConfigError, match="too large for a configuration file"):
        read_config_file(large)


def test_yaml_aliases_that_expand_to_millions_of_values_are_refused_at_once(tmp_path: Path) -> None:
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join([*lines, "factors: *a9"]) + "\n")
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=r"laughs\.yaml: `a3` holds more than 10000 values") as error:
        resolve_config(path)
    assert time.perf_counter() - started < 1 and len(str(error.value)) < 200


def test_augmentation_names_are_checked_with_the_closest_valid_one() -> None:
    with pytest.raises(ConfigError) as error:
        build_config({"augment": "difaugment", "augment_transforms": ["translation", "cutuot"]})
    assert str(error.value).splitlines() == [
        "`augment` must be none, diffaugment or ada; got 'difaugment'; did you mean diffaugment?",
        "`augment_transforms`: unknown transform 'cutuot'; did you mean cutout? (choose from translation, "
        "cutout, brightness, contrast, saturation)",
    ]
    with pytest.raises(ConfigError, match=r"^`augment` must be none, diffaugment or ada; got 'mixup'$"):
        build_config({"augment": "mixup"})


def test_augmentation_settings_that_cannot_work_are_refused() -> None:
    with pytest.raises(ConfigError, match="saturation changes colours, which grey images"):
        build_config({"augment": "ada", "augment_transforms": ["saturation"]})
    assert build_config(
        {"image_channels": 3, "augment_transforms": "translation, saturation"}
    ).augment_transforms == (
        "translation",
        "saturation",
    )
    with pytest.raises(ConfigError, match="`augment_transforms` is empty"):
        build_config({"augment": "diffaugment", "augment_transforms": []})
    with pytest.raises(ConfigError, match=r"`ada_target` must be between 0 and 1; got 1\.5"):
        build_config({"ada_target": 1.5})
    with pytest.raises(
        ConfigError, match=r"`ada_step` \(change of p per epoch\) must be in \(0, 1\]; got 0.0"
    ):
        build_config({"ada_step": 0})


def test_shipped_template_lists_every_setting_with_its_default() -> None:
    import yaml

    assert set(yaml.safe_load(TEMPLATE.read_text())) == set(TrainingConfig.__dataclass_fields__)
    assert resolve_config(TEMPLATE) == TrainingConfig()


def test_a_data_folder_given_alone_brings_its_labels() -> None:
    config = build_config({"data_train_directory": "mine/train", "data_test_directory": "mine/test"})
    assert config.label_train_directory == str(Path("mine/train") / "labels.csv")
    assert config.label_test_directory == str(Path("mine/test") / "labels.csv")
    explicit = build_config({"data_train_directory": "mine/train", "label_train_directory": "other.csv"})
    assert explicit.label_train_directory == "other.csv"


def test_an_unknown_memory_format_is_named_with_the_closest_one() -> None:
    with pytest.raises(ConfigError, match=r"`memory_format` must be auto, .*did you mean channels_last"):
        build_config({"memory_format": "channel_last"})
