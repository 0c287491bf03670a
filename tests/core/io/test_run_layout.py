"""The record of the run `pacgan train` last trained from a folder (io/run_layout.py), which `generate` and
`classify` use without --model."""

from pathlib import Path

import pytest

from pacgan_cli.core.errors import ConfigError, InputError
from pacgan_cli.core.io.run_layout import LAST_RUN_RECORD, RunLayout, last_run, record_last_run


def test_the_recorded_run_is_read_back_relative_to_the_folder_it_was_recorded_in(tmp_path: Path) -> None:
    (tmp_path / "runs" / "x").mkdir(parents=True)
    written = record_last_run(RunLayout(Path("runs/x"), Path("images/x")), tmp_path)
    assert written == tmp_path / ".pacgan" / "last_run.json" == tmp_path / LAST_RUN_RECORD
    assert last_run(tmp_path) == RunLayout(tmp_path / "runs/x", tmp_path / "images/x")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    record_last_run(RunLayout(elsewhere, elsewhere), tmp_path)  # a later run replaces the record
    assert last_run(tmp_path) == RunLayout(elsewhere, elsewhere)


def test_no_record_a_damaged_one_or_a_run_that_is_gone_is_one_line_naming_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no --model given, and no run of `pacgan train` is recorded here"):
        last_run(tmp_path)
    (tmp_path / ".pacgan").mkdir()
    (tmp_path / LAST_RUN_RECORD).write_text("{not json")
    with pytest.raises(InputError, match=r"last_run.json: cannot be read .*pass --model RUN_FOLDER"):
        last_run(tmp_path)
    record_last_run(RunLayout(Path("gone"), Path("gone")), tmp_path)
    with pytest.raises(InputError, match=r"gone: the run recorded in .* is gone; pass --model RUN_FOLDER"):
        last_run(tmp_path)
