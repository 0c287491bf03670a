"""Training over several processes started by torchrun: one process per GPU (NCCL), or per CPU process (gloo).

Every rank holds the whole stage in memory, draws the same seeded permutation and the same random numbers
for the global batch, and trains on its own slice of each batch, so that a run over N ranks computes what a
single process computes on the whole batch:

- the minibatch-stddev statistic is taken over the global batch: the critic's 4x4 features are all-gathered
  (with autograd, so gradients reach every rank's images through the statistic, as in one process);
- each rank's loss is weighted by its share of the batch, and after backward the ranks average their gradients
  in one flat all-reduce per network per step.

Not torch's DistributedDataParallel wrapper: its reducer expects one forward per backward and marks each
parameter ready once, while a critic step runs the critic twice (the batched pass and the gradient penalty's)
and differentiates through the penalty's input gradient. Averaging after backward is the same mathematics;
blocks inactive at a stage have no gradient on every rank alike and are skipped, so no unused-parameter
search is needed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar, cast

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

from pacgan_cli.core.errors import (
    AnotherProcessStopped,
    ConfigError,
    PacganError,
    TrainingDiverged,
    TrainingInterrupted,
)
from pacgan_cli.core.stages import stage_size
from pacgan_cli.core.training.data import batch_ranges

if dist.is_available():
    # Imported before any process group is joined, though pacgan does not call it: its functions take
    # `group=group.WORLD` as a default argument, evaluated at import. torch imports it lazily (the first
    # optimizer imports torch._dynamo, which imports FSDP, which imports it); imported after the group is
    # joined, the defaults hold the process group itself, for good, and destroy_process_group cannot free
    # it. gloo's worker threads then live on into the interpreter's shutdown, where one that frees a
    # finished collective needs the GIL, is ended by Python (pthread_exit) inside a C++ destructor and
    # aborts the process ("terminate called without an active exception", SIGABRT) after a good run.
    import torch.distributed.nn.functional

Gathered = TypeVar("Gathered")


@dataclass(frozen=True)
class Shard:
    """This rank's images [begin, end) of a global batch of `total`, and every rank's count (`sizes`)."""

    begin: int
    end: int
    total: int
    sizes: tuple[int, ...]

    @classmethod
    def whole(cls, total: int) -> Shard:
        return cls(0, total, total, (total,))

    @property
    def share(self) -> float:
        """This rank's fraction of the batch: its loss terms are means over its images, weighted by it."""
        return (self.end - self.begin) / self.total

    @property
    def loss_weight(self) -> float:
        """The factor on this rank's loss so that averaged gradients are those of the global batch's mean."""
        return self.share * len(self.sizes)

    def draw(self, shape: tuple[int, ...], device: torch.device, uniform: bool = False) -> torch.Tensor:
        """Random numbers for the global batch (the same on every rank), of which this rank takes its rows."""
        sample = torch.rand if uniform else torch.randn
        return sample(self.total, *shape, device=device)[self.begin : self.end]


@dataclass(frozen=True)
class Ranks:
    """This process's place in the run: rank `rank` of `world_size`, on GPU `local_rank` of its machine."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    owns_group: bool = False  # joined here from torchrun's environment, so left here at the end

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes files and shows progress."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def shard(self, total: int) -> Shard:
        """Split a global batch as evenly as possible; the first `total % world_size` ranks take one more."""
        if not self.active:
            return Shard.whole(total)
        low, extra = divmod(total, self.world_size)
        sizes = tuple(low + (1 if rank < extra else 0) for rank in range(self.world_size))
        begin = sum(sizes[: self.rank])
        return Shard(begin, begin + sizes[self.rank], total, sizes)

    def check_batches(self, batch_sizes: Sequence[int], images: int) -> None:
        """Every batch of every stage must give each process at least one image."""
        for stage, batch_size in enumerate(batch_sizes):
            smallest = min(end - begin for begin, end in batch_ranges(images, batch_size, self.world_size))
            if smallest < self.world_size:
                size = stage_size(stage)
                raise ConfigError(
                    f"stage {size}x{size} has batches of {smallest} images, fewer than the {self.world_size} "
                    f"processes; use batch_sizes of at least {self.world_size}"
                )

    def average_gradients(self, module: nn.Module) -> None:
        """Mean of every rank's gradients, in one all-reduce over a flat copy."""
        if not self.active:
            return
        gradients = [p.grad for p in module.parameters() if p.grad is not None]
        if not gradients:
            return
        flat = _flatten_dense_tensors(gradients)
        with _collective():
            dist.all_reduce(flat)
        flat /= self.world_size
        for gradient, averaged in zip(gradients, _unflatten_dense_tensors(flat, gradients), strict=True):
            gradient.copy_(averaged)

    @contextlib.contextmanager
    def global_statistic(self, discriminator: nn.Module, shard: Shard) -> Iterator[None]:
        """Within the block, the critic's minibatch statistic is taken over the global batch."""
        if not self.active:
            yield
            return
        discriminator.batch_gather = partial(_gather_batch, sizes=shard.sizes)
        try:
            yield
        finally:
            discriminator.batch_gather = None

    def any(self, flag: bool) -> bool:
        """True on every rank when it is true on one (a stop request, a checkpoint falling due)."""
        if not self.active:
            return flag
        value = torch.tensor([1.0 if flag else 0.0], device=self.device)
        with _collective():
            dist.all_reduce(value, op=dist.ReduceOp.MAX)
            return bool(value.item())

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.active:
            tensor = tensor.clone()
            with _collective():
                dist.all_reduce(tensor)
        return tensor

    def gather(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        """Every rank's tensors (any sizes), rank by rank, on this rank's device."""
        if not self.active:
            return tensors
        parts = self.gather_objects([tensor.cpu() for tensor in tensors])
        return [tensor.to(self.device) for part in parts for tensor in part]

    def gather_objects(self, value: Gathered) -> list[Gathered]:
        """Every rank's `value` (picklable, CPU tensors), rank by rank, on every rank."""
        if not self.active:
            return [value]
        gathered: list[Gathered | None] = [None] * self.world_size
        with _collective():
            dist.all_gather_object(gathered, value)
        return cast(list[Gathered], gathered)

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        """A block that may fail on some ranks only (rank 0's checks of the run folder): every rank learns
        of the failure, so that none waits forever for the others."""
        failure: PacganError | None = None
        try:
            yield
        except PacganError as error:
            failure = error
        if self.any(failure is not None):
            raise failure or AnotherProcessStopped()

    def leave(self, error: BaseException | None = None) -> None:
        """Leave the process group this run joined. After success, or a stop every rank raised together once
        they agreed on it (a signal, a divergence), wait for the others first. After an `error` of this rank
        alone leave at once: a barrier would wait for ranks that wait in their next collective for this one,
        for good; instead that collective fails within seconds (gloo) or this process's exit ends them
        (torchrun), and they stop with AnotherProcessStopped."""
        if not self.owns_group:
            return
        try:
            if error is None or isinstance(error, (TrainingInterrupted, TrainingDiverged)):
                with _collective():
                    dist.barrier()
        finally:
            dist.destroy_process_group()


def join_ranks(device: torch.device) -> Ranks:
    """The process group that torchrun describes in the environment (WORLD_SIZE > 1), joined once; the
    group a caller already joined; or rank 0 of 1. With CUDA each rank uses GPU LOCAL_RANK."""
    initialized = dist.is_available() and dist.is_initialized()
    world_size = dist.get_world_size() if initialized else int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Ranks(device=device)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not initialized:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Ranks(dist.get_rank(), world_size, local_rank, device, owns_group=not initialized)


@contextlib.contextmanager
def _collective() -> Iterator[None]:
    """Around every exchange between the processes: it fails when another process has left the run (an
    error of its own, a kill), and this process then stops with one line that points to that process's
    message, which says why."""
    try:
        yield
    except RuntimeError as error:  # torch.distributed's errors (DistError) are RuntimeErrors, as gloo's are
        raise AnotherProcessStopped() from error


def _gather_batch(grouped: torch.Tensor, sizes: tuple[int, ...]) -> torch.Tensor:
    """[groups, this rank's n, F] -> [groups, global n, F] in rank order, differentiable: padded to the
    largest share (all-gather needs equal shapes), gathered, and cut back."""
    padded = F.pad(grouped, (0, 0, 0, max(sizes) - grouped.shape[1]))
    parts = _AllGather.apply(padded)
    return torch.cat([part[:, :size] for part, size in zip(parts, sizes, strict=True)], dim=1)


class _AllGather(torch.autograd.Function):
    """Every rank's tensor, rank by rank; the gradient of each rank's tensor comes from every rank.

    Our own rather than torch.distributed.nn.functional's, so that its exchanges, in the backward pass too,
    stop with AnotherProcessStopped when another process has left."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> tuple[torch.Tensor, ...]:
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        with _collective():
            dist.all_gather(parts, tensor.contiguous())
        return tuple(parts)

    @staticmethod
    def backward(ctx: Any, *gradients: torch.Tensor) -> torch.Tensor:
        return _SumOwnPart.apply(*gradients)


class _SumOwnPart(torch.autograd.Function):
    """The gradient of `_AllGather`: this rank's part summed over every rank (a reduce-scatter, written as an
    all-reduce, which every backend has); its own gradient is an all-gather, so that the gradient penalty,
    which differentiates the critic's input gradient, can differentiate through it again."""

    @staticmethod
    def forward(ctx: Any, *gradients: torch.Tensor) -> torch.Tensor:
        stacked = torch.stack(gradients)
        with _collective():
            dist.all_reduce(stacked)
        return stacked[dist.get_rank()].clone()

    @staticmethod
    def backward(ctx: Any, gradient: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return _AllGather.apply(gradient)
