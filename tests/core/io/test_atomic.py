import json
import math
from pathlib import Path

import numpy as np

from pacgan_cli.core.io.atomic import json_ready, write_json_atomic


def test_undefined_numbers_become_null_and_numpy_scalars_plain_numbers() -> None:
    data = {"auc": float("nan"), 3: [np.float32(0.5), np.int64(7), (math.inf, -math.inf)], "name": "x"}
    assert json_ready(data) == {"auc": None, "3": [0.5, 7, [None, None]], "name": "x"}


def test_written_json_is_strict_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "metrics.json"
    write_json_atomic(target, {"values": [1.0, float("nan")], "score": np.float64(0.25)})
    text = target.read_text()
    assert "NaN" not in text and text.endswith("\n")
    assert json.loads(text) == {"values": [1.0, None], "score": 0.25}
    assert [p.name for p in target.parent.iterdir()] == ["metrics.json"]
