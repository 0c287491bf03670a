import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import TIMING_KEYS, run_cli, tiny_config, write_config
from pacgan_cli.core.io.nifti import write_stack
from pacgan_cli.core.models.checkpoint import load_checkpoint


def read_metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def without_timing(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in record.items() if k not in TIMING_KEYS} for record in records]


def train(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config: dict, run: Path, *extra: str
) -> tuple[int, str, str]:
    path = write_config(tmp_path / f"config-{run.name}.yaml", config)
    return run_cli(["train", "-c", str(path), "-o", str(run), "--quiet", *extra], capsys)


def test_train_through_the_cli_writes_every_file(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    shutil.rmtree(tiny_data / "test")  # validation mode must never read the test set
    code, out, err = train(
        tmp_path,
        capsys,
        tiny_config(
            tiny_data, validate=True, progressive_epochs=2, ema=True, generate=True, n_images_generated=[6]
        ),
        run,
    )
    assert code == 0, err
    assert f"run folder: {run}" in out
    assert {"config.yaml", "metrics.jsonl", "summary.json"} <= {p.name for p in run.iterdir()}
    records = read_metrics(run)
    assert [(r["size"], r["epoch"]) for r in records] == [(s, e) for s in (4, 8, 16) for e in (1, 2)]
    for key in (
        "d_loss",
        "g_loss",
        "gp",
        "drift",
        "cls_real",
        "cls_fake",
        "auc_real",
        "val_auc_real",
        "val_auc_fake",
        "alpha",
        "images_per_s",
    ):
        assert key in records[-1]
    for size in (4, 8, 16):
        stage = run / f"PACGAN_{size}x{size}"
        names = {p.name for p in stage.iterdir()}
        assert {
            "generator_last.pt",
            "generator_best.pt",
            "discriminator_last.pt",
            "discriminator_best.pt",
        } <= names
        assert {
            "generator_last_ema.pt",
            "generator_best_ema.pt",
            "losses.png",
            "loss_terms.png",
            "auc.png",
        } <= names
        assert "samples_epoch_0001.png" in names and "samples_epoch_0002.png" in names
        critic = load_checkpoint(stage / "discriminator_best.pt")
        assert critic.batch_statistic is not None and critic.batch_statistic > 0
        assert critic.architecture.max_size == 16
        raw = torch.load(stage / "generator_last.pt", weights_only=True)
        assert {"epoch", "model_state_dict", "optimizer_state_dict", "stage", "alpha", "config"} <= set(raw)
    assert (run / "evaluation" / "report.md").is_file() and (run / "evaluation" / "metrics.json").is_file()
    evaluated = json.loads((run / "evaluation" / "metrics.json").read_text())["inputs"]
    assert evaluated["real"].endswith("Real16x16.nii.gz (validation fold)")
    assert evaluated["train"].endswith("Real16x16.nii.gz (training part)")
    assert sum(evaluated["real_per_class"]) == 8  # 40 images, one of 5 subject-grouped folds
    assert (run / "generated" / "labels_syn.csv").read_text().count("\n") == 7
    assert f"evaluation report: {run / 'evaluation' / 'report.md'}" in out
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["stages"]) == {"4x4", "8x8", "16x16"}
    assert not list(run.rglob(".*.tmp*")) and not list(run.rglob(".*.pt"))


def test_same_seed_gives_identical_metrics(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tiny_config(tiny_data, validate=True, progressive_epochs=2, seed=5)
    assert train(tmp_path, capsys, config, tmp_path / "a")[0] == 0
    assert train(tmp_path, capsys, config, tmp_path / "b")[0] == 0
    assert without_timing(read_metrics(tmp_path / "a")) == without_timing(read_metrics(tmp_path / "b"))
    config["seed"] = 6
    assert train(tmp_path, capsys, config, tmp_path / "c")[0] == 0
    assert without_timing(read_metrics(tmp_path / "a")) != without_timing(read_metrics(tmp_path / "c"))


def test_resume_continues_where_it_stopped(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tiny_config(tiny_data, progressive_epochs=2, seed=3)
    full = tmp_path / "full"
    assert train(tmp_path, capsys, config, full)[0] == 0
    partial = tmp_path / "partial"
    shutil.copytree(full, partial)
    shutil.rmtree(partial / "PACGAN_16x16")
    kept = [
        line for line in (partial / "metrics.jsonl").read_text().splitlines() if json.loads(line)["size"] < 16
    ]
    (partial / "metrics.jsonl").write_text("\n".join(kept) + "\n")
    code, _, err = run_cli(["train", "-o", str(partial), "--resume", "--quiet"], capsys)
    assert code == 0, err
    assert without_timing(read_metrics(partial)) == without_timing(read_metrics(full))
    resumed = load_checkpoint(partial / "PACGAN_16x16" / "generator_last.pt").model.state_dict()
    straight = load_checkpoint(full / "PACGAN_16x16" / "generator_last.pt").model.state_dict()
    for key, value in straight.items():
        torch.testing.assert_close(resumed[key], value)


def test_resume_at_a_given_size_retrains_from_there(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert train(tmp_path, capsys, tiny_config(tiny_data), run)[0] == 0
    code, _, err = run_cli(["train", "-o", str(run), "--resume", "--start-size", "8", "--quiet"], capsys)
    assert code == 0, err
    assert [r["size"] for r in read_metrics(run)] == [4, 8, 16]


def test_test_mode_scores_the_held_out_set_well_above_chance(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    validation = tmp_path / "validation"
    config = tiny_config(tiny_data, validate=True, progressive_epochs=4, start_check_at=0.5)
    assert train(tmp_path, capsys, config, validation)[0] == 0
    best = [load_checkpoint(validation / f"PACGAN_{s}x{s}" / "generator_best.pt").epoch for s in (4, 8, 16)]
    test_config = tiny_config(tiny_data, validate=False, testing=True, best_epochs_from=str(validation))
    code, out, err = train(tmp_path, capsys, test_config, tmp_path / "test")
    assert code == 0, err
    records = read_metrics(tmp_path / "test")
    assert [sum(1 for r in records if r["event"] == "epoch" and r["size"] == s) for s in (4, 8, 16)] == best
    tests = [r for r in records if r["event"] == "test"]
    assert [r["size"] for r in tests] == [4, 8, 16]
    assert tests[-1]["auc_macro"] > 0.8
    assert np.allclose(np.nansum(tests[-1]["confusion_matrix_normalised"], axis=1), 1)
    assert (tmp_path / "test" / "PACGAN_16x16" / "test_roc.png").is_file()
    assert (tmp_path / "test" / "PACGAN_16x16" / "test_confusion.png").is_file()
    assert "test AUC" in out


def test_published_config_json_writes_under_its_model_and_image_directories(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    published = json.loads((Path(__file__).parent.parent / "data" / "published_config.json").read_text())
    published.update(
        {
            "DATA_TRAIN_DIRECTORY": str(tiny_data / "train"),
            "LABEL_TRAIN_DIRECTORY": str(tiny_data / "train" / "labels.csv"),
            "IN_CHANNELS": 8,
            "Z_DIM": 8,
            "FACTORS": "[1, 1, 1/2]",
            "BATCH_SIZES": "[8] * len(factors)",
            "CRITIC_ITERATIONS": "[1, 1, 2]",
            "PROGRESSIVE_EPOCHS": "[1] * len(factors)",
            "GENERATE": "False",
            "DEVICE": "'cpu'",  # how the published code's users force the CPU
        }
    )
    path = tmp_path / "config.json"
    path.write_text(json.dumps(published))
    code, _, err = run_cli(["train", "-c", str(path), "--quiet"], capsys)
    assert code == 0, err
    assert (tmp_path / "saved_models/PACGAN/PACGAN_16x16/generator_best.pt").is_file()
    assert (tmp_path / "saved_images/PACGAN/PACGAN_16x16/losses.png").is_file()
    code, out, _ = run_cli(["train", "-c", str(path), "--dry-run"], capsys)
    assert code == 0 and "critic_iterations:\n- 1\n- 1\n- 2\n" in out and "device: cpu\n" in out


def test_existing_run_is_not_overwritten_without_force(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert train(tmp_path, capsys, tiny_config(tiny_data), run)[0] == 0
    before = (run / "metrics.jsonl").read_text()
    code, _, err = train(tmp_path, capsys, tiny_config(tiny_data, seed=1), run)
    assert code == 1 and err.count("\n") == 1 and "--resume" in err and "--force" in err
    assert (run / "metrics.jsonl").read_text() == before
    assert train(tmp_path, capsys, tiny_config(tiny_data, seed=1), run, "--force")[0] == 0
    assert (run / "metrics.jsonl").read_text() != before


def break_labels(data: Path, change) -> None:
    path = data / "train" / "labels.csv"
    table = pd.read_csv(path)
    change(table).to_csv(path, index=False)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: shutil.rmtree(d / "train"), "data folder not found"),
        (lambda d: (d / "train" / "Real8x8.nii.gz").unlink(), "Real8x8.nii.gz: missing"),
        (lambda d: break_labels(d, lambda t: t.drop(columns="Subject_ID")), "missing column(s) Subject_ID"),
        (lambda d: break_labels(d, lambda t: t.assign(ID=t["ID"] + 5)), "outside the stack"),
        (lambda d: break_labels(d, lambda t: t.assign(Label=t["Label"] * 3)), "label 3 is outside 0..1"),
        (
            lambda d: write_stack(
                d / "train" / "Real8x8.nii.gz", np.zeros((40, 1, 16, 16), np.float32), force=True
            ),
            "expected 8x8 images",
        ),
        (
            lambda d: write_stack(
                d / "train" / "Real4x4.nii.gz", np.full((40, 1, 4, 4), np.nan, np.float32), force=True
            ),
            "NaN or infinite",
        ),
        (
            lambda d: write_stack(
                d / "train" / "Real16x16.nii.gz", np.full((40, 1, 16, 16), 270, np.float32), force=True
            ),
            "intensities span [270, 270] but the networks and metrics need [-1, 1]; scale the largest stack "
            "with `pacgan scale`",
        ),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage, message: str
) -> None:
    damage(tiny_data)
    run = tmp_path / "run"
    code, _, err = train(tmp_path, capsys, tiny_config(tiny_data), run)
    assert code == 1
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert message in err
    assert not run.exists() or not (run / "metrics.jsonl").exists()


def test_invalid_config_exits_with_code_2(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = train(tmp_path, capsys, tiny_config(tiny_data, batch_sizes=[8, 8]), tmp_path / "run")
    assert code == 2 and "`batch_sizes` needs 3 entries" in err


def test_run_keeps_a_timestamped_log_and_timestamped_metrics(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import datetime

    run = tmp_path / "run"
    assert train(tmp_path, capsys, tiny_config(tiny_data, progressive_epochs=2), run)[0] == 0
    log = (run / "train.log").read_text().splitlines()
    stamps = [datetime.datetime.fromisoformat(line.split(" ", 1)[0]) for line in log]
    assert all(stamp.tzinfo is not None for stamp in stamps) and stamps == sorted(stamps)
    assert any("training on cpu" in line for line in log)
    assert sum("16x16: epoch 2/2 done  d_loss " in line for line in log) == 1
    times = [datetime.datetime.fromisoformat(record["time"]) for record in read_metrics(run)]
    assert len(times) == 6 and times == sorted(times)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "class_names: [Contrôle, Patient]\n".encode("latin-1"),
            "not UTF-8 text (byte 19 cannot be decoded)",
        ),
        (b"learning_rate: 1e400\n", "`learning_rate`: '1e400' is not allowed (the number overflows)"),
        (b"seed: 10**10**10\n", "`seed`: '10**10**10' is not allowed (powers are limited to small numbers)"),
        (b"factors: '[[1]*1000]*1000*1000'\n", "lists are limited to 10000 entries in all"),
    ],
)
def test_unreadable_or_overflowing_configs_are_one_line_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    code, _, err = run_cli(["train", "-c", str(path), "-o", str(tmp_path / "run"), "--dry-run"], capsys)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "run").exists()


def test_an_unknown_augmentation_is_one_usage_line_with_the_closest_name(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    code, _, err = train(tmp_path, capsys, tiny_config(tiny_data), run, "--augment", "ADA-")
    assert code == 2 and err.count("\n") == 1
    assert err == "error: `augment` must be none, diffaugment or ada; got 'ADA-'; did you mean ada?\n"
    assert not run.exists()
    code, out, _ = train(tmp_path, capsys, tiny_config(tiny_data), run, "--augment", "ada", "--dry-run")
    assert code == 0 and "augment: ada\n" in out


def test_dry_run_checks_the_data_as_a_run_would_and_writes_nothing(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    code, out, err = train(tmp_path, capsys, tiny_config(tiny_data), run, "--dry-run")
    assert code == 0, err
    assert "batch_sizes:" in out
    assert err == f"inputs checked: {tiny_data / 'train'} (40 labelled images, 4x4 to 16x16)\n"
    typo = tiny_config(tiny_data, data_train_directory=str(tiny_data / "trian"))
    code, out, err = train(tmp_path, capsys, typo, run, "--dry-run")
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith(f"error: {tiny_data / 'trian'}: data folder not found")
    (tiny_data / "train" / "Real8x8.nii.gz").unlink()
    code, _, err = train(tmp_path, capsys, tiny_config(tiny_data), run, "--dry-run")
    assert code == 1 and "Real8x8.nii.gz: missing" in err
    code, _, err = train(tmp_path, capsys, tiny_config(tiny_data, class_size=3), run, "--dry-run")
    assert code == 1 and err.count("\n") == 1
    assert not run.exists()


def test_a_run_is_recorded_as_the_last_run_here_once_its_folder_is_open(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pacgan_cli.core.io.run_layout import RunLayout, last_run

    monkeypatch.chdir(tmp_path)
    assert train(tmp_path, capsys, tiny_config(tiny_data), tmp_path / "a", "--dry-run")[0] == 0
    assert not (tmp_path / ".pacgan").exists()  # a dry run records nothing
    assert train(tmp_path, capsys, tiny_config(tiny_data), tmp_path / "a")[0] == 0
    assert last_run() == RunLayout(tmp_path / "a", tmp_path / "a")
    typo = tiny_config(tiny_data, data_train_directory=str(tiny_data / "trian"))
    assert train(tmp_path, capsys, typo, tmp_path / "b")[0] == 1  # refused before its folder was opened
    assert last_run() == RunLayout(tmp_path / "a", tmp_path / "a")
