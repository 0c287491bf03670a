"""Differentiable augmentation: each transform's values, a draw each for real and fake, the gradient penalty on
augmented inputs, ada's probability, and `none` leaving training exactly as it was."""

from __future__ import annotations

import pytest
import torch

from helpers import TINY_NETWORK, reference_critic_step
from pacgan_cli.core.config import build_config
from pacgan_cli.core.config_rules import AUGMENT_TRANSFORMS
from pacgan_cli.core.training import augment, loop
from pacgan_cli.core.training.augment import (
    TRANSFORM_ORDER,
    Augmentation,
    adjust_brightness,
    adjust_contrast,
    adjust_probability,
    adjust_saturation,
    apply_transforms,
    cut_out,
    draw_transforms,
    overfitting_signal,
    translate,
)
from pacgan_cli.core.training.loop import critic_step, generator_step
from pacgan_cli.core.training.networks import Networks, build_networks, restore_snapshot, take_snapshot

ALL = ("translation", "cutout", "brightness", "contrast")


def config(**changes: object):
    return build_config({**TINY_NETWORK, "factors": [1, 1, 0.5], "device": "cpu", **changes})


def networks_for(**changes: object) -> Networks:
    torch.manual_seed(0)
    return build_networks(config(**changes), [torch.device("cpu")])


def test_every_configurable_transform_has_a_place_in_the_order() -> None:
    assert set(TRANSFORM_ORDER) == set(AUGMENT_TRANSFORMS) == set(augment.TRANSFORMS)


def test_translation_moves_whole_pixels_and_pads_with_zeros() -> None:
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8) + 1
    moved = translate(images, torch.tensor([[1, -2], [0, 0]]))
    expected = torch.zeros(3, 8, 8)
    expected[:, 1:, :6] = images[0, :, :7, 2:]  # one row down, two columns left
    assert torch.equal(moved[0], expected)
    assert torch.equal(moved[1], images[1])


def test_translation_reaches_an_eighth_of_the_size_at_least_one_pixel() -> None:
    torch.manual_seed(0)
    for size, reach in ((4, 1), (8, 1), (16, 2), (32, 4)):
        shifts, _ = draw_transforms(4000, size, ("translation",), 1.0, torch.device("cpu"))["translation"]
        assert set(shifts.flatten().tolist()) == set(range(-reach, reach + 1))


def test_cutout_zeros_a_square_of_half_the_size_clipped_at_the_border() -> None:
    images = torch.rand(3, 2, 16, 16) + 1  # no zeros of its own
    cut = cut_out(images, torch.tensor([[3, 5], [-4, 12], [0, 0]]))
    for index, (top, left) in enumerate(((3, 5), (0, 12), (0, 0))):
        bottom, right = min(16, [3, -4, 0][index] + 8), min(16, [5, 12, 0][index] + 8)
        inside = torch.zeros(16, 16, dtype=torch.bool)
        inside[top:bottom, left:right] = True
        assert torch.all(cut[index][:, inside] == 0)
        assert torch.equal(cut[index][:, ~inside], images[index][:, ~inside])
    assert (cut[0] == 0).sum() == 2 * 64 and (cut[1] == 0).sum() == 2 * 4 * 4


def test_cutout_keeps_at_least_half_the_square_inside_along_each_axis() -> None:
    torch.manual_seed(1)
    corners, _ = draw_transforms(4000, 16, ("cutout",), 1.0, torch.device("cpu"))["cutout"]
    assert corners.min() == -4 and corners.max() == 12


def test_brightness_contrast_and_saturation_follow_their_formulas() -> None:
    images = torch.rand(2, 3, 4, 4) * 2 - 1
    uniform = torch.tensor([0.1, 0.9])
    torch.testing.assert_close(adjust_brightness(images, uniform)[1], images[1] + 0.4)
    mean = images[0].mean()
    torch.testing.assert_close(adjust_contrast(images, uniform)[0], (images[0] - mean) * 0.6 + mean)
    channel_mean = images[1].mean(dim=0, keepdim=True)
    torch.testing.assert_close(
        adjust_saturation(images, uniform)[1], (images[1] - channel_mean) * 1.8 + channel_mean
    )


def test_draws_follow_the_seed() -> None:
    images = torch.rand(6, 1, 16, 16)

    def augmented(seed: int) -> torch.Tensor:
        torch.manual_seed(seed)
        return apply_transforms(images, draw_transforms(6, 16, ALL, 1.0, images.device))

    assert torch.equal(augmented(5), augmented(5))
    assert not torch.equal(augmented(5), augmented(6))


def test_real_and_fake_get_independent_draws_and_positions_differ() -> None:
    torch.manual_seed(2)
    image = torch.rand(1, 1, 16, 16) * 2 - 1
    batch = image.repeat(8, 1, 1, 1)
    real, fake = Augmentation("diffaugment", ALL, 1.0).critic_inputs(batch, batch.clone())
    assert all(not torch.equal(real[i], fake[i]) for i in range(8))  # DiffAugment: T(x) and T(G(z)) apart
    assert len({tuple(real[i].flatten().tolist()) for i in range(8)}) == 8
    torch.manual_seed(2)
    torch.rand(1, 1, 16, 16)  # the image, as above
    augmentation = Augmentation("diffaugment", ALL, 1.0)
    first = augmentation.draw(batch, None)
    second = augmentation.draw(batch, None)
    assert torch.equal(real, augment.apply_transforms(batch, first))
    assert torch.equal(fake, augment.apply_transforms(batch, second))


def test_ada_probability_decides_how_often_each_transform_is_applied() -> None:
    torch.manual_seed(3)
    images = torch.rand(2000, 1, 8, 8) + 0.5
    assert torch.equal(apply_transforms(images, draw_transforms(2000, 8, ALL, 0.0, images.device)), images)
    for probability in (0.3, 1.0):
        draw = draw_transforms(2000, 8, ("brightness",), probability, images.device)
        changed = (apply_transforms(images, draw) != images).flatten(1).any(dim=1).float().mean()
        assert abs(float(changed) - probability) < 0.04


def test_gradients_flow_through_the_transforms_to_the_kept_pixels() -> None:
    images = torch.rand(2, 1, 8, 8, requires_grad=True)
    translate(images, torch.tensor([[2, 0], [0, -1]])).sum().backward()
    assert images.grad is not None
    assert torch.equal(images.grad[0, 0, 6:], torch.zeros(2, 8)) and images.grad[0, 0, :6].eq(1).all()
    assert torch.equal(images.grad[1, 0, :, 0], torch.zeros(8)) and images.grad[1, 0, :, 1:].eq(1).all()


def test_overfitting_signal_counts_real_scores_on_the_real_side_of_the_midpoint() -> None:
    fake = torch.tensor([[-1.0], [-2.0]])
    assert float(overfitting_signal(torch.tensor([[3.0], [4.0]]), fake)) == 1.0
    assert float(overfitting_signal(torch.tensor([[-3.0], [-1.0], [1.0], [3.0]]), fake)) == 0.0
    shifted = overfitting_signal(torch.tensor([[13.0], [14.0]]), fake + 10)  # a WGAN critic's scores drift
    assert float(shifted) == 1.0


def test_ada_probability_rises_above_the_target_falls_below_and_stays_in_0_1() -> None:
    assert adjust_probability(0.2, 0.9, 0.6, 0.05) == pytest.approx(0.25)
    assert adjust_probability(0.2, 0.3, 0.6, 0.05) == pytest.approx(0.15)
    assert adjust_probability(0.0, -1.0, 0.6, 0.05) == 0.0
    assert adjust_probability(0.98, 1.0, 0.6, 0.05) == 1.0
    probability = 0.0
    for signal in (1, 1, 1, 0, 0, 0):
        probability = adjust_probability(probability, signal, 0.6, 0.05)
    assert probability == 0.0  # not 1e-17: the controller's steps cancel exactly
    ada = Augmentation("ada", ALL, 0.0, target=0.6, step=0.1)
    used = [ada.finish_epoch({"augment_signal": s})["augment_p"] for s in (0.9, 0.8, 0.7, 0.2, 0.9)]
    assert used == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.2])
    assert ada.probability == pytest.approx(0.3)
    fixed = Augmentation("diffaugment", ALL, 1.0)
    assert fixed.finish_epoch({"augment_signal": -1.0}) == {"augment_p": 1.0} and fixed.probability == 1.0
    assert Augmentation().finish_epoch({}) == {}


def test_ada_probability_travels_with_snapshots() -> None:
    networks = networks_for(augment="ada")
    networks.augmentation.probability = 0.35
    snapshot = take_snapshot(networks, 3, 0.5)
    assert snapshot.augment_probability == 0.35
    networks.augmentation.probability = 0.9
    restore_snapshot(networks, snapshot)
    assert networks.augmentation.probability == 0.35
    assert take_snapshot(networks_for(augment="diffaugment"), 1, 0.5).augment_probability is None


def test_the_critic_and_its_gradient_penalty_see_the_augmented_images(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    penalty_inputs: list[torch.Tensor] = []
    augmented: list[torch.Tensor] = []
    original_penalty, original_apply = loop.gradient_penalty, augment.apply_transforms

    def spy_penalty(module, real, fake, *rest):  # type: ignore[no-untyped-def]
        penalty_inputs.extend([real, fake])
        return original_penalty(module, real, fake, *rest)

    def spy_apply(images, draw):  # type: ignore[no-untyped-def]
        augmented.append(original_apply(images, draw))
        return augmented[-1]

    monkeypatch.setattr(loop, "gradient_penalty", spy_penalty)
    monkeypatch.setattr(augment, "apply_transforms", spy_apply)
    real = torch.rand(8, 1, 16, 16) * 2 - 1
    critic_step(
        networks_for(augment="diffaugment"),
        real,
        torch.arange(8) % 2,
        0.5,
        2,
        config(augment="diffaugment").loss_weights,
    )
    assert len(augmented) == 2 and not torch.equal(augmented[0], real)
    assert all(torch.equal(a, b) for a, b in zip(penalty_inputs, augmented, strict=True))


def test_the_generator_learns_through_the_augmentation() -> None:
    networks = networks_for(augment="diffaugment")
    before = [p.detach().clone() for p in networks.generator.parameters()]
    terms = generator_step(networks, torch.arange(8) % 2, 0.5, 2, config(augment="diffaugment").loss_weights)
    assert torch.isfinite(terms["g_loss"])
    after = list(networks.generator.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_augment_none_is_the_unaugmented_step_bit_for_bit() -> None:
    settings = config()
    assert settings.augment == "none"
    ours, reference = networks_for(), networks_for()
    real, labels = torch.rand(8, 1, 16, 16) * 2 - 1, torch.arange(8) % 2
    for step in range(3):
        torch.manual_seed(20 + step)
        terms, _, _ = critic_step(ours, real, labels, 0.4, 2, settings.loss_weights)
        state = torch.get_rng_state()
        torch.manual_seed(20 + step)
        expected = reference_critic_step(reference, real, labels, 0.4, 2, settings, batched=True)
        assert torch.equal(torch.get_rng_state(), state)  # no extra random draws
        assert terms.keys() == expected.keys()
        for name, value in expected.items():
            assert torch.equal(terms[name], value), name
    for mine, theirs in ((ours.discriminator, reference.discriminator),):
        for key, value in mine.state_dict().items():
            assert torch.equal(value, theirs.state_dict()[key]), key


def test_augmented_steps_log_the_signal_and_stay_finite_at_4x4() -> None:
    """At 4x4 the zero padding often zeroes one pixel in every image of a batch (the NaN case batch_std
    guards against); many steps stay finite."""
    settings = config(augment="diffaugment", batch_sizes=8)
    networks = networks_for(augment="diffaugment")
    torch.manual_seed(4)
    real, labels = torch.rand(8, 1, 4, 4) * 2 - 1, torch.arange(8) % 2
    for _ in range(60):
        terms, _, _ = critic_step(networks, real, labels, 1e-5, 0, settings.loss_weights)
        generator_step(networks, labels, 1e-5, 0, settings.loss_weights)
        assert all(torch.isfinite(value) for value in terms.values())
    assert -1 <= float(terms["augment_signal"]) <= 1
