"""The published config.json's expressions: read as main.py read them, and nothing executed."""

import json
import time
from pathlib import Path

import pytest

from pacgan_cli.core.config import build_config, resolve_config
from pacgan_cli.core.errors import ConfigError
from pacgan_cli.core.published_config import evaluate_expression

PUBLISHED = Path(__file__).parent.parent / "data" / "published_config.json"

# Values users of the published code write in config.json, which its main.py passes to eval(), and what
# that main.py would then have used (for DEVICE's conditionals: 'cuda[:N]' or 'cpu' by machine, ours 'auto[:N]').
PUBLISHED_VALUES = [
    ({"DEVICE": "'cpu'"}, {"device": "cpu"}),
    ({"DEVICE": '"cpu"'}, {"device": "cpu"}),
    ({"DEVICE": "'cuda'"}, {"device": "cuda"}),
    ({"DEVICE": "'cuda:1'"}, {"device": "cuda:1"}),
    ({"DEVICE": "torch.device('cpu')"}, {"device": "cpu"}),
    ({"DEVICE": "'cuda' if torch.cuda.is_available() else 'cpu'"}, {"device": "auto"}),
    ({"DEVICE": "'cuda:1' if torch.cuda.is_available() else 'cpu'"}, {"device": "auto:1"}),
    ({"DEVICE": "torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')"}, {"device": "auto:0"}),
    (
        {"DEVICE": "torch.device('cuda:2') if torch.cuda.is_available() else torch.device('cpu')"},
        {"device": "auto:2"},
    ),
    ({"GPUS_N": "[0, 1]"}, {"gpus_n": (0, 1)}),
    # The published file keeps its 7 batch sizes and critic iterations; main.py never reads past stage 4.
    (
        {"FACTORS": "[1, 1, 1/2, 1/4]"},
        {"factors": (1.0, 1.0, 0.5, 0.25), "progressive_epochs": (100,) * 4, "batch_sizes": (32, 32, 32, 16)},
    ),
    ({"BATCH_SIZES": "[32] * 3 + [16] * 4"}, {"batch_sizes": (32, 32, 32, 16, 16, 16, 16)}),
    (
        {"FACTORS": "[1, 1, 1/2]", "BATCH_SIZES": "[32, 32, 32, 16, 16, 16, 16][:len(factors)]"},
        {"batch_sizes": (32, 32, 32)},
    ),
    ({"CRITIC_ITERATIONS": "[1] * (len(bs) - 2) + [2, 2]"}, {"critic_iterations": (1, 1, 1, 1, 1, 2, 2)}),
    ({"LAMBDA_CLS_1": 6, "LAMBDA_CLS_2": "L_cls1/2"}, {"lambda_cls_2": 3.0}),
    ({"LAMBDA_CLS_2": "L_cls1 * 0.25 + L_GP / 10"}, {"lambda_cls_2": 2.0}),
    (
        {"PROGRESSIVE_EPOCHS": "[10, 20] + [50] * (len(factors) - 2)"},
        {"progressive_epochs": (10, 20, *[50] * 5)},
    ),
    ({"N_IMAGES_GENERATED": "[500] * class_size"}, {"n_images_generated": (500, 500)}),
    ({"N_IMAGES_GENERATED": "[200, 800]"}, {"n_images_generated": (200, 800)}),
    ({"VALIDATE": "False", "TESTING": "True"}, {"validate": False, "testing": True}),
    ({"TESTING": "not validate"}, {"testing": False}),
    ({"GENERATE": "0", "TEST_USING_BEST_MODEL": "1"}, {"generate": False, "test_using_best_model": True}),
    (
        {"LOAD_MODEL": "True", "START_TRAIN_AT_IMG_SIZE": 8},
        {"load_model": True, "start_train_at_img_size": 8},
    ),
]


def test_expressions_use_earlier_settings() -> None:
    config = build_config(
        {
            "factors": "[1, 1, 1/2]",
            "progressive_epochs": "[5] * len(factors)",
            "lambda_cls_1": 6,
            "lambda_cls_2": "L_cls1/3",
        }
    )
    assert config.progressive_epochs == (5, 5, 5)
    assert config.lambda_cls_2 == 2.0
    assert config.batch_sizes == (32, 32, 32)


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('touch PWNED')",
        "open('PWNED', 'w')",
        "(lambda: 1)()",
        "[x for x in (1, 2)]",
        "factors.__class__",
        "[1] * 10 ** 9",
        "'cuda' if __import__('os') else 'cpu'",
    ],
)
def test_malicious_values_are_rejected_without_running(
    expression: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"FACTORS": "[1, 1]", "BATCH_SIZES": expression}))
    with pytest.raises(ConfigError):
        resolve_config(path)
    with pytest.raises(ConfigError):
        evaluate_expression(expression, {"factors": [1, 1]})
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize(("values", "expected"), PUBLISHED_VALUES)
def test_published_config_values_read_as_the_published_code_used_them(
    values: dict[str, object], expected: dict[str, object], tmp_path: Path
) -> None:
    data = json.loads(PUBLISHED.read_text())
    data.update(values)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    config = resolve_config(path)
    assert {key: getattr(config, key) for key in expected} == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"VALIDATE": "'False'"}, "quoted text, which the published code reads as true"),
        ({"DEVICE": "'cpu' if torch.cuda.is_available() else 'cuda:1'"}, "the only conditional understood"),
        ({"DEVICE": "'cuda:x' if torch.cuda.is_available() else 'cpu'"}, "the only conditional understood"),
        ({"DEVICE": "'tpu'"}, "`device` must be auto, auto:N, cpu, cuda or cuda:N"),
        ({"DEVICE": "'cuda:one'"}, "`device` must be auto, auto:N, cpu, cuda or cuda:N"),
        ({"PROGRESSIVE_EPOCHS": "[100] * len(bs)", "BATCH_SIZES": "[8] * len(prog_epochs)"}, "unknown name"),
    ],
)
def test_published_values_that_would_mislead_are_refused_with_the_fix(
    values: dict[str, object], message: str, tmp_path: Path
) -> None:
    data = json.loads(PUBLISHED.read_text())
    data.update(values)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=message):
        resolve_config(path)


@pytest.mark.parametrize(
    "expression",
    [
        "[[1] * 1000] * 1000 * 1000",
        "[[[[1] * 10] * 10] * 10] * 10",
        "[[1] * 50] * 100 + [[1] * 50] * 100",
    ],
)
def test_nested_list_products_are_refused_at_once_with_a_short_line(expression: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="lists are limited to 10000 entries in all") as error:
        build_config({"factors": expression})
    assert time.perf_counter() - started < 1
    assert "\n" not in str(error.value) and len(str(error.value)) < 300


@pytest.mark.parametrize(
    "expression", ["-" * 60 + "1", "[" * 150 + "1" + "]" * 150, "(" * 300 + "1" + ")" * 300]
)
def test_deeply_nested_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ConfigError, match=r"nested more than 20 levels deep|too many nested") as error:
        evaluate_expression(expression)
    assert len(str(error.value)) < 300


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1e400", "the number overflows"),
        ("-1e400", "the number overflows"),
        ("1e308 * 10", "the number overflows"),
        ("2 ** 62 * 4", "the number overflows"),
        ("999 ** 60 * 1.0", "the number overflows"),
        ("10 ** 10 ** 10", "powers are limited to small numbers"),
        ("(-8) ** 0.5", "not a real number"),
    ],
)
def test_numbers_that_overflow_are_config_errors(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"`learning_rate`: .*{message}"):
        build_config({"learning_rate": value})
