"""The training loop: batched critic passes keep the published mathematics, bf16 stays close to fp32; ada's p
follows its signal across epochs and stages, and only the training steps ever see augmented images."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import ADA, TINY_NETWORK, epochs, reference_critic_step, run_cli, stored_probability, tiny_config
from pacgan_cli.core.config import build_config
from pacgan_cli.core.folds import validation_split
from pacgan_cli.core.models.checkpoint import load_checkpoint
from pacgan_cli.core.models.discriminator import Discriminator
from pacgan_cli.core.training import augment
from pacgan_cli.core.training.data import batch_ranges, open_data_folder
from pacgan_cli.core.training.loop import critic_step, generator_step, train
from pacgan_cli.core.training.losses import generator_loss
from pacgan_cli.core.training.networks import Networks, build_networks

CONFIG = build_config({**TINY_NETWORK, "factors": [1, 1, 0.5], "device": "cpu"})


def unbatched_generator_step(networks: Networks, labels, alpha, stage, config) -> dict[str, torch.Tensor]:
    z = torch.randn(labels.shape[0], config.z_dim)
    networks.discriminator.requires_grad_(False)
    scores, logits = networks.discriminator(networks.generator(z, labels, alpha, stage), alpha, stage)
    terms = generator_loss(scores, logits, labels, lambda_cls=config.lambda_cls_1)
    networks.generator_optimizer.zero_grad(set_to_none=True)
    terms["g_loss"].backward()
    networks.generator_optimizer.step()
    networks.discriminator.requires_grad_(True)
    return terms


def fresh_networks() -> Networks:
    torch.manual_seed(0)
    return build_networks(CONFIG, [torch.device("cpu")])


def test_one_critic_call_on_real_and_fake_equals_two_calls() -> None:
    torch.manual_seed(1)
    critic = Discriminator(1, 8, [1, 1, 0.5], 2)
    real, fake = torch.randn(6, 1, 16, 16), torch.randn(6, 1, 16, 16)
    scores, logits = critic(torch.cat([real, fake]), 0.3, 2, groups=2)
    for half, images in enumerate((real, fake)):
        alone_scores, alone_logits = critic(images, 0.3, 2)
        torch.testing.assert_close(scores[half * 6 : (half + 1) * 6], alone_scores, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(logits[half * 6 : (half + 1) * 6], alone_logits, rtol=1e-5, atol=1e-6)
    # One group over the whole batch couples real and fake: the result differs.
    coupled, _ = critic(torch.cat([real, fake]), 0.3, 2)
    assert not torch.allclose(coupled, scores, atol=1e-4)


@pytest.mark.parametrize("stage", [0, 2])
def test_fp32_steps_equal_the_unbatched_steps_on_fixed_weights(stage: int) -> None:
    size = 4 * 2**stage
    real = torch.rand(8, 1, size, size) * 2 - 1
    labels = torch.arange(8) % 2
    ours, reference = fresh_networks(), fresh_networks()
    for step in range(3):
        torch.manual_seed(10 + step)
        terms, _, _ = critic_step(ours, real, labels, 0.4, stage, CONFIG.loss_weights)
        generator_terms = generator_step(ours, labels, 0.4, stage, CONFIG.loss_weights)
        torch.manual_seed(10 + step)
        expected = reference_critic_step(reference, real, labels, 0.4, stage, CONFIG, batched=False)
        expected_generator = unbatched_generator_step(reference, labels, 0.4, stage, CONFIG)
        for name, value in {**expected, **expected_generator}.items():
            actual = {**terms, **generator_terms}[name]
            torch.testing.assert_close(actual, value, rtol=1e-4, atol=1e-5, msg=f"step {step}: {name}")
    for mine, theirs in (
        (ours.generator, reference.generator),
        (ours.discriminator, reference.discriminator),
    ):
        for (name, value), expected in zip(
            mine.state_dict().items(), theirs.state_dict().values(), strict=True
        ):
            torch.testing.assert_close(value, expected, rtol=1e-4, atol=1e-5, msg=name)


def test_bf16_steps_run_in_bf16_and_keep_fp32_weights_and_losses() -> None:
    networks = fresh_networks()
    networks.precision = "bf16"
    real = torch.rand(8, 1, 16, 16) * 2 - 1
    labels = torch.arange(8) % 2
    terms, real_logits, _ = critic_step(networks, real, labels, 0.5, 2, CONFIG.loss_weights)
    assert real_logits.dtype == torch.bfloat16  # the forward pass really ran in bf16
    assert all(value.dtype == torch.float32 for value in terms.values())
    assert all(torch.isfinite(value) for value in terms.values())
    assert all(p.dtype == torch.float32 for p in networks.discriminator.parameters())


def epoch_losses(run: Path) -> np.ndarray:

    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return np.array([[r["d_loss"], r["g_loss"]] for r in lines if r["event"] == "epoch"])


def test_bf16_training_follows_fp32_and_classifies_as_well(tiny_data: Path, tmp_path: Path) -> None:
    """Same seed, same data: the per-epoch losses of a bf16 run stay within 15 % (relative to the loss scale)
    of the fp32 run's, and the discriminator's test AUC on a separable set is as high."""
    results = {}
    for precision in ("fp32", "bf16"):
        raw = tiny_config(tiny_data, testing=True, progressive_epochs=3, precision=precision, seed=2)
        raw["test_using_best_model"] = False
        result = train(build_config(raw), output=tmp_path / precision)
        results[precision] = (epoch_losses(tmp_path / precision), result.stages[-1].test["auc_macro"])
    fp32_losses, fp32_auc = results["fp32"]
    bf16_losses, bf16_auc = results["bf16"]
    scale = np.abs(fp32_losses).max(axis=0)
    assert np.all(np.abs(bf16_losses - fp32_losses) <= 0.15 * scale), (fp32_losses, bf16_losses)
    assert fp32_auc > 0.9 and bf16_auc > 0.9 and abs(bf16_auc - fp32_auc) <= 0.05


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


def test_channels_last_training_follows_contiguous_training(tiny_data: Path, tmp_path: Path) -> None:
    """The layout changes only the order of float additions: same seed, same losses to float rounding, and
    the networks and batches really are in the layout asked for."""
    losses = {}
    for layout in ("contiguous", "channels_last"):
        config = build_config(tiny_config(tiny_data, progressive_epochs=2, memory_format=layout, seed=2))
        networks = build_networks(config, [torch.device("cpu")])
        weight = next(p for p in networks.discriminator.parameters() if p.ndim == 4 and p.shape[-1] == 3)
        expected = torch.channels_last if layout == "channels_last" else torch.contiguous_format
        assert weight.is_contiguous(memory_format=expected)
        train(config, output=tmp_path / layout)
        losses[layout] = epoch_losses(tmp_path / layout)
    scale = np.abs(losses["contiguous"]).max(axis=0)
    assert np.all(np.abs(losses["channels_last"] - losses["contiguous"]) <= 1e-3 * scale), losses


def test_a_stage_without_a_best_epoch_of_its_own_copies_its_last_checkpoints_as_best(
    tiny_data: Path, tmp_path: Path
) -> None:
    """Without validation `best` is `last`: copied, the same bytes (EMA included), loadable (its digest holds)
    and named in the stage's result."""
    result = train(build_config(tiny_config(tiny_data, ema=True)), output=tmp_path / "run")
    checkpoints = result.stages[-1].checkpoints
    for key in ("generator_last", "discriminator_last", "generator_last_ema"):
        last, best = Path(checkpoints[key]), Path(checkpoints[key.replace("last", "best")])
        assert best != last and best.read_bytes() == last.read_bytes()
        assert load_checkpoint(best).architecture == load_checkpoint(last).architecture
