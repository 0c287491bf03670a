"""Optional TensorBoard logging: the run folder writes the numbers of every metrics.jsonl line and the
per-class sample grids as event files, and a resumed run replaces the events it writes again; the files of a
run follow the umask; a link planted among them is refused or, with --force, removed, never written through."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from helpers import run_cli, tiny_config, write_config
from pacgan_cli.core.config import build_config
from pacgan_cli.core.errors import OutputExistsError, StorageError, UnsafeFileError
from pacgan_cli.core.io.run_layout import RunLayout
from pacgan_cli.core.training import run_folder
from pacgan_cli.core.training.loop import train

ALL_EVENTS = {"scalars": 0, "images": 0}  # keep every event, not a sample


def read_events(run: Path) -> EventAccumulator:
    events = EventAccumulator(str(run / "tensorboard"), size_guidance=ALL_EVENTS)
    events.Reload()
    return events


def metrics_lines(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def expected_scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    """(step, value) per tag as the metrics lines say: the step counts the run's epochs, test lines
    go under test/ at their stage's last epoch, lists are flattened by index."""
    expected: dict[str, list[tuple[int, float]]] = {}
    step = 0

    def add(tag: str, value: object) -> None:
        if isinstance(value, list):
            for index, item in enumerate(value):
                add(f"{tag}/{index}", item)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            expected.setdefault(tag, []).append((step, float(value)))

    for line in metrics_lines(run):
        step += line["event"] == "epoch"
        prefix = "test/" if line["event"] == "test" else ""
        for key, value in line.items():
            add(prefix + key, value)
    return expected


def assert_events_match_metrics(run: Path) -> EventAccumulator:
    events = read_events(run)
    expected = expected_scalars(run)
    assert set(events.Tags()["scalars"]) == set(expected)
    for tag, points in expected.items():
        logged = [(event.step, event.value) for event in events.Scalars(tag)]
        assert [step for step, _ in logged] == [step for step, _ in points], tag
        np.testing.assert_allclose([v for _, v in logged], [v for _, v in points], rtol=1e-6, err_msg=tag)
    return events


def test_events_hold_every_metrics_number_and_the_sample_grids(tiny_data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = tiny_config(
        tiny_data,
        tensorboard=True,
        testing=True,
        test_using_best_model=False,
        progressive_epochs=2,
        disp_every_n_epochs=1,
        ema=True,
    )
    train(build_config(config), output=run)

    events = assert_events_match_metrics(run)
    assert {"d_loss", "g_loss", "alpha", "auc_real", "test/auc_macro", "test/auc_per_class/1"} <= set(
        events.Tags()["scalars"]
    )
    assert sorted(events.Tags()["images"]) == sorted(
        f"{kind}/{size}x{size}" for kind in ("samples", "samples_ema") for size in (4, 8, 16)
    )
    for stage, size in enumerate((4, 8, 16)):
        grids = events.Images(f"samples/{size}x{size}")
        assert [grid.step for grid in grids] == [2 * stage + 1, 2 * stage + 2]
        # Two classes in rows, samples_per_class (2) columns, a white 1-pixel border around each image.
        pixels = np.asarray(Image.open(io.BytesIO(grids[-1].encoded_image_string)).convert("L"))
        assert pixels.shape == (2 * (size + 2), 2 * (size + 2))
        assert (pixels[0] == 255).all() and (pixels[:, 0] == 255).all()
        assert not (pixels[1 : size + 1, 1 : size + 1] == 255).all()


def test_a_stage_trained_again_replaces_its_events(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    train(build_config(tiny_config(tiny_data, tensorboard=True, seed=3)), output=run)
    first = read_events(run).Scalars("d_loss")[-1]
    code, _, err = run_cli(
        ["train", "--resume", "--start-size", "16", "--seed", "5", "-o", str(run), "--quiet"], capsys
    )
    assert code == 0, err

    events = assert_events_match_metrics(run)
    again = events.Scalars("d_loss")
    assert [event.step for event in again] == [1, 2, 3] and again[-1].value != first.value


def test_without_the_tensorboard_package_training_stops_with_one_line_before_writing(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # the import fails as if not installed
    run = tmp_path / "run"
    config_path = write_config(tmp_path / "config.yaml", tiny_config(tiny_data))
    code, _, err = run_cli(["train", "-c", str(config_path), "-o", str(run), "--tensorboard"], capsys)
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert err.rstrip().endswith("install it with: pip install tensorboard")
    assert not run.exists()


def test_tensorboard_is_off_by_default(tiny_data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(build_config(tiny_config(tiny_data)), output=run)
    assert not (run / "tensorboard").exists()


def test_run_files_follow_the_umask(tiny_data: Path, tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        run = tmp_path / "run"
        train(build_config(tiny_config(tiny_data)), output=run)
    finally:
        os.umask(previous)
    for path in (run / "PACGAN_16x16" / "generator_last.pt", run / "summary.json", run / "config.yaml"):
        assert path.stat().st_mode & 0o777 == 0o644, path


def test_a_link_planted_in_the_run_folder_is_refused_before_anything_is_written(
    tiny_data: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.log"
    outside.write_text("theirs\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.log").symlink_to(outside)
    with pytest.raises(UnsafeFileError, match=r"train\.log is a symbolic link"):
        train(build_config(tiny_config(tiny_data)), output=run)
    assert outside.read_text() == "theirs\n"
    assert [path.name for path in run.iterdir()] == ["train.log"]  # the lock is released too


def test_force_removes_links_among_the_results_not_what_they_point_to(
    tiny_data: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "events").mkdir(parents=True)
    (elsewhere / "events" / "keep.txt").write_text("theirs")
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").symlink_to(elsewhere / "created.jsonl")  # dangling: appending would create it
    (run / "tensorboard").symlink_to(elsewhere / "events")
    with pytest.raises(OutputExistsError, match=r"metrics\.jsonl"):
        train(build_config(tiny_config(tiny_data)), output=run)
    train(build_config(tiny_config(tiny_data)), output=run, force=True)
    assert not (elsewhere / "created.jsonl").exists() and (elsewhere / "events" / "keep.txt").exists()
    assert not (run / "metrics.jsonl").is_symlink() and len(metrics_lines(run)) == 3
    assert not (run / "tensorboard").exists()


def test_closing_on_a_full_disk_leaves_the_error_in_flight_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The resume checkpoint failed in the background and the log line saying so cannot be written either:
    close must not raise (in training it runs in a `finally`, and would replace the error that says how to
    resume)."""

    def full(path: Path, *args: object) -> None:
        raise StorageError(f"the disk is full while writing {path}", "free space")

    monkeypatch.setattr(run_folder, "write_progress_file", full)
    monkeypatch.setattr(run_folder, "append_text", full)
    folder = run_folder.RunFolder(RunLayout(tmp_path, tmp_path))
    folder.save_progress({}, background=True)
    folder.close()
