"""The networks' state during training: building them, typed snapshots of a chosen epoch, and the stage
checkpoints they are saved to and loaded from."""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pacgan_cli.core.config import TrainingConfig
from pacgan_cli.core.errors import ConfigError, InputError
from pacgan_cli.core.io.run_layout import StageCheckpointPaths
from pacgan_cli.core.models.checkpoint import (
    DISCRIMINATOR,
    GENERATOR,
    NetworkArchitecture,
    load_checkpoint,
    save_checkpoint,
)
from pacgan_cli.core.models.discriminator import Discriminator, measure_batch_statistic
from pacgan_cli.core.models.generator import Generator
from pacgan_cli.core.runtime import compile_module, forward_precision, training_memory_format
from pacgan_cli.core.training.augment import Augmentation
from pacgan_cli.core.training.conditioning import Conditioning
from pacgan_cli.core.training.distributed import Ranks

StateDict = dict[str, torch.Tensor]


@dataclass
class Networks:
    """The two networks, their optimisers, the optional moving average of the generator, and what the
    critic's inputs go through (augmentation, whose ada probability is part of the training state)."""

    architecture: NetworkArchitecture
    generator: Generator
    discriminator: Discriminator
    generator_optimizer: torch.optim.Adam
    critic_optimizer: torch.optim.Adam
    ema: Generator | None
    # What the training steps call: the networks themselves, DataParallel copies over several GPUs, or
    # compiled versions. The gradient penalty's double backward needs the uncompiled critic.
    generator_step_module: nn.Module
    critic_step_module: nn.Module
    penalty_module: nn.Module
    precision: str = "fp32"
    memory_format: torch.memory_format = torch.contiguous_format  # of the weights and the training batches
    ranks: Ranks = field(default_factory=Ranks)  # the processes of a distributed run; one by default
    augmentation: Augmentation = field(default_factory=Augmentation)
    conditioning: Conditioning = field(default_factory=Conditioning)

    @property
    def device(self) -> torch.device:
        return next(self.generator.parameters()).device

    @property
    def batched_critic(self) -> bool:
        """Real and fake images in one critic call (each half with its own minibatch statistic); not under
        DataParallel, which would scatter the halves over the GPUs."""
        return not isinstance(self.penalty_module, nn.DataParallel)

    def forward_precision(self) -> contextlib.AbstractContextManager[None]:
        return forward_precision(self.device, self.precision)


@dataclass(frozen=True)
class NetworkSnapshot:
    """Copies of both networks, their optimisers and the EMA at one epoch, to save or restore later.

    `score` is the validation score that made the epoch a stage's best (None for the last epoch);
    `batch_statistic` is the discriminator's minibatch statistic over the training images, once measured;
    `augment_probability` is ada's p (None in the other augmentation modes).
    """

    epoch: int
    alpha: float
    score: float | None
    generator: StateDict
    discriminator: StateDict
    generator_optimizer: dict[str, Any]
    critic_optimizer: dict[str, Any]
    ema: StateDict | None
    batch_statistic: float | None = None
    augment_probability: float | None = None
    lecam_averages: list[float] | None = None

    def with_statistic(self, statistic: float) -> NetworkSnapshot:
        return replace(self, batch_statistic=statistic)

    def to_data(self) -> dict[str, Any]:
        """Its fields as a dict of plain data and tensors (for a resume checkpoint)."""
        return {item.name: getattr(self, item.name) for item in fields(self)}


def build_networks(
    config: TrainingConfig, devices: list[torch.device], ranks: Ranks | None = None
) -> Networks:
    """Fresh networks and Adam optimisers (lr and betas from the config) on `devices[0]`.

    With several GPUs each training batch is split between them (DataParallel, as published), so the
    minibatch-stddev layer sees one GPU's share of the batch.
    """
    device = devices[0]
    architecture = config.architecture
    memory_format = training_memory_format(config.memory_format, device, architecture.base_channels)
    generator = architecture.build(GENERATOR).to(device, memory_format=memory_format)
    discriminator = architecture.build(DISCRIMINATOR).to(device, memory_format=memory_format)
    betas = (config.adam_betas[0], config.adam_betas[1])
    # One fused kernel per optimiser step on a GPU instead of a loop of small ones.
    adam = {"lr": config.learning_rate, "betas": betas, "fused": True if device.type == "cuda" else None}
    parallel = [d.index for d in devices] if len(devices) > 1 else None
    generator_module = nn.DataParallel(generator, parallel) if parallel else generator
    critic_module = nn.DataParallel(discriminator, parallel) if parallel else discriminator
    return Networks(
        architecture=architecture,
        generator=generator,
        discriminator=discriminator,
        generator_optimizer=torch.optim.Adam(generator.parameters(), **adam),
        critic_optimizer=torch.optim.Adam(discriminator.parameters(), **adam),
        ema=copy.deepcopy(generator).requires_grad_(False) if config.ema else None,
        generator_step_module=compile_module(generator_module, config.compile, config.num_stages),
        critic_step_module=compile_module(critic_module, config.compile, config.num_stages),
        penalty_module=critic_module,
        precision=config.precision,
        memory_format=memory_format,
        ranks=ranks or Ranks(device=device),
        augmentation=Augmentation.from_settings(config.augmentation),
        conditioning=Conditioning(config.aux_head, config.class_size, config.conditioning),
    )


@torch.no_grad()
def update_ema(average: Generator, generator: Generator, decay: float) -> None:
    """average <- decay * average + (1 - decay) * generator, for all parameters in one fused call."""
    torch._foreach_lerp_(list(average.parameters()), list(generator.parameters()), 1 - decay)


def take_snapshot(
    networks: Networks, epoch: int, alpha: float, score: float | None = None
) -> NetworkSnapshot:
    return NetworkSnapshot(
        epoch=epoch,
        alpha=alpha,
        score=score,
        generator=_copy_state(networks.generator),
        discriminator=_copy_state(networks.discriminator),
        generator_optimizer=copy.deepcopy(networks.generator_optimizer.state_dict()),
        critic_optimizer=copy.deepcopy(networks.critic_optimizer.state_dict()),
        ema=_copy_state(networks.ema) if networks.ema is not None else None,
        augment_probability=networks.augmentation.saved_probability(),
        lecam_averages=networks.conditioning.saved_averages(),
    )


def restore_snapshot(networks: Networks, snapshot: NetworkSnapshot) -> None:
    networks.generator.load_state_dict(snapshot.generator)
    networks.discriminator.load_state_dict(snapshot.discriminator)
    networks.generator_optimizer.load_state_dict(snapshot.generator_optimizer)
    networks.critic_optimizer.load_state_dict(snapshot.critic_optimizer)
    if networks.ema is not None and snapshot.ema is not None:
        networks.ema.load_state_dict(snapshot.ema)
    networks.augmentation.restore_probability(snapshot.augment_probability)
    networks.conditioning.restore_averages(snapshot.lecam_averages, networks.device)


def snapshot_batch_statistic(
    networks: Networks, snapshot: NetworkSnapshot, images: torch.Tensor, stage: int
) -> float:
    """The minibatch statistic of the snapshot's discriminator over `images` (the networks are untouched)."""
    discriminator = copy.deepcopy(networks.discriminator)
    discriminator.load_state_dict(snapshot.discriminator)
    return measure_batch_statistic(discriminator, images, snapshot.alpha, stage)


def save_snapshot(
    networks: Networks,
    snapshot: NetworkSnapshot,
    stage: int,
    config_data: dict[str, Any],
    paths: StageCheckpointPaths,
) -> dict[str, Path]:
    """Write the snapshot's checkpoints (the discriminator's with its batch statistic); returns what was written."""
    written = {}
    for name, model, weights, optimizer_state in (
        (GENERATOR, networks.generator, snapshot.generator, snapshot.generator_optimizer),
        (DISCRIMINATOR, networks.discriminator, snapshot.discriminator, snapshot.critic_optimizer),
    ):
        written[name] = save_checkpoint(
            getattr(paths, name),
            model,
            networks.architecture,
            epoch=snapshot.epoch,
            stage=stage,
            alpha=snapshot.alpha,
            config=config_data,
            batch_statistic=snapshot.batch_statistic if name == DISCRIMINATOR else None,
            augment_probability=snapshot.augment_probability if name == DISCRIMINATOR else None,
            lecam_averages=snapshot.lecam_averages if name == DISCRIMINATOR else None,
            state_dict=weights,
            optimizer_state=optimizer_state,
        )
    if networks.ema is not None and snapshot.ema is not None:
        written["ema"] = save_checkpoint(
            paths.ema,
            networks.ema,
            networks.architecture,
            epoch=snapshot.epoch,
            stage=stage,
            alpha=snapshot.alpha,
            config=config_data,
            state_dict=snapshot.ema,
        )
    return written


def load_stage_checkpoints(networks: Networks, candidates: list[StageCheckpointPaths], size: int) -> None:
    """Load a finished stage's networks, optimiser states, EMA and ada probability, from the first candidate
    that exists, so that training continues at the next stage."""
    for name, model, optimizer in (
        (GENERATOR, networks.generator, networks.generator_optimizer),
        (DISCRIMINATOR, networks.discriminator, networks.critic_optimizer),
    ):
        path = next((getattr(c, name) for c in candidates if getattr(c, name).is_file()), None)
        if path is None:
            raise InputError(
                f"{getattr(candidates[0], name)}: not found; the run has no {size}x{size} stage to resume from"
            )
        loaded = load_checkpoint(path, expected_kind=name)
        head = loaded.architecture.aux_head
        if name == DISCRIMINATOR and head != networks.architecture.aux_head:
            raise ConfigError(
                f"{path}: its discriminator has a{'n' if head[0] in 'aeiou' else ''} {head} classifier head "
                f"({_head_outputs(head)}), but the configuration asks for aux_head: "
                f"{networks.architecture.aux_head} ({_head_outputs(networks.architecture.aux_head)}); train "
                f"from the first stage, or set aux_head: {head}"
            )
        if _shape_of(loaded.architecture, name) != _shape_of(networks.architecture, name):
            raise InputError(
                f"{path}: its architecture {loaded.architecture} differs from the configuration's"
            )
        model.load_state_dict(loaded.model.state_dict())
        if loaded.optimizer_state is not None:
            optimizer.load_state_dict(loaded.optimizer_state)
        if name == DISCRIMINATOR:
            networks.augmentation.restore_probability(loaded.augment_probability)
            networks.conditioning.restore_averages(loaded.lecam_averages, networks.device)
    if networks.ema is not None:
        ema_path = candidates[0].ema
        source = load_checkpoint(ema_path).model if ema_path.is_file() else networks.generator
        networks.ema.load_state_dict(source.state_dict())
    device = networks.device
    networks.generator.to(device)
    networks.discriminator.to(device)


def _head_outputs(head: str) -> str:
    return {
        "acgan": "K class logits",
        "tac": "K class logits and a twin classifier of the fakes",
        "adc": "2K logits: real and fake classes",
    }[head]


def _copy_state(module: nn.Module) -> StateDict:
    return {key: value.detach().clone() for key, value in module.state_dict().items()}


def _shape_of(architecture: NetworkArchitecture, kind: str) -> tuple[Any, ...]:
    shape = (
        architecture.base_channels,
        architecture.factors,
        architecture.image_channels,
        architecture.num_classes,
    )
    return (*shape, architecture.latent_size, architecture.embedding_size) if kind == GENERATOR else shape
