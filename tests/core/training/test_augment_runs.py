"""Augmentation in whole runs: ada's p follows its signal, is logged each epoch, survives resume and stage
hand-over, and validation, testing, the end-of-run evaluation and classify never see augmented images."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch

from helpers import ADA, StopInStage, epochs, run_cli, stored_probability, tiny_config
from pacgan_cli.core.config import build_config
from pacgan_cli.core.errors import TrainingInterrupted
from pacgan_cli.core.models.checkpoint import load_checkpoint
from pacgan_cli.core.progress import SilentReporter
from pacgan_cli.core.training import augment
from pacgan_cli.core.training.data import batch_ranges, open_data_folder, validation_split
from pacgan_cli.core.training.loop import train


@pytest.fixture
def overfitting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A controlled signal: the critic always looks overfitted (r = 1 > target), so p rises by ada_step per
    epoch; a tiny run's own critic hardly separates its 40 images from the fakes within a few epochs."""
    monkeypatch.setattr(
        augment, "overfitting_signal", lambda real, fake, ranks=None: torch.ones((), device=real.device)
    )


@pytest.mark.parametrize("signal", [1.0, -1.0])
def test_ada_p_starts_at_0_moves_with_the_signal_and_carries_into_the_next_stage(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signal: float
) -> None:
    monkeypatch.setattr(augment, "overfitting_signal", lambda real, fake, ranks=None: torch.tensor(signal))
    train(build_config(tiny_config(tiny_data, **ADA)), output=tmp_path / "run")
    records = epochs(tmp_path / "run")
    assert [r["augment_signal"] for r in records] == [signal] * 12
    expected = [min(1.0, 0.1 * epoch) if signal > 0 else 0.0 for epoch in range(13)]  # across stages
    assert [r["augment_p"] for r in records] == pytest.approx(expected[:12])
    for stage, size in enumerate((4, 8, 16)):  # each stage checkpoint holds the p the next stage starts with
        assert stored_probability(tmp_path / "run", size) == pytest.approx(expected[4 * (stage + 1)])


def test_diffaugment_logs_p_1_and_none_logs_nothing_new(tiny_data: Path, tmp_path: Path) -> None:
    train(build_config(tiny_config(tiny_data, augment="diffaugment")), output=tmp_path / "diff")
    train(build_config(tiny_config(tiny_data)), output=tmp_path / "none")
    assert all(r["augment_p"] == 1.0 and -1 <= r["augment_signal"] <= 1 for r in epochs(tmp_path / "diff"))
    assert not any("augment_p" in r or "augment_signal" in r for r in epochs(tmp_path / "none"))
    assert (
        stored_probability(tmp_path / "diff", 16) is None
        and stored_probability(tmp_path / "none", 16) is None
    )


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM to oneself")
def test_resume_inside_a_stage_continues_with_the_saved_p_bit_for_bit(
    tiny_data: Path, tmp_path: Path, overfitting: None
) -> None:
    settings = build_config(tiny_config(tiny_data, **ADA, checkpoint_every_minutes=0.0001))
    train(settings, output=tmp_path / "reference")
    with pytest.raises(TrainingInterrupted):
        train(settings, StopInStage(stage=1, batch=14), output=tmp_path / "run")  # epoch 3 of 8x8
    saved = torch.load(tmp_path / "run" / "resume.pt", weights_only=True)
    expected = [r for r in epochs(tmp_path / "reference") if r["size"] == 8][saved["epoch"] - 1]
    assert saved["networks"]["augment_probability"] == expected["augment_p"] == pytest.approx(0.6)
    train(settings, SilentReporter(), output=tmp_path / "run", resume=True)
    assert epochs(tmp_path / "run") == epochs(tmp_path / "reference")
    for name in ("generator_last.pt", "discriminator_last.pt"):
        first = load_checkpoint(tmp_path / "run" / "PACGAN_16x16" / name).model.state_dict()
        second = load_checkpoint(tmp_path / "reference" / "PACGAN_16x16" / name).model.state_dict()
        assert all(torch.equal(value, second[key]) for key, value in first.items())


def test_resume_at_a_stage_boundary_continues_with_the_p_of_the_stage_checkpoint(
    tiny_data: Path, tmp_path: Path, overfitting: None
) -> None:
    settings = build_config(tiny_config(tiny_data, **ADA))
    full, partial = tmp_path / "full", tmp_path / "partial"
    train(settings, output=full)
    shutil.copytree(full, partial)
    shutil.rmtree(partial / "PACGAN_16x16")
    (partial / "PACGAN_8x8" / "stage_complete.json").unlink()
    (partial / "metrics.jsonl").write_text(
        "".join(
            line + "\n"
            for line in (full / "metrics.jsonl").read_text().splitlines()
            if json.loads(line)["size"] < 8
        )
    )
    shutil.rmtree(partial / "PACGAN_8x8")
    assert stored_probability(partial, 4) == pytest.approx(0.4)
    train(settings, output=partial, resume=True)
    assert epochs(partial) == epochs(full)


def augmentation_callers(monkeypatch: pytest.MonkeyPatch) -> list[set[str]]:
    """Replace augment.apply_transforms by a spy that records the function names on each call's stack."""
    calls: list[set[str]] = []
    original = augment.apply_transforms

    def spy(images: torch.Tensor, draw: augment.Draw) -> torch.Tensor:
        frame, names = sys._getframe(1), set()
        while frame is not None:
            names.add(frame.f_code.co_name)
            frame = frame.f_back
        calls.append(names)
        return original(images, draw)

    monkeypatch.setattr(augment, "apply_transforms", spy)
    return calls


@pytest.mark.parametrize("mode", ["validate", "test"])
def test_validation_testing_evaluation_and_classify_never_augment(
    tiny_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    mode: str,
) -> None:
    calls = augmentation_callers(monkeypatch)
    raw = tiny_config(
        tiny_data,
        augment="diffaugment",
        progressive_epochs=2,
        validate=mode == "validate",
        testing=mode == "test",
        test_using_best_model=False,
        generate=mode == "validate",  # the end-of-run generation and evaluation
        n_images_generated=[20],
    )
    result = train(build_config(raw), output=tmp_path / "run")
    steps = {"critic_step": 0, "generator_step": 0}
    for names in calls:
        assert names & {"critic_step", "generator_step"}, names  # every call is inside a training step
        steps["critic_step" if "critic_step" in names else "generator_step"] += 1
        assert not names & {"validate_epoch", "_test_stage", "evaluate_run_end", "_finish_stage"}
    settings = build_config(raw)
    labels = open_data_folder(tiny_data / "train", tiny_data / "train" / "labels.csv", range(3), 1, 2).labels
    images = len(validation_split(labels, 5, settings.seed)[0]) if mode == "validate" else len(labels)
    batches = len(batch_ranges(images, 8)) * 2 * 3  # per epoch x epochs x stages
    assert steps == {"critic_step": 2 * batches, "generator_step": batches}  # real and fake: two per step
    if mode == "validate":
        assert all("val_auc_real" in record for record in epochs(tmp_path / "run"))
        assert result.evaluation_directory is not None
    else:
        assert all(stage.test is not None for stage in result.stages)
    during_training = len(calls)
    stack = tiny_data / "test" / "Real16x16.nii.gz"
    code, _, err = run_cli(
        [
            "classify",
            str(stack),
            "-m",
            str(tmp_path / "run" / "PACGAN_16x16" / "discriminator_last.pt"),
            "-o",
            str(tmp_path / "predictions.csv"),
            "-q",
        ],
        capsys,
    )
    assert code == 0, err
    assert len(calls) == during_training  # classify never augments


def test_two_processes_augment_as_one_process_does(tmp_path: Path) -> None:
    """Under torchrun each process takes its rows of the global batch's draw, and the signal's midpoint is the
    global batch's: a two-process run logs what one process logs."""
    import torch.multiprocessing as mp

    from helpers import TINY_NETWORK, train_as_rank, write_data_folder

    data = write_data_folder(tmp_path / "data", count=20, max_size=8)
    config: dict[str, object] = {
        "data_train_directory": str(data),
        "label_train_directory": str(data / "labels.csv"),
        **TINY_NETWORK,
        "factors": [1, 1],
        "batch_sizes": 7,  # batches of 7, 7 and 6: split 4+3 / 3+3 over two processes
        "progressive_epochs": 2,
        "validate": False,
        "generate": False,
        "samples_per_class": 1,
        "device": "cpu",
        "augment": "diffaugment",
    }
    store, two = str(tmp_path / "store"), str(tmp_path / "two" / "run")
    mp.spawn(train_as_rank, args=(2, store, config, two), nprocs=2, join=True)
    train(build_config(config), output=tmp_path / "one")
    first_two, first_one = epochs(tmp_path / "two" / "run")[0], epochs(tmp_path / "one")[0]
    assert first_two["augment_signal"] == pytest.approx(first_one["augment_signal"], abs=1e-6)
    for name in ("d_loss", "g_loss", "d_real", "d_fake", "gp"):
        assert first_two[name] == pytest.approx(first_one[name], rel=1e-4, abs=1e-5), name
