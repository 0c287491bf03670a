"""The one loader and saver for generator and discriminator checkpoints, ours and the published ones.

A checkpoint is a dict with the published keys (`epoch`, `model_state_dict`, `optimizer_state_dict`) and
ours (`format_version`, `kind`, `stage`, `alpha`, `architecture`, `config`, optional `batch_statistic` and
`augment_probability`).
Published files may carry `module.` key prefixes (DataParallel) and lack our keys: the architecture is
then read from the tensor shapes. Files are always read with `weights_only=True`, after their size has been
checked from the archive's directory and the tensors' declared sizes. Our files carry a SHA-256 of their
whole payload (`sha256`: weights, optimiser state and every plain value such as `alpha`), checked on every
load, so a damaged or edited copy is an error; a file with any key of ours but no valid digest is refused,
since it would otherwise load as if published.
"""

from __future__ import annotations

import math
import os
import pickle
import zipfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pacgan_cli.core.errors import InputError
from pacgan_cli.core.io.atomic import atomic_path
from pacgan_cli.core.io.digest import payload_digest, tensor_digest, tensors_in
from pacgan_cli.core.io.limits import CHECKPOINT_BYTES_VARIABLE, check_byte_limit
from pacgan_cli.core.models.architecture import (
    AUX_HEADS,
    DISCRIMINATOR,
    GENERATOR,
    GENERATOR_PADDINGS,
    NetworkArchitecture,
)
from pacgan_cli.core.models.generator import Generator
from pacgan_cli.core.models.layers import stage_channels

FORMAT_VERSION = 1
DIGEST_KEY = "sha256"
OLDER_DIGEST_KEY = "tensor_sha256"  # pacgan before the whole-payload digest: the tensors alone
# Every key save_checkpoint writes beside the published ones (epoch, model_state_dict, optimizer_state_dict):
# any of them makes a file ours, which must then carry a valid digest.
OUR_KEYS = frozenset(
    {"format_version", "kind", "stage", "alpha", "architecture", "config", "batch_statistic"}
    | {"augment_probability", "lecam_averages", DIGEST_KEY, OLDER_DIGEST_KEY}
)


@dataclass
class LoadedCheckpoint:
    """A network rebuilt from a file (on the CPU, in eval mode) with what the file says about itself."""

    kind: str
    model: nn.Module
    architecture: NetworkArchitecture
    path: Path
    epoch: int | None
    stage: int | None
    alpha: float | None
    batch_statistic: float | None
    optimizer_state: dict[str, Any] | None
    config: dict[str, Any] | None
    published_format: bool
    augment_probability: float | None = None  # ada's p when the discriminator was saved
    lecam_averages: list[float] | None = None  # LeCam's moving averages of the mean real and fake scores


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    architecture: NetworkArchitecture,
    *,
    epoch: int,
    stage: int,
    alpha: float,
    optimizer_state: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    batch_statistic: float | None = None,
    augment_probability: float | None = None,
    lecam_averages: list[float] | None = None,
    state_dict: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write a self-describing checkpoint atomically (CPU tensors, loadable by the published scripts).

    `state_dict` overrides the model's current weights (used for a stage's best epoch);
    `optimizer_state` is an optimiser's `state_dict()` and `augment_probability` ada's p, kept so that
    training can resume.
    """
    kind = GENERATOR if isinstance(model, Generator) else DISCRIMINATOR
    weights = state_dict if state_dict is not None else model.state_dict()
    payload: dict[str, Any] = {
        "epoch": int(epoch),
        "model_state_dict": {key: value.detach().cpu().clone() for key, value in weights.items()},
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "stage": int(stage),
        "alpha": float(alpha),
        "architecture": _architecture_to_data(architecture),
    }
    if optimizer_state is not None:
        payload["optimizer_state_dict"] = _to_cpu(optimizer_state)
    if config is not None:
        payload["config"] = config
    if batch_statistic is not None:
        payload["batch_statistic"] = float(batch_statistic)
    if augment_probability is not None:
        payload["augment_probability"] = float(augment_probability)
    if lecam_averages is not None:
        payload["lecam_averages"] = [float(value) for value in lecam_averages]
    payload[DIGEST_KEY] = payload_digest(payload)
    path = Path(path)
    with atomic_path(path) as temporary:
        torch.save(payload, temporary)
    return path


def load_checkpoint(path: str | os.PathLike[str], expected_kind: str | None = None) -> LoadedCheckpoint:
    """Load any PACGAN generator or discriminator file; raise InputError with one clear line if it is not one."""
    path = Path(path)
    payload = read_checkpoint_file(path)
    published = not OUR_KEYS & set(payload)
    ours = {} if published else payload  # a published file's values beyond its own keys are never read
    state_dict = strip_module_prefix(_state_dict_of(payload, path))
    kind = _kind_of(state_dict, path)
    if expected_kind is not None and kind != expected_kind:
        raise InputError(f"{path}: this is a {kind} checkpoint; a {expected_kind} checkpoint is needed here")
    architecture = infer_architecture(state_dict, kind, path)
    if not published:
        architecture = _with_stored_choices(architecture, kind, payload, path)
    model = architecture.build(kind)
    _fill_aliases(state_dict, kind)
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as error:
        first_line = str(error).splitlines()[1].strip() if "\n" in str(error) else str(error)
        raise InputError(f"{path}: the weights do not fit a PACGAN {kind} ({first_line})") from error
    model.eval()
    statistic = ours.get("batch_statistic")
    _check_finite(state_dict, statistic, path)
    return LoadedCheckpoint(
        kind=kind,
        model=model,
        architecture=architecture,
        path=path,
        epoch=_optional_int(payload.get("epoch")),
        stage=_optional_int(ours.get("stage")),
        alpha=float(ours["alpha"]) if "alpha" in ours else None,
        batch_statistic=float(statistic) if statistic is not None else None,
        optimizer_state=payload.get("optimizer_state_dict"),
        config=ours.get("config"),
        published_format=published,
        augment_probability=float(ours["augment_probability"]) if "augment_probability" in ours else None,
        lecam_averages=_lecam_averages(ours.get("lecam_averages"), path),
    )


def read_checkpoint_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A checkpoint's payload, read safely (`load_payload`), with the digest of our files checked and taken out."""
    path = Path(path)
    payload = load_payload(path)
    check_digest(payload, path)
    return payload


def check_digest(payload: dict[str, Any], path: Path) -> None:
    """A file with any key of ours must carry the SHA-256 of its whole payload, which is checked and popped;
    the published format (its own keys alone, or a bare state dict) has none to check."""
    if not OUR_KEYS & set(payload):
        return
    recorded = payload.pop(DIGEST_KEY, None)
    if recorded is None and OLDER_DIGEST_KEY in payload:
        raise InputError(
            f"{path}: written by an older pacgan, whose SHA-256 ({OLDER_DIGEST_KEY}) covers the weights but not "
            "alpha, stage and the other values beside them; train it again, or re-save a copy you trust: "
            'python -c "from pacgan_cli.core.models.checkpoint import resave_checkpoint; '
            f"resave_checkpoint('{path}')\""
        )
    if recorded is None:
        raise InputError(
            f"{path}: a pacgan checkpoint without its SHA-256 ({DIGEST_KEY}), so nothing in it can be checked; "
            "use the file as pacgan wrote it (weights from elsewhere load with the published keys alone: "
            "epoch, model_state_dict, optimizer_state_dict)"
        )
    if recorded != payload_digest(payload):
        raise InputError(
            f"{path}: the file is damaged or was edited: its contents do not match the SHA-256 recorded when it "
            "was written; use an intact copy of the checkpoint"
        )


def resave_checkpoint(path: str | os.PathLike[str]) -> Path:
    """Give a checkpoint of an older pacgan (`tensor_sha256`, over its tensors alone) the digest of its whole
    payload, in place. Its tensors are checked against the older digest; its plain values (alpha, stage, the
    batch statistic) cannot be, so re-save only a copy you trust."""
    path = Path(path)
    payload = load_payload(path)
    recorded = payload.pop(OLDER_DIGEST_KEY, None)
    if recorded is None or DIGEST_KEY in payload:
        raise InputError(
            f"{path}: not a checkpoint of an older pacgan (no {OLDER_DIGEST_KEY}); nothing to re-save"
        )
    if recorded != tensor_digest(payload):
        raise InputError(
            f"{path}: the file is damaged: its tensors do not match the SHA-256 recorded when it was written; "
            "use an intact copy of the checkpoint"
        )
    payload[DIGEST_KEY] = payload_digest(payload)
    with atomic_path(path) as temporary:
        torch.save(payload, temporary)
    return path


def load_payload(path: Path) -> dict[str, Any]:
    """torch.load with `weights_only=True` once the size is known to be within the limit; every failure
    becomes one InputError line."""
    if not path.is_file():
        raise InputError(f"{path}: checkpoint file not found")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if not (magic.startswith(b"PK\x03\x04") or magic.startswith(b"\x80")):
        raise InputError(f"{path}: not a PyTorch checkpoint (neither a torch.save archive nor a pickle)")
    try:
        check_tensor_file_size(path)
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        message = str(error)
        if "weights_only" in message.lower() or "unsupported global" in message.lower():
            raise InputError(
                f"{path}: the file holds Python objects other than tensors and plain data; "
                "pacgan refuses to unpickle them (only weights are loaded)"
            ) from error
        raise InputError(f"{path}: not a PyTorch checkpoint ({message.splitlines()[0]})") from error
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError, zipfile.BadZipFile) as error:
        raise InputError(
            f"{path}: not a readable PyTorch checkpoint ({str(error).splitlines()[0]})"
        ) from error
    if not isinstance(payload, dict):
        raise InputError(f"{path}: not a PACGAN checkpoint (expected a dict, found {type(payload).__name__})")
    return payload


def strip_module_prefix(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove the `module.` prefix that torch.nn.DataParallel adds to every key."""
    return {key.removeprefix("module."): value for key, value in state_dict.items()}


def infer_architecture(
    state_dict: dict[str, torch.Tensor], kind: str, path: str | os.PathLike[str] = "checkpoint"
) -> NetworkArchitecture:
    """Read base channels, factors, classes, image channels (and latent/embedding size) from tensor shapes."""
    try:
        if kind == GENERATOR:
            num_classes, embedding_size = state_dict["label_embedding.weight"].shape
            latent_plus_embedding, base_channels = state_dict["initial_block.1.weight"].shape[:2]
            image_channels = state_dict[_alias_key(state_dict, "initial_layer.", "last_layer.0.")].shape[0]
            blocks = _count_blocks(state_dict, "prog_blocks.")
            channels = (
                [base_channels] if blocks == 0 else [state_dict["prog_blocks.0.conv1.conv.weight"].shape[1]]
            )
            channels += [state_dict[f"prog_blocks.{i}.conv1.conv.weight"].shape[0] for i in range(blocks)]
            latent_size = latent_plus_embedding - embedding_size
        else:
            base_channels, image_channels = state_dict["from_img4.conv.weight"].shape[:2]
            num_classes = state_dict["aux_layer.conv.weight"].shape[0]
            blocks = _count_blocks(state_dict, "prog_blocks.")
            # Block j maps stage (blocks - j) down to stage (blocks - j - 1).
            channels = [base_channels] if blocks == 0 else []
            channels += [
                state_dict[f"prog_blocks.{blocks - 1 - s}.conv1.conv.weight"].shape[0] for s in range(blocks)
            ]
            if blocks:
                channels.append(state_dict["prog_blocks.0.conv1.conv.weight"].shape[1])
            latent_size, embedding_size = 512, 3
    except KeyError as error:
        raise InputError(f"{path}: not a PACGAN {kind}: the weight {error.args[0]!r} is missing") from error
    return NetworkArchitecture(
        base_channels=int(base_channels),
        factors=_factors_for(int(base_channels), [int(c) for c in channels]),
        image_channels=int(image_channels),
        num_classes=int(num_classes),
        latent_size=int(latent_size),
        embedding_size=int(embedding_size),
    )


def _with_stored_choices(
    architecture: NetworkArchitecture, kind: str, payload: dict[str, Any], path: Path
) -> NetworkArchitecture:
    """What our checkpoints record beyond the tensor shapes: a generator's padding, a discriminator's
    classifier head (an adc head's 2K logits are K classes)."""
    stored = payload.get("architecture")
    stored = stored if isinstance(stored, dict) else {}
    if kind == GENERATOR:
        padding = stored.get("generator_padding", "zeros")
        if padding not in GENERATOR_PADDINGS:
            raise InputError(
                f"{path}: unknown generator padding {padding!r}; expected {' or '.join(GENERATOR_PADDINGS)}"
            )
        return replace(architecture, generator_padding=padding)
    head = stored.get("aux_head", "acgan")
    if head not in AUX_HEADS:
        raise InputError(f"{path}: unknown classifier head {head!r}; expected {', '.join(AUX_HEADS)}")
    classes = architecture.num_classes // 2 if head == "adc" else architecture.num_classes
    return replace(architecture, aux_head=head, num_classes=classes)


def _architecture_to_data(architecture: NetworkArchitecture) -> dict[str, Any]:
    data = asdict(architecture)
    data["factors"] = list(architecture.factors)
    return data


def _factors_for(base_channels: int, channels: list[int]) -> tuple[float, ...]:
    """Factors that reproduce `channels` exactly under the published `int(C * f)` rule."""
    factors = []
    for count in channels:
        factor = count / base_channels
        if int(base_channels * factor) != count:
            factor = (count + 0.25) / base_channels
        factors.append(factor)
    assert stage_channels(base_channels, factors) == channels
    return tuple(factors)


def _state_dict_of(payload: dict[str, Any], path: Path) -> dict[str, torch.Tensor]:
    state_dict = payload.get("model_state_dict", payload)
    if not isinstance(state_dict, dict) or not state_dict:
        raise InputError(f"{path}: not a PACGAN checkpoint (no model_state_dict)")
    if not all(isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in state_dict.items()):
        raise InputError(f"{path}: not a PACGAN checkpoint (model_state_dict does not map names to tensors)")
    return dict(state_dict)


def _kind_of(state_dict: dict[str, torch.Tensor], path: Path) -> str:
    if "label_embedding.weight" in state_dict:
        return GENERATOR
    if "aux_layer.conv.weight" in state_dict:
        return DISCRIMINATOR
    raise InputError(f"{path}: the weights are neither a PACGAN generator nor a PACGAN discriminator")


def _alias_key(state_dict: dict[str, torch.Tensor], first: str, second: str) -> str:
    return first + "conv.weight" if first + "conv.weight" in state_dict else second + "conv.weight"


def _fill_aliases(state_dict: dict[str, torch.Tensor], kind: str) -> None:
    """A module registered under two names needs both keys; copy whichever one the file has."""
    if kind == GENERATOR:
        pairs = [("initial_layer.", "last_layer.0.")]
    else:
        last = _count_blocks(state_dict, "prog_blocks.")
        pairs = [("from_img4.", f"from_img.{last}.")]
    for first, second in pairs:
        for suffix in ("conv.weight", "bias"):
            if first + suffix in state_dict and second + suffix not in state_dict:
                state_dict[second + suffix] = state_dict[first + suffix]
            elif second + suffix in state_dict and first + suffix not in state_dict:
                state_dict[first + suffix] = state_dict[second + suffix]


def _count_blocks(state_dict: dict[str, torch.Tensor], prefix: str) -> int:
    indices = {int(key[len(prefix) :].split(".")[0]) for key in state_dict if key.startswith(prefix)}
    return max(indices) + 1 if indices else 0


def check_tensor_file_size(path: str | os.PathLike[str]) -> None:
    """Refuse, before any tensor is read, a torch.save file whose archive entries or declared tensor sizes
    exceed the memory limit: a few kilobytes can otherwise make torch allocate gigabytes. The tensors are
    first loaded on the meta device, which reads their sizes but allocates nothing."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as entries:  # reads the archive's directory only
            unpacked = sum(entry.file_size for entry in entries.infolist())
        check_byte_limit(path, unpacked, "its unpacked archive", CHECKPOINT_BYTES_VARIABLE)
        outline = torch.load(path, map_location="meta", weights_only=True)
    else:
        from torch._subclasses.fake_tensor import FakeTensorMode  # the legacy format ignores meta

        with FakeTensorMode():
            outline = torch.load(path, map_location="meta", weights_only=True)
    claimed = sum(tensor.untyped_storage().nbytes() for _, tensor in tensors_in(outline, ""))
    check_byte_limit(path, claimed, "its tensors", CHECKPOINT_BYTES_VARIABLE)


def _check_finite(state_dict: dict[str, torch.Tensor], statistic: Any, path: Path) -> None:
    """NaN or infinite weights (a diverged run, a damaged file) would give all-NaN images or predictions."""
    for key, tensor in state_dict.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise InputError(
                f"{path}: the weight {key!r} holds NaN or infinite values (a diverged run or a damaged file); "
                "use another checkpoint"
            )
    if statistic is not None and not (isinstance(statistic, int | float) and math.isfinite(statistic)):
        raise InputError(
            f"{path}: its stored batch statistic is {statistic!r:.40}, not a finite number; use another checkpoint"
        )


def _lecam_averages(value: Any, path: Path) -> list[float] | None:
    if value is None:
        return None
    if not (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, float) and math.isfinite(v) for v in value)
    ):
        raise InputError(
            f"{path}: its stored LeCam averages are not two finite numbers; use another checkpoint"
        )
    return list(value)


def _optional_int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {key: _to_cpu(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_cpu(item) for item in value)
    return value
