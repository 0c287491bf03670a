import pickle
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from pacgan_cli.core.errors import InputError
from pacgan_cli.core.io.digest import payload_digest, tensor_digest
from pacgan_cli.core.models.checkpoint import (
    DISCRIMINATOR,
    GENERATOR,
    OUR_KEYS,
    NetworkArchitecture,
    infer_architecture,
    load_checkpoint,
    resave_checkpoint,
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


def saved_generator(path: Path) -> Path:
    torch.manual_seed(0)
    model = ARCHITECTURE.build(GENERATOR)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(2, 10), torch.tensor([0, 1]), 1.0, 3).mean().backward()
    optimizer.step()
    return save_checkpoint(
        path, model, ARCHITECTURE, epoch=1, stage=3, alpha=1.0, optimizer_state=optimizer.state_dict()
    )


def test_our_checkpoints_record_a_sha256_of_their_whole_payload_checked_on_load(tmp_path: Path) -> None:
    path = saved_generator(tmp_path / "g.pt")
    payload = torch.load(path, weights_only=True)
    recorded = payload.pop("sha256")
    assert recorded == payload_digest(payload) and "tensor_sha256" not in payload
    load_checkpoint(path)
    # A changed weight or optimiser moment: a copy damaged where the zip does not notice.
    for part, key in (("model_state_dict", "prog_blocks.0.conv1.bias"), ("optimizer_state_dict", "state")):
        damaged = torch.load(path, weights_only=True)
        tensor = damaged[part][key] if part == "model_state_dict" else damaged[part][key][0]["exp_avg"]
        tensor.view(-1)[0] += 1e-3
        torch.save(damaged, tmp_path / "damaged.pt")
        with pytest.raises(
            InputError, match=r"damaged\.pt: the file is damaged or was edited: its contents do not match"
        ):
            load_checkpoint(tmp_path / "damaged.pt")


def edited(path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the checkpoint at `path` with `change` applied to its payload, the recorded digest kept."""
    payload = torch.load(path, weights_only=True)
    change(payload)
    target = path.with_name("edited.pt")
    torch.save(payload, target)
    return target


def saved_discriminator(path: Path) -> Path:
    torch.manual_seed(3)
    model = ARCHITECTURE.build(DISCRIMINATOR)
    return save_checkpoint(
        path,
        model,
        ARCHITECTURE,
        epoch=4,
        stage=3,
        alpha=0.75,
        config={"class_names": ["CN", "AD", "MCI"]},
        batch_statistic=0.5,
        augment_probability=0.2,
        lecam_averages=[0.1, -0.1],
        optimizer_state=torch.optim.Adam(model.parameters()).state_dict(),
    )


PLAIN_EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "alpha": lambda p: p.update(alpha=0.5),
    "stage": lambda p: p.update(stage=2),
    "epoch": lambda p: p.update(epoch=9),
    "batch_statistic": lambda p: p.update(batch_statistic=0.6),
    "augment_probability": lambda p: p.update(augment_probability=0.0),
    "lecam_averages": lambda p: p.update(lecam_averages=[0.0, 0.0]),
    "class_names": lambda p: p["config"].update(class_names=["AD", "CN", "MCI"]),
    "aux_head": lambda p: p["architecture"].update(aux_head="tac"),
    "learning_rate": lambda p: p["optimizer_state_dict"]["param_groups"][0].update(lr=1.0),
    "added_key": lambda p: p.update(extra=1),
}


def test_every_key_we_write_beside_the_published_ones_marks_the_file_as_ours(tmp_path: Path) -> None:
    raw = torch.load(saved_discriminator(tmp_path / "d.pt"), weights_only=True)
    assert set(raw) - {"epoch", "model_state_dict", "optimizer_state_dict"} <= OUR_KEYS


@pytest.mark.parametrize("name", sorted(PLAIN_EDITS))
def test_an_edited_plain_value_of_our_discriminator_checkpoint_is_refused(tmp_path: Path, name: str) -> None:
    path = saved_discriminator(tmp_path / "d.pt")
    assert load_checkpoint(path).batch_statistic == 0.5
    with pytest.raises(InputError, match=r"edited\.pt: the file is damaged or was edited"):
        load_checkpoint(edited(path, PLAIN_EDITS[name]))


@pytest.mark.parametrize("name", ["alpha", "stage", "epoch"])
def test_an_edited_plain_value_of_our_generator_checkpoint_is_refused(tmp_path: Path, name: str) -> None:
    path = saved_generator(tmp_path / "g.pt")
    with pytest.raises(InputError, match=r"edited\.pt: the file is damaged or was edited"):
        load_checkpoint(edited(path, PLAIN_EDITS[name]))


def test_our_checkpoint_without_its_digest_is_refused_and_not_taken_for_a_published_one(
    tmp_path: Path,
) -> None:
    path = saved_generator(tmp_path / "g.pt")
    undigested = edited(path, lambda p: p.pop("sha256"))
    with pytest.raises(
        InputError, match=r"^\S*edited\.pt: a pacgan checkpoint without its SHA-256 \(sha256\)"
    ):
        load_checkpoint(undigested)
    # Without format_version too: any key of ours (here alpha) marks the file as ours.
    bare = edited(path, lambda p: [p.pop(key) for key in set(p) - {"epoch", "model_state_dict", "alpha"}])
    with pytest.raises(InputError, match="without its SHA-256"):
        load_checkpoint(bare)
    published = edited(path, lambda p: [p.pop(key) for key in set(p) - {"epoch", "model_state_dict"}])
    loaded = load_checkpoint(published)
    assert loaded.published_format and loaded.alpha is None and loaded.stage is None


def older_pacgan_file(path: Path) -> Path:
    """Our checkpoint at `path` as pacgan wrote it before the whole-payload digest: `tensor_sha256` only."""
    payload = torch.load(path, weights_only=True)
    payload.pop("sha256")
    payload["tensor_sha256"] = tensor_digest(payload)
    torch.save(payload, path.with_name("older.pt"))
    return path.with_name("older.pt")


def test_a_checkpoint_of_an_older_pacgan_is_refused_until_re_saved(tmp_path: Path) -> None:
    path = saved_generator(tmp_path / "g.pt")
    older = older_pacgan_file(path)
    with pytest.raises(InputError, match=r"older\.pt: written by an older pacgan.*resave_checkpoint"):
        load_checkpoint(older)
    damaged = edited(older, lambda p: p["model_state_dict"]["label_embedding.weight"].add_(1))
    with pytest.raises(InputError, match=r"edited\.pt: the file is damaged"):
        resave_checkpoint(damaged)
    resave_checkpoint(older)  # the same payload as written today, so the same digest
    assert torch.load(older, weights_only=True)["sha256"] == torch.load(path, weights_only=True)["sha256"]
    again = load_checkpoint(older)
    assert (again.alpha, again.stage, again.epoch) == (1.0, 3, 1)


def test_a_flipped_byte_inside_a_tensor_of_the_file_is_refused(tmp_path: Path) -> None:
    path = saved_generator(tmp_path / "g.pt")
    needle = (
        torch.load(path, weights_only=True)["model_state_dict"]["label_embedding.weight"].numpy().tobytes()
    )
    with zipfile.ZipFile(path) as archive:
        entries = {entry.filename: archive.read(entry) for entry in archive.infolist()}
    name = next(name for name, data in entries.items() if needle in data)
    flipped = bytearray(entries[name])
    flipped[flipped.find(needle) + 2] ^= 0x10
    entries[name] = bytes(flipped)
    damaged = tmp_path / "flipped.pt"  # a well-formed archive with a fresh CRC: only the digest can tell
    with zipfile.ZipFile(damaged, "w", zipfile.ZIP_STORED) as archive:
        for entry_name, data in entries.items():
            archive.writestr(entry_name, data)
    with pytest.raises(InputError, match=r"flipped\.pt: the file is damaged"):
        load_checkpoint(damaged)
    raw = bytearray(path.read_bytes())  # flipped in place: the archive's own CRC or the digest refuses it
    raw[raw.find(needle) + 2] ^= 0x10
    (tmp_path / "in_place.pt").write_bytes(bytes(raw))
    with pytest.raises(InputError, match=r"in_place\.pt: "):
        load_checkpoint(tmp_path / "in_place.pt")


def test_nan_weights_or_a_non_finite_batch_statistic_are_refused_on_load(tmp_path: Path) -> None:
    model = ARCHITECTURE.build(DISCRIMINATOR)
    path = tmp_path / "d.pt"
    save_checkpoint(path, model, ARCHITECTURE, epoch=1, stage=3, alpha=1.0, batch_statistic=float("inf"))
    with pytest.raises(InputError, match=r"d\.pt: its stored batch statistic is inf, not a finite number"):
        load_checkpoint(path)
    with torch.no_grad():
        model.aux_layer.bias[1] = float("nan")
    save_checkpoint(path, model, ARCHITECTURE, epoch=1, stage=3, alpha=1.0, batch_statistic=0.5)
    with pytest.raises(InputError, match=r"d\.pt: the weight 'aux_layer.bias' holds NaN or infinite values"):
        load_checkpoint(path)


@pytest.mark.parametrize("archive", [True, False])  # False: the format from before PyTorch 1.6
def test_a_tiny_file_claiming_gigabytes_of_tensors_is_refused_before_loading(
    tmp_path: Path, archive: bool
) -> None:
    path = tmp_path / "claims.pt"
    claim = {"model_state_dict": {"w": torch.empty(6 * 2**30, dtype=torch.uint8, device="meta")}}
    torch.save(claim, path, _use_new_zipfile_serialization=archive)
    assert path.stat().st_size < 100_000
    started = time.perf_counter()
    with pytest.raises(
        InputError,
        match=r"claims\.pt: its tensors would take 6\.0 GiB of memory, over the limit of 4\.0 GiB; if the file "
        r"is right, raise the limit: PACGAN_MAX_CHECKPOINT_BYTES=6442450944$",
    ):
        load_checkpoint(path)
    assert time.perf_counter() - started < 5


def test_the_checkpoint_size_limit_is_set_by_its_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = saved_generator(tmp_path / "g.pt")
    legacy = tmp_path / "legacy.pt"  # the torch.save format from before PyTorch 1.6
    torch.save(torch.load(path, weights_only=True), legacy, _use_new_zipfile_serialization=False)
    packed = tmp_path / "packed.pt"  # an archive entry that unpacks to far more than the file's size
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("packed/data.pkl", b"\0" * 2**22)
    assert packed.stat().st_size < 2**16
    for checkpoint in (path, legacy):
        assert load_checkpoint(checkpoint).architecture == ARCHITECTURE
    monkeypatch.setenv("PACGAN_MAX_CHECKPOINT_BYTES", "4096")
    for checkpoint, what in ((path, "its unpacked archive"), (legacy, "its tensors")):
        with pytest.raises(InputError, match=rf"{what} would take .* over the limit of 4\.0 KiB"):
            load_checkpoint(checkpoint)
    with pytest.raises(
        InputError, match=r"its unpacked archive would take 4\.0 MiB of memory, over the limit of 4\.0 KiB"
    ):
        load_checkpoint(packed)
