import pytest
import torch
import torch.nn.functional as F

from pacgan_cli.core.models.discriminator import Discriminator, measure_batch_statistic
from pacgan_cli.core.models.generator import Generator
from pacgan_cli.core.models.layers import PixelNorm, WSConv2d
from pacgan_cli.core.stages import stage_size

TINY = {"base_channels": 8, "factors": [1, 1, 0.5, 0.25]}


def tiny_generator(num_classes: int = 2, image_channels: int = 1) -> Generator:
    return Generator(6, 3, num_classes, image_channels, TINY["base_channels"], TINY["factors"])


def tiny_discriminator(num_classes: int = 2, image_channels: int = 1) -> Discriminator:
    return Discriminator(image_channels, TINY["base_channels"], TINY["factors"], num_classes)


@pytest.mark.parametrize(("num_classes", "channels"), [(2, 1), (3, 3)])
def test_tiny_networks_give_the_right_shapes_at_every_stage(num_classes: int, channels: int) -> None:
    torch.manual_seed(0)
    generator, discriminator = (
        tiny_generator(num_classes, channels),
        tiny_discriminator(num_classes, channels),
    )
    labels = torch.arange(4) % num_classes
    for stage in range(4):
        images = generator(torch.randn(4, 6), labels, 0.5, stage)
        size = stage_size(stage)
        assert images.shape == (4, channels, size, size)
        assert images.abs().max() <= 1
        scores, logits = discriminator(images, 0.5, stage)
        assert scores.shape == (4, 1)
        assert logits.shape == (4, num_classes)


def test_default_architecture_reaches_256_with_published_channel_counts() -> None:
    generator, discriminator = Generator(), Discriminator()
    state = generator.state_dict()
    assert state["initial_block.1.weight"].shape == (515, 512, 4, 4)
    assert state["prog_blocks.5.conv2.conv.weight"].shape == (16, 16, 3, 3)
    assert state["last_layer.6.conv.weight"].shape == (1, 16, 1, 1)
    critic_state = discriminator.state_dict()
    assert critic_state["from_img.0.conv.weight"].shape == (16, 1, 1, 1)
    assert critic_state["final_block.0.conv.weight"].shape == (512, 513, 3, 3)
    assert critic_state["aux_FC1.conv.weight"].shape == (150, 512, 1, 1)
    assert critic_state["aux_layer.conv.weight"].shape == (2, 150, 1, 1)
    with torch.no_grad():
        images = generator(torch.randn(2, 512), torch.tensor([0, 1]), 1.0, 6)
        scores, logits = discriminator(images, 1.0, 6)
    assert images.shape == (2, 1, 256, 256)
    assert scores.shape == (2, 1) and logits.shape == (2, 2)


def test_state_dict_keys_follow_the_published_names_including_aliases() -> None:
    generator_keys = set(tiny_generator().state_dict())
    assert {
        "initial_layer.conv.weight",
        "initial_layer.bias",
        "last_layer.0.conv.weight",
        "last_layer.0.bias",
    } <= generator_keys
    assert {
        "label_embedding.weight",
        "prog_blocks.2.conv1.conv.weight",
        "prog_blocks.2.conv2.bias",
    } <= generator_keys
    critic_keys = set(tiny_discriminator().state_dict())
    assert {
        "from_img4.conv.weight",
        "from_img.3.conv.weight",
        "from_img.3.bias",
        "adv_layer.bias",
    } <= critic_keys
    assert not any(key.endswith("conv.bias") for key in generator_keys | critic_keys)


def test_generator_fade_in_endpoints() -> None:
    torch.manual_seed(1)
    generator = tiny_generator()
    z, labels = torch.randn(3, 6), torch.tensor([0, 1, 0])
    stage = 2
    with torch.no_grad():
        out = generator.initial_block(torch.cat([z, generator.label_embedding(labels)], 1).view(3, -1, 1, 1))
        for block in generator.prog_blocks[: stage - 1]:
            out = block(F.interpolate(out, scale_factor=2, mode="nearest"))
        upscaled = F.interpolate(out, scale_factor=2, mode="nearest")
        new = torch.tanh(generator.last_layer[stage](generator.prog_blocks[stage - 1](upscaled)))
        old = torch.tanh(generator.last_layer[stage - 1](upscaled))
        torch.testing.assert_close(generator(z, labels, 1.0, stage), new)
        torch.testing.assert_close(generator(z, labels, 0.0, stage), old)


def test_discriminator_fade_in_endpoints() -> None:
    torch.manual_seed(2)
    discriminator = tiny_discriminator()
    images = torch.randn(3, 1, 16, 16)
    stage, first = 2, len(discriminator.prog_blocks) - 2
    with torch.no_grad():
        new = discriminator.avg_pool(
            discriminator.prog_blocks[first](discriminator.leaky(discriminator.from_img[first](images)))
        )
        old = discriminator.leaky(discriminator.from_img[first + 1](discriminator.avg_pool(images)))
        for expected, alpha in ((new, 1.0), (old, 0.0)):
            out = expected
            for block in discriminator.prog_blocks[first + 1 :]:
                out = discriminator.avg_pool(block(out))
            torch.testing.assert_close(discriminator.features(images, alpha, stage), out)


def test_minibatch_statistic_couples_the_batch_unless_fixed() -> None:
    torch.manual_seed(3)
    discriminator = tiny_discriminator()
    images = torch.randn(6, 1, 8, 8)
    with torch.no_grad():
        _, together = discriminator(images, 1.0, 1)
        _, alone = discriminator(images[:1], 1.0, 1)
        assert torch.isnan(alone).all()
        _, fixed_together = discriminator(images, 1.0, 1, batch_statistic=0.7)
        _, fixed_alone = discriminator(images[:1], 1.0, 1, batch_statistic=0.7)
    torch.testing.assert_close(fixed_together[:1], fixed_alone)
    assert not torch.allclose(together, fixed_together)


def test_measured_batch_statistic_equals_the_statistic_of_the_whole_set_as_one_batch() -> None:
    torch.manual_seed(4)
    discriminator = tiny_discriminator()
    images = torch.randn(10, 1, 8, 8)
    with torch.no_grad():
        expected = torch.std(discriminator.features(images, 1.0, 1), dim=0).mean().item()
    assert measure_batch_statistic(discriminator, images, 1.0, 1, batch_size=3) == pytest.approx(
        expected, rel=1e-5
    )


def test_equalised_conv_and_pixelnorm_match_their_definitions() -> None:
    torch.manual_seed(5)
    layer = WSConv2d(4, 2, kernel_size=3)
    x = torch.randn(1, 4, 5, 5)
    expected = F.conv2d(x, layer.conv.weight * (2 / 36) ** 0.5, padding=1) + layer.bias.view(1, -1, 1, 1)
    torch.testing.assert_close(layer(x), expected)
    normalised = PixelNorm()(x)
    torch.testing.assert_close(normalised.pow(2).mean(dim=1), torch.ones(1, 5, 5), atol=1e-4, rtol=1e-4)


def test_batch_std_equals_torch_std_bit_for_bit_in_value_and_gradient() -> None:
    from pacgan_cli.core.models.discriminator import batch_std

    torch.manual_seed(3)
    for count in (2, 5, 16):
        values = torch.randn(2, count, 40) * 3
        values[:, :, :4] = 0.25  # some columns the same in every image
        values.requires_grad_(True)
        ours, reference = batch_std(values), torch.std(values, dim=1)
        assert torch.equal(ours, reference)
        weights = torch.randn_like(reference)
        (ours_gradient,) = torch.autograd.grad(ours, values, weights)
        (reference_gradient,) = torch.autograd.grad(reference, values, weights)
        assert torch.equal(ours_gradient, reference_gradient)


def test_gradient_penalty_stays_finite_when_every_image_shares_a_pixel() -> None:
    """Zero padding or cutout can zero one pixel in every image of a batch; torch.std's second derivative
    is NaN there, and the penalty's double backward would have carried it into the critic's weights."""
    from pacgan_cli.core.training.losses import gradient_penalty

    torch.manual_seed(0)
    critic = Discriminator(1, 8, [1, 1, 1], 2)
    real, fake = torch.rand(8, 1, 4, 4) * 2 - 1, torch.rand(8, 1, 4, 4) * 2 - 1
    real[:, :, 3, 3] = fake[:, :, 3, 3] = 0
    gradient_penalty(critic, real, fake, 1e-5, 0, torch.rand(8, 1, 1, 1)).backward()
    gradients = [p.grad for p in critic.parameters() if p.grad is not None]
    assert gradients and all(torch.isfinite(g).all() for g in gradients)
