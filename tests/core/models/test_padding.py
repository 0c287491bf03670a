"""`generator_padding: replicate`: the generator's 3x3 convolutions pad with the border pixels, so a corner
pixel is computed like any other (with zeros it reads five zeros of nine taps: the demo's bright corner)."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from pacgan_cli.core.config import build_config
from pacgan_cli.core.errors import ConfigError, InputError
from pacgan_cli.core.io.digest import payload_digest
from pacgan_cli.core.models.checkpoint import GENERATOR, NetworkArchitecture, load_checkpoint, save_checkpoint
from pacgan_cli.core.models.generator import Generator
from pacgan_cli.core.models.layers import WSConv2d


def test_replicate_padding_is_a_convolution_of_the_replicated_border() -> None:
    torch.manual_seed(0)
    layer = WSConv2d(4, 3, padding_mode="replicate")
    x = torch.randn(2, 4, 8, 8)
    expected = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), layer.conv.weight * layer.scale, layer.bias)
    torch.testing.assert_close(layer(x), expected)
    flat = torch.ones(1, 4, 8, 8)
    assert layer(flat).std(dim=(2, 3)).max() < 1e-6  # no border effect on a flat input
    layer.padding_mode = "zeros"
    assert (layer(flat)[0, :, 0, 0] - layer(flat)[0, :, 4, 4]).abs().max() > 0.1  # zeros: corners differ


def uniform_generator(padding: str) -> Generator:
    """A generator whose 4x4 start is the same at every position: each output pixel is then computed alike,
    unless the padding treats the border differently."""
    torch.manual_seed(1)
    generator = Generator(8, 3, 2, 1, 8, [1, 1, 1, 1], padding_mode=padding).eval()
    with torch.no_grad():
        start = generator.initial_block[1].weight
        start.copy_(start.mean(dim=(2, 3), keepdim=True).expand_as(start))
    return generator


def test_a_uniform_start_gives_a_uniform_image_only_with_replicate_padding() -> None:
    z, labels = torch.randn(4, 8), torch.tensor([0, 1, 0, 1])
    with torch.no_grad():
        replicate = uniform_generator("replicate")(z, labels, 1.0, 3)
        zeros = uniform_generator("zeros")(z, labels, 1.0, 3)
    assert replicate.shape == (4, 1, 32, 32)
    assert (replicate - replicate[:, :, 16:17, 16:17]).abs().max() < 1e-5
    corners = zeros[:, 0, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert (corners - zeros[:, 0, 16:17, 16]).abs().max() > 0.01


def test_the_padding_changes_no_weight_name_and_checkpoints_remember_it(tmp_path: Path) -> None:
    assert Generator(padding_mode="replicate").state_dict().keys() == Generator().state_dict().keys()
    architecture = NetworkArchitecture(8, (1.0, 1.0, 1.0), 1, 2, 6, 2, generator_padding="replicate")
    torch.manual_seed(2)
    model = architecture.build(GENERATOR).eval()
    path = save_checkpoint(tmp_path / "G.pt", model, architecture, epoch=1, stage=2, alpha=1.0)
    loaded = load_checkpoint(path)
    assert loaded.architecture.generator_padding == "replicate"
    z, labels = torch.randn(3, 6), torch.tensor([0, 1, 1])
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(z, labels, 1.0, 2), model(z, labels, 1.0, 2))
    published = tmp_path / "G_published.pt"
    torch.save({"epoch": 3, "model_state_dict": model.state_dict()}, published)
    assert load_checkpoint(published).architecture.generator_padding == "zeros"
    payload = torch.load(path, weights_only=True)
    payload["architecture"]["generator_padding"] = "mirror"
    payload["sha256"] = payload_digest({key: value for key, value in payload.items() if key != "sha256"})
    torch.save(payload, tmp_path / "G_odd.pt")
    with pytest.raises(InputError, match="unknown generator padding 'mirror'"):
        load_checkpoint(tmp_path / "G_odd.pt")


def test_config_takes_zeros_by_default_or_replicate() -> None:
    assert build_config({}).generator_padding == "zeros"
    assert build_config({"generator_padding": "replicate"}).generator_padding == "replicate"
    with pytest.raises(ConfigError, match="`generator_padding` must be zeros"):
        build_config({"generator_padding": "reflect"})
