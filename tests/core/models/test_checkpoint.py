import pickle
from pathlib import Path

import pytest
import torch

from pacgan_cli.core.errors import InputError
from pacgan_cli.core.models.checkpoint import (
    DISCRIMINATOR,
    GENERATOR,
    NetworkArchitecture,
    infer_architecture,
    load_checkpoint,
    save_checkpoint,
)

ARCHITECTURE = NetworkArchitecture(
    base_channels=16,
    factors=(1, 1, 0.5, 0.25),
    image_channels=1,
    num_classes=3,
    latent_size=10,
    embedding_size=4,
)


def published_style_file(path: Path, model: torch.nn.Module, prefix: str) -> Path:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.999))
    state = {prefix + key: value for key, value in model.state_dict().items()}
    torch.save({"epoch": 7, "model_state_dict": state, "optimizer_state_dict": optimizer.state_dict()}, path)
    return path


@pytest.mark.parametrize("prefix", ["", "module."])
def test_published_generator_checkpoint_loads_with_and_without_module_prefix(
    tmp_path: Path, prefix: str
) -> None:
    torch.manual_seed(0)
    original = ARCHITECTURE.build(GENERATOR).eval()
    loaded = load_checkpoint(published_style_file(tmp_path / "g.pt", original, prefix))
    assert loaded.kind == GENERATOR and loaded.published_format and loaded.epoch == 7
    assert loaded.architecture == ARCHITECTURE
    z, labels = torch.randn(3, 10), torch.tensor([0, 1, 2])
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(z, labels, 1.0, 3), original(z, labels, 1.0, 3))


@pytest.mark.parametrize("prefix", ["", "module."])
def test_published_discriminator_checkpoint_loads_with_and_without_module_prefix(
    tmp_path: Path, prefix: str
) -> None:
    torch.manual_seed(1)
    original = ARCHITECTURE.build(DISCRIMINATOR).eval()
    loaded = load_checkpoint(
        published_style_file(tmp_path / "d.pt", original, prefix), expected_kind=DISCRIMINATOR
    )
    expected = NetworkArchitecture(16, (1, 1, 0.5, 0.25), 1, 3)
    assert loaded.architecture == expected
    images = torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(images, 1.0, 3)[1], original(images, 1.0, 3)[1])


def test_our_checkpoint_round_trip_keeps_metadata(tmp_path: Path) -> None:
    torch.manual_seed(2)
    model = ARCHITECTURE.build(DISCRIMINATOR)
    path = save_checkpoint(
        tmp_path / "d.pt",
        model,
        ARCHITECTURE,
        epoch=3,
        stage=2,
        alpha=0.5,
        config={"seed": 1},
        batch_statistic=0.25,
    )
    loaded = load_checkpoint(path)
    assert (loaded.epoch, loaded.stage, loaded.alpha, loaded.batch_statistic) == (3, 2, 0.5, 0.25)
    assert loaded.config == {"seed": 1} and not loaded.published_format
    raw = torch.load(path, weights_only=True)
    assert set(raw) >= {"epoch", "model_state_dict", "format_version", "kind", "architecture"}


def test_architecture_with_odd_channel_counts_is_inferred_exactly() -> None:
    architecture = NetworkArchitecture(24, (1, 1, 1 / 3, 1 / 6), 3, 2, 7, 2)
    for kind in (GENERATOR, DISCRIMINATOR):
        inferred = infer_architecture(architecture.build(kind).state_dict(), kind)
        rebuilt = inferred.build(kind)
        assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {
            k: v.shape for k, v in architecture.build(kind).state_dict().items()
        }


def test_wrong_kind_is_one_clear_error(tmp_path: Path) -> None:
    path = published_style_file(tmp_path / "g.pt", ARCHITECTURE.build(GENERATOR), "")
    with pytest.raises(InputError, match="generator checkpoint; a discriminator"):
        load_checkpoint(path, expected_kind=DISCRIMINATOR)


def test_non_checkpoint_files_are_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint")
    with pytest.raises(InputError, match="not a"):
        load_checkpoint(text)
    with pytest.raises(InputError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    weights = tmp_path / "other.pt"
    torch.save({"model_state_dict": {"fc.weight": torch.zeros(2, 2)}}, weights)
    with pytest.raises(InputError, match="neither a PACGAN generator nor"):
        load_checkpoint(weights)


class Payload:
    def __reduce__(self):
        return (print, ("unpickled!",))


def test_arbitrary_pickled_objects_are_never_unpickled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "evil.pt"
    with path.open("wb") as handle:
        pickle.dump({"model_state_dict": Payload()}, handle)
    with pytest.raises(InputError):
        load_checkpoint(path)
    assert "unpickled!" not in capsys.readouterr().out


def test_truncated_weights_are_reported(tmp_path: Path) -> None:
    model = ARCHITECTURE.build(GENERATOR)
    state = model.state_dict()
    del state["prog_blocks.1.conv2.bias"]
    path = tmp_path / "g.pt"
    torch.save({"model_state_dict": state}, path)
    with pytest.raises(InputError, match="do not fit"):
        load_checkpoint(path)
