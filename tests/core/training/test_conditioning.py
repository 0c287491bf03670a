"""Conditioning options: each changes the losses exactly as its definition says (checked against the
losses written out plainly below), the published settings are untouched, and resume stays bit-exact."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from helpers import TINY_NETWORK, StopInStage, tiny_config
from helpers import epochs as epoch_records
from pacgan_cli.core.config import build_config
from pacgan_cli.core.errors import ConfigError, TrainingInterrupted
from pacgan_cli.core.models.checkpoint import load_checkpoint
from pacgan_cli.core.progress import SilentReporter
from pacgan_cli.core.training.loop import critic_step, generator_step, train
from pacgan_cli.core.training.losses import gradient_penalty
from pacgan_cli.core.training.networks import Networks, build_networks

ALPHA, STAGE = 0.4, 2
EVERY_OPTION = {
    "aux_head": "tac",
    "classifier_data": "real",
    "conditioning_ramp": 2,
    "mode_seeking_weight": 0.5,
    "mode_seeking_mask": True,
    "lecam_weight": 0.3,
    "lecam_decay": 0.9,
    "augment": "diffaugment",
    "augment_p": 0.5,
}


def config(**changes: Any):
    return build_config({**TINY_NETWORK, "factors": [1, 1, 0.5], "class_size": 3, "device": "cpu", **changes})


def networks_for(**changes: Any) -> Networks:
    torch.manual_seed(0)
    return build_networks(config(**changes), [torch.device("cpu")])


def reference_critic_loss(
    networks: Networks, real: torch.Tensor, labels: torch.Tensor, settings: Any, ramp: float, averages: list
) -> torch.Tensor:
    """The critic's loss written out from the definitions (fp32, one batched critic call)."""
    classes = settings.class_size
    z = torch.randn(real.shape[0], settings.z_dim)
    with torch.no_grad():
        fake = networks.generator(z, labels, ALPHA, STAGE)
    scores, logits = networks.discriminator(torch.cat([real, fake]), ALPHA, STAGE, groups=2)
    (real_scores, fake_scores), (real_logits, fake_logits) = scores.chunk(2), logits.chunk(2)
    mix = torch.rand(real.shape[0], 1, 1, 1)
    penalty = gradient_penalty(networks.discriminator, real, fake, ALPHA, STAGE, mix)
    l1, l2 = settings.lambda_cls_1 * ramp, settings.lambda_cls_2 * ramp
    real_only = settings.classifier_data == "real"
    if settings.aux_head == "adc":
        classification = l1 * F.cross_entropy(real_logits, labels) + l2 * F.cross_entropy(
            fake_logits, labels + classes
        )
    else:
        c_real, c_fake = real_logits[:, :classes], fake_logits[:, :classes]
        classification = l1 * F.cross_entropy(c_real, labels) + (0 if real_only else l2) * F.cross_entropy(
            c_fake, labels
        )
        if settings.aux_head == "tac":
            classification = classification + l2 * F.cross_entropy(fake_logits[:, classes:], labels)
    loss = (
        -real_scores.mean()
        + fake_scores.mean()
        + classification
        + settings.lambda_gp * penalty
        + settings.drift_weight * (real_scores**2).mean()
    )
    if settings.lecam_weight > 0:
        means = [real_scores.mean().detach(), fake_scores.mean().detach()]
        decay = settings.lecam_decay
        averages[:] = (
            means
            if not averages
            else [decay * a + (1 - decay) * m for a, m in zip(averages, means, strict=True)]
        )
        lecam = ((real_scores - averages[1]) ** 2).mean() + ((fake_scores - averages[0]) ** 2).mean()
        loss = loss + settings.lecam_weight * lecam
    return loss


def reference_generator_loss(
    networks: Networks, labels: torch.Tensor, settings: Any, ramp: float, real: torch.Tensor
) -> torch.Tensor:
    classes = settings.class_size
    z = torch.randn(labels.shape[0], settings.z_dim)
    fake = networks.generator(z, labels, ALPHA, STAGE)
    scores, logits = networks.discriminator(fake, ALPHA, STAGE)
    l1 = settings.lambda_cls_1 * ramp
    if settings.aux_head == "acgan":
        classification = l1 * F.cross_entropy(logits, labels)
    elif settings.aux_head == "tac":
        classification = l1 * (
            F.cross_entropy(logits[:, :classes], labels) - F.cross_entropy(logits[:, classes:], labels)
        )
    else:
        classification = l1 * (F.cross_entropy(logits, labels) - F.cross_entropy(logits, labels + classes))
    loss = -scores.mean() + classification
    if settings.mode_seeking_weight > 0:
        second_z = torch.randn(labels.shape[0], settings.z_dim)
        second = networks.generator(second_z, labels, ALPHA, STAGE)
        difference = (fake - second).abs()
        if settings.mode_seeking_mask:  # each pixel weighted by the real images' spread there, mean 1
            spread = real.std(dim=0, keepdim=True)
            difference = difference * spread / spread.mean()
        ratio = difference.mean() / (z - second_z).abs().mean()
        loss = loss + settings.mode_seeking_weight / (ratio + 1e-5)
    return loss


def step_reference(networks: Networks, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


@pytest.mark.parametrize(
    "changes",
    [
        {"classifier_data": "real"},
        {"aux_head": "tac"},
        {"aux_head": "tac", "classifier_data": "real"},
        {"aux_head": "adc"},
        {"conditioning_ramp": 2.5},
        {"mode_seeking_weight": 0.7},
        {"mode_seeking_weight": 0.7, "mode_seeking_mask": True},
        {"lecam_weight": 0.3, "lecam_decay": 0.8},
    ],
    ids=lambda changes: "-".join(f"{k}={v}" for k, v in changes.items()),
)
def test_each_option_changes_the_losses_as_defined(changes: dict[str, Any]) -> None:
    settings = config(**changes)
    ours, reference = networks_for(**changes), networks_for(**changes)
    real, labels = torch.rand(9, 1, 16, 16) * 2 - 1, torch.arange(9) % 3
    real[:, :, :4] = -1  # a constant background strip, where the mask gives no weight
    ours.conditioning.start_stage(real)
    progress = 1.0  # stages done: on a ramp of r stages the classification weights are at 1/r
    ramp = min(1.0, progress / settings.conditioning_ramp) if settings.conditioning_ramp else 1.0
    weights = ours.conditioning.weights(settings.loss_weights, progress)
    averages: list = []
    for step in range(3):  # LeCam's averages move from step to step
        torch.manual_seed(30 + step)
        terms, real_logits, _ = critic_step(ours, real, labels, ALPHA, STAGE, weights)
        generator_terms = generator_step(ours, labels, ALPHA, STAGE, weights)
        torch.manual_seed(30 + step)
        expected = reference_critic_loss(reference, real, labels, settings, ramp, averages)
        step_reference(reference, expected, reference.critic_optimizer)
        reference.discriminator.requires_grad_(False)
        expected_generator = reference_generator_loss(reference, labels, settings, ramp, real)
        step_reference(reference, expected_generator, reference.generator_optimizer)
        reference.discriminator.requires_grad_(True)
        torch.testing.assert_close(terms["d_loss"], expected, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(generator_terms["g_loss"], expected_generator, rtol=1e-5, atol=1e-5)
        assert real_logits.shape == (9, 3)  # records and AUCs see the K logits that classify real images
    for mine, theirs in (
        (ours.generator, reference.generator),
        (ours.discriminator, reference.discriminator),
    ):
        for key, value in mine.state_dict().items():
            torch.testing.assert_close(value, theirs.state_dict()[key], rtol=1e-4, atol=1e-5, msg=key)


def test_the_ramp_grows_every_classification_weight_from_0() -> None:
    settings = config(aux_head="tac", conditioning_ramp=2)
    conditioning = networks_for(aux_head="tac", conditioning_ramp=2).conditioning
    for progress, factor in ((0.0, 0.0), (0.5, 0.25), (1.9, 0.95), (2.0, 1.0), (2.7, 1.0)):
        weights = conditioning.weights(settings.loss_weights, progress)
        assert (weights.cls_real, weights.cls_fake, weights.cls_twin) == pytest.approx(
            (4.0 * factor, 2.0 * factor, 2.0 * factor)
        )
        assert (weights.gp, weights.drift) == (10.0, 0.001)
    published = config()
    assert networks_for().conditioning.weights(published.loss_weights, 0.0) == published.loss_weights


def test_published_settings_add_no_term_and_no_draw() -> None:
    networks = networks_for()
    real, labels = torch.rand(9, 1, 16, 16) * 2 - 1, torch.arange(9) % 3
    torch.manual_seed(5)
    terms, _, _ = critic_step(networks, real, labels, ALPHA, STAGE, config().loss_weights)
    generator_terms = generator_step(networks, labels, ALPHA, STAGE, config().loss_weights)
    after = torch.get_rng_state()
    assert set(terms) == {"d_real", "d_fake", "cls_real", "cls_fake", "gp", "drift", "d_loss"}
    assert set(generator_terms) == {"g_adv", "g_cls", "g_loss"}
    torch.manual_seed(5)
    torch.randn(9, 8), torch.rand(9, 1, 1, 1), torch.randn(9, 8)  # the published step's draws
    assert torch.equal(torch.get_rng_state(), after)


def test_classify_gives_k_probabilities_from_every_head(tmp_path: Path) -> None:
    from pacgan_cli.core.inference import classify_images
    from pacgan_cli.core.models.checkpoint import save_checkpoint

    images = (torch.rand(6, 1, 16, 16) * 2 - 1).numpy()
    for head in ("acgan", "tac", "adc"):
        networks = networks_for(aux_head=head)
        path = save_checkpoint(
            tmp_path / f"{head}.pt",
            networks.discriminator,
            networks.architecture,
            epoch=1,
            stage=STAGE,
            alpha=1.0,
            batch_statistic=0.5,
        )
        loaded = load_checkpoint(path)
        assert loaded.architecture.aux_head == head and loaded.architecture.num_classes == 3
        result = classify_images(loaded, images)
        assert result.probabilities.shape == (6, 3)
        torch.testing.assert_close(
            torch.from_numpy(result.probabilities.sum(axis=1)), torch.ones(6, dtype=torch.float64)
        )
        expected = networks.discriminator(torch.from_numpy(images), 1.0, STAGE, batch_statistic=0.5)[1][:, :3]
        torch.testing.assert_close(
            torch.from_numpy(result.logits).float(), expected.detach(), rtol=1e-5, atol=1e-5
        )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"aux_head": "adcc"}, r"`aux_head` must be acgan, tac, adc; got 'adcc'; did you mean adc\?"),
        ({"classifier_data": "reals"}, r"did you mean real\?"),
        ({"conditioning_ramp": 4}, r"`conditioning_ramp` is a span of stages from 0 to the 3 stages"),
        ({"mode_seeking_weight": -1}, "`mode_seeking_weight` must not be negative"),
        ({"lecam_weight": "1e400"}, "`lecam_weight`"),
        ({"lecam_decay": 1}, r"`lecam_decay` must be in \[0, 1\)"),
        ({"augment_p": 1.5}, r"`augment_p` is a probability in \[0, 1\]"),
        ({"aux_head": "adc", "classifier_data": "real"}, "cannot be combined"),
    ],
)
def test_bad_conditioning_settings_are_one_line_each(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        config(**changes)
    assert error.value.exit_code == 2 and "\n" not in str(error.value)


def test_an_adc_run_refuses_to_continue_from_checkpoints_without_fake_classes(
    tiny_data: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    train(build_config(tiny_config(tiny_data, progressive_epochs=[1, 1, 1])), output=run)
    adc = build_config(tiny_config(tiny_data, aux_head="adc", load_model=True, start_train_at_img_size=16))
    with pytest.raises(
        ConfigError, match=r"acgan classifier head \(K class logits\).*aux_head: adc"
    ) as error:
        train(adc, output=run, resume=True)
    assert error.value.exit_code == 2


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM to oneself")
def test_resume_inside_a_stage_is_bit_exact_with_every_option_on(tiny_data: Path, tmp_path: Path) -> None:
    settings = build_config(
        tiny_config(tiny_data, **EVERY_OPTION, progressive_epochs=3, checkpoint_every_minutes=0.0001, seed=4)
    )
    train(settings, output=tmp_path / "reference")
    with pytest.raises(TrainingInterrupted):
        train(settings, StopInStage(stage=1, batch=8), output=tmp_path / "run")  # epoch 2 of 8x8
    saved = torch.load(tmp_path / "run" / "resume.pt", weights_only=True)
    assert saved["networks"]["lecam_averages"] is not None
    train(copy.deepcopy(settings), SilentReporter(), output=tmp_path / "run", resume=True)
    records = epoch_records(tmp_path / "run")
    assert records == epoch_records(tmp_path / "reference")
    assert {"cls_twin", "lecam", "g_twin", "g_mode_seeking"} <= set(records[0])
    for name in ("generator_last.pt", "discriminator_last.pt"):
        first = load_checkpoint(tmp_path / "run" / "PACGAN_16x16" / name)
        second = load_checkpoint(tmp_path / "reference" / "PACGAN_16x16" / name)
        assert all(torch.equal(v, second.model.state_dict()[k]) for k, v in first.model.state_dict().items())
    last = load_checkpoint(tmp_path / "reference" / "PACGAN_16x16" / "discriminator_last.pt")
    assert last.lecam_averages is not None and last.architecture.aux_head == "tac"
