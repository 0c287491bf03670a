import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import typer

from helpers import make_separable_images, run_cli, tiny_config, write_config, write_data_folder
from pacgan_cli.cli.app import app
from pacgan_cli.core import runtime
from pacgan_cli.core.io.nifti import write_stack
from pacgan_cli.core.io.tables import write_synthetic_labels
from pacgan_cli.core.models.checkpoint import (
    DISCRIMINATOR,
    GENERATOR,
    NetworkArchitecture,
    save_checkpoint,
)
from pacgan_cli.core.runtime import THREADS_VARIABLE

ARCHITECTURE = NetworkArchitecture(8, (1.0, 1.0, 1.0), 1, 2, 6, 2)


@pytest.fixture(autouse=True)
def threads_as_before(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(THREADS_VARIABLE, raising=False)
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def checkpoint(tmp_path: Path, kind: str) -> Path:
    torch.manual_seed(0)
    return save_checkpoint(
        tmp_path / f"{kind}.pt", ARCHITECTURE.build(kind), ARCHITECTURE, epoch=1, stage=2, alpha=1
    )


@pytest.mark.parametrize("command", ["train", "generate", "classify", "evaluate"])
def test_every_command_that_runs_a_network_takes_threads(command: str) -> None:
    options = {
        option
        for parameter in typer.main.get_command(app).commands[command].params
        for option in parameter.opts
    }
    assert "--threads" in options


def test_training_names_its_threads_in_its_first_line(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "config.yaml", tiny_config(tiny_data, factors=[1, 1]))
    code, _, err = run_cli(["train", "-c", str(config), "-o", str(tmp_path / "run"), "-q"], capsys)
    assert code == 0, err
    assert err.splitlines()[0] == "training on cpu with 1 CPU thread in train mode, stages 4..8"
    assert torch.get_num_threads() == 1  # a tiny network: one thread by default


def test_generate_and_classify_say_device_and_threads_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    synthetic = tmp_path / "synth.nii.gz"
    generate = ["generate", "-m", str(checkpoint(tmp_path, GENERATOR)), "--total", "4", "-o", str(synthetic)]
    code, _, err = run_cli([*generate, "-q", "--threads", "2"], capsys)
    assert code == 0, err
    assert err.splitlines()[0] == "generating on cpu with 2 CPU threads"
    assert torch.get_num_threads() == 2

    monkeypatch.setenv(THREADS_VARIABLE, "3")
    code, _, err = run_cli(
        ["classify", str(synthetic), "-m", str(checkpoint(tmp_path, DISCRIMINATOR)), "-q"], capsys
    )
    assert code == 0, err
    assert err.splitlines()[0] == "classifying on cpu with 3 CPU threads"


def test_evaluate_says_device_and_threads_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    real = write_data_folder(tmp_path / "test", 8, 16)
    labels = np.arange(6) % 2
    fake = tmp_path / "synth.nii.gz"
    write_stack(fake, make_separable_images(labels, 16, seed=3))
    write_synthetic_labels(tmp_path / "synth_labels.csv", labels)
    arguments = ["evaluate", "--real", str(real), "--fake", str(fake), "-o", str(tmp_path / "report")]
    code, _, err = run_cli([*arguments, "--metrics", "ssim", "--threads", "1", "-q"], capsys)
    assert code == 0, err
    assert err.splitlines()[0] == "evaluating on cpu with 1 CPU thread"


def test_threads_below_one_are_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = checkpoint(tmp_path, GENERATOR)
    code, _, err = run_cli(
        ["generate", "-m", str(model), "--total", "2", "-o", str(tmp_path / "x.nii.gz"), "--threads", "0"],
        capsys,
    )
    assert code == 2 and len(err.splitlines()) == 1 and "--threads" in err


def test_waiting_openmp_threads_sleep_unless_the_user_chose_otherwise(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_WAIT_POLICY", "unset below")
    monkeypatch.delenv("OMP_WAIT_POLICY")
    assert run_cli(["--version"], capsys)[0] == 0
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert run_cli(["--version"], capsys)[0] == 0
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


@pytest.mark.parametrize("has_bf16", [False, True])
def test_bf16_on_a_cpu_without_bf16_instructions_is_warned_of_after_the_first_line(
    has_bf16: bool,
    tiny_data: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime, "cpu_has_bf16", lambda: has_bf16)
    config = write_config(tmp_path / "config.yaml", tiny_config(tiny_data, factors=[1]))
    train = ["train", "-c", str(config), "-o", str(tmp_path / "run"), "-q", "--precision", "bf16"]
    generate = ["generate", "-m", str(checkpoint(tmp_path, GENERATOR)), "--total", "2", "-q"]
    for arguments in (train, [*generate, "-o", str(tmp_path / "x.nii.gz"), "--precision", "bf16"]):
        code, _, err = run_cli(arguments, capsys)
        assert code == 0, err
        warnings = [line for line in err.splitlines() if "no bf16 instructions" in line]
        assert warnings == ([] if has_bf16 else [err.splitlines()[1]])
        assert has_bf16 or "--precision fp32" in warnings[0]
    code, _, err = run_cli([*generate, "-o", str(tmp_path / "y.nii.gz")], capsys)  # fp32: never a warning
    assert code == 0 and "bf16" not in err
