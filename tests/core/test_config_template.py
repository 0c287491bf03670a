from pathlib import Path

from pacgan_cli.core.config import TrainingConfig, resolve_config

TEMPLATE = Path(__file__).parents[2] / "configs" / "pacgan.yaml"


def test_shipped_template_lists_every_setting_with_its_default() -> None:
    import yaml

    assert set(yaml.safe_load(TEMPLATE.read_text())) == set(TrainingConfig.__dataclass_fields__)
    assert resolve_config(TEMPLATE) == TrainingConfig()
