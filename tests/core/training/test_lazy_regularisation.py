"""gp_interval: the gradient penalty on one critic step in k, weighted by k; k = 1 is the published step."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from helpers import TINY_NETWORK, StopInStage, epochs, tiny_config
from pacgan_cli.core.config import build_config
from pacgan_cli.core.errors import ConfigError, TrainingInterrupted
from pacgan_cli.core.models.checkpoint import load_checkpoint
from pacgan_cli.core.training import loop
from pacgan_cli.core.training.loop import critic_step, train
from pacgan_cli.core.training.networks import build_networks


def test_a_step_without_the_penalty_is_the_critic_loss_without_it_and_draws_nothing() -> None:
    settings = build_config({**TINY_NETWORK, "factors": [1, 1, 0.5], "device": "cpu"})
    torch.manual_seed(0)
    ours = build_networks(settings, [torch.device("cpu")])
    torch.manual_seed(0)
    reference = build_networks(settings, [torch.device("cpu")])
    real, labels = torch.rand(8, 1, 16, 16) * 2 - 1, torch.arange(8) % 2
    torch.manual_seed(7)
    terms, _, _ = critic_step(ours, real, labels, 0.5, 2, settings.loss_weights, penalty=False)
    after = torch.get_rng_state()
    torch.manual_seed(7)
    z = torch.randn(8, settings.z_dim)
    assert torch.equal(torch.get_rng_state(), after)  # only the latents were drawn, no mixing weights
    with torch.no_grad():
        fake = reference.generator(z, labels, 0.5, 2)
    scores, logits = reference.discriminator(torch.cat([real, fake]), 0.5, 2, groups=2)
    (real_scores, fake_scores), (real_logits, fake_logits) = scores.chunk(2), logits.chunk(2)
    expected = (
        -real_scores.mean()
        + fake_scores.mean()
        + 4 * torch.nn.functional.cross_entropy(real_logits, labels)
        + 2 * torch.nn.functional.cross_entropy(fake_logits, labels)
        + 0.001 * (real_scores**2).mean()
    )
    torch.testing.assert_close(terms["d_loss"], expected, rtol=1e-6, atol=1e-6)
    assert float(terms["gp"]) == 0.0


def test_the_penalty_comes_on_one_critic_step_in_k_with_weight_k(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bool, float]] = []
    original = loop.critic_step

    def spy(networks, real, labels, alpha, stage, weights, shard=None, penalty=True):  # type: ignore[no-untyped-def]
        calls.append((penalty, weights.gp))
        return original(networks, real, labels, alpha, stage, weights, shard, penalty)

    monkeypatch.setattr(loop, "critic_step", spy)
    train(build_config(tiny_config(tiny_data, gp_interval=3, critic_iterations=2)), output=tmp_path / "run")
    per_stage = 5 * 2  # 40 images in batches of 8, two critic steps each
    assert len(calls) == 3 * per_stage
    for stage in range(3):
        steps = calls[stage * per_stage : (stage + 1) * per_stage]
        assert [penalty for penalty, _ in steps] == [index % 3 == 0 for index in range(per_stage)]
        assert {gp for penalty, gp in steps if penalty} == {30.0} and {gp for p, gp in steps if not p} == {
            10.0
        }


def test_gp_interval_must_be_at_least_1() -> None:
    with pytest.raises(ConfigError, match="`gp_interval` must be at least 1"):
        build_config({"gp_interval": 0})


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM to oneself")
def test_resume_inside_a_stage_keeps_the_penalty_phase_bit_for_bit(tiny_data: Path, tmp_path: Path) -> None:
    settings = build_config(
        tiny_config(tiny_data, gp_interval=4, progressive_epochs=2, checkpoint_every_minutes=0.0001, seed=2)
    )
    train(settings, output=tmp_path / "reference")
    with pytest.raises(TrainingInterrupted):
        train(settings, StopInStage(stage=1, batch=7), output=tmp_path / "run")  # mid-epoch 2 of 8x8
    train(settings, output=tmp_path / "run", resume=True)
    assert epochs(tmp_path / "run") == epochs(tmp_path / "reference")
    for name in ("generator_last.pt", "discriminator_last.pt"):
        mine = load_checkpoint(tmp_path / "run" / "PACGAN_16x16" / name).model.state_dict()
        theirs = load_checkpoint(tmp_path / "reference" / "PACGAN_16x16" / name).model.state_dict()
        assert all(torch.equal(value, theirs[key]) for key, value in mine.items())
