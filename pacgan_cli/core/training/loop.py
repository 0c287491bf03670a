"""Progressive AC-WGAN-GP training: `train` runs the stages, `train_stage` the epochs,
`critic_step` / `generator_step` one update each."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pacgan_cli.core.config import TrainingConfig, config_to_data
from pacgan_cli.core.errors import InputError, PacganError, TrainingInterrupted
from pacgan_cli.core.io.atomic import json_ready
from pacgan_cli.core.io.run_layout import RunLayout
from pacgan_cli.core.io.stage_folder import StageFolder
from pacgan_cli.core.models.checkpoint import tensor_digest
from pacgan_cli.core.models.discriminator import measure_batch_statistic
from pacgan_cli.core.progress import Reporter, SilentReporter
from pacgan_cli.core.runtime import describe_threads, resolve_device, seed_everything, training_devices
from pacgan_cli.core.stages import stage_size
from pacgan_cli.core.training import records
from pacgan_cli.core.training.data import batch_ranges, load_stage, open_data_folder, validation_split
from pacgan_cli.core.training.distributed import Ranks, Shard, join_ranks
from pacgan_cli.core.training.losses import critic_loss, generator_loss, gradient_penalty
from pacgan_cli.core.training.networks import (
    Networks,
    NetworkSnapshot,
    build_networks,
    load_stage_checkpoints,
    restore_snapshot,
    snapshot_batch_statistic,
    take_snapshot,
    update_ema,
)
from pacgan_cli.core.training.resume import (
    SIGNAL_EXIT_CODES,
    ProgressSaver,
    ResumePoint,
    StageProgress,
    StopRequest,
    progress_from_data,
    restore_random_states,
    resume_point,
    stop_if_diverged,
    stop_on_signals,
)
from pacgan_cli.core.training.run_folder import RunFolder, best_epochs, run_layout, training_mode
from pacgan_cli.core.training.validation import classify_with_statistic, validate_epoch

ALPHA_START = 1e-5


@dataclass(frozen=True)
class StagePlan:
    """What stays fixed during one resolution stage."""

    stage: int
    num_stages: int
    epochs: int
    batch_size: int
    critic_iterations: int
    batches: int  # per epoch

    @property
    def steps(self) -> int:
        return self.epochs * self.batches

    @property
    def size(self) -> int:
        return stage_size(self.stage)

    @property
    def title(self) -> str:
        return f"stage {self.stage + 1}/{self.num_stages} {self.size}x{self.size}"


@dataclass
class StageResult:
    """What one resolution stage produced."""

    size: int
    epochs: int
    best_epoch: int
    best_score: float | None
    seconds: float
    checkpoints: dict[str, str]
    batch_statistic: float
    test: dict[str, Any] | None = None


@dataclass
class TrainResult:
    """The run folder and per-stage outcomes of `train`."""

    run_directory: Path
    image_directory: Path
    mode: str
    stages: list[StageResult] = field(default_factory=list)
    evaluation_directory: Path | None = None
    rank: int = 0  # this process's rank in a distributed run (0 alone writes)
    weights_digest: str | None = None  # SHA-256 of the final weights: equal on every rank

    def summary_lines(self) -> list[str]:
        lines = []
        for stage in self.stages:
            line = f"{stage.size}x{stage.size}: {stage.epochs} epochs in {stage.seconds:.0f} s"
            if stage.best_score is not None:
                line += f", best epoch {stage.best_epoch} (AUC real + fake {stage.best_score:.3f})"
            if stage.test is not None:
                line += (
                    f", test AUC {_format(stage.test['auc_macro'])}, accuracy {stage.test['accuracy']:.3f}"
                )
            lines.append(line)
        if self.evaluation_directory is not None:
            lines.append(f"evaluation report: {self.evaluation_directory / 'report.md'}")
        return lines


def train(
    config: TrainingConfig,
    reporter: Reporter | None = None,
    *,
    output: Path | None = None,
    resume: bool = False,
    force: bool = False,
) -> TrainResult:
    """Train all stages from the first (or resume where the run stopped) and write the run folder.

    Every input is checked before anything is written. SIGINT/SIGTERM stop at the next batch with a resume
    checkpoint (TrainingInterrupted). Raises PacganError subclasses for problems a user can fix.
    """
    reporter = reporter or SilentReporter()
    layout = run_layout(config, output)
    mode = training_mode(config)
    resuming = resume or config.load_model
    point = resume_point(config, layout, resuming)
    stages = range(point.stage, config.num_stages)

    # Read and check every input before the run folder is touched.
    train_data = _open_data(config, "train", stages or range(config.num_stages - 1, config.num_stages))
    test_data = _open_data(config, "test", stages) if mode == "test" else None
    if mode == "train" and config.generate:  # so that a long run does not fail at its very end
        _open_data(config, "test", range(config.num_stages - 1, config.num_stages))
    epochs = (
        best_epochs(config) if mode == "test" and config.test_using_best_model else config.progressive_epochs
    )
    rows = (
        validation_split(train_data.labels, config.validation_folds, config.seed)
        if mode == "validate"
        else None
    )
    # Under torchrun every process trains its share of each batch; rank 0 alone writes and reports.
    device = resolve_device(config.device)
    ranks = join_ranks(device)
    if ranks.active:
        ranks.check_batches(config.batch_sizes, train_data.image_count if rows is None else len(rows[0]))
        devices = [ranks.device]
    else:
        devices = training_devices(device, config.gpus_n, torch.cuda.device_count())
    folder = RunFolder(layout, writes=ranks.is_main)
    with ranks.together():
        notes = folder.open(config, resuming, force, point)
    reporter = folder.logged(reporter if ranks.is_main else SilentReporter())
    for note in notes:
        reporter.message(note)
    try:
        with stop_on_signals() as stop:
            result = _train_stages(
                config,
                mode,
                point,
                epochs,
                train_data,
                rows,
                test_data,
                devices,
                ranks,
                folder,
                reporter,
                stop,
            )
        if config.generate and ranks.is_main:
            result.evaluation_directory = _generate_and_evaluate(config, layout, devices[0], reporter, rows)
        return result
    except PacganError as error:
        folder.log(f"stopped: {error}")
        raise
    finally:
        folder.close()
        ranks.leave()


def _train_stages(
    config: TrainingConfig,
    mode: str,
    point: ResumePoint,
    epochs: tuple[int, ...] | list[int],
    train_data: StageFolder,
    rows: tuple[np.ndarray, np.ndarray] | None,
    test_data: StageFolder | None,
    devices: list[torch.device],
    ranks: Ranks,
    folder: RunFolder,
    reporter: Reporter,
    stop: StopRequest,
) -> TrainResult:
    """The stages from the resume point on, each continuing from the one before."""
    layout = folder.layout
    # Seeded networks (the same on every rank); a resume checkpoint's or the previous stage's weights.
    seed_everything(config.seed)
    networks = build_networks(config, devices, ranks)
    progress = progress_from_data(point.progress, devices[0]) if point.progress is not None else None
    if progress is not None:
        restore_snapshot(networks, progress.networks)
    elif 0 < point.stage < config.num_stages:
        previous = stage_size(point.stage - 1)
        other = "best" if config.stage_handover == "last" else "last"
        candidates = [
            layout.checkpoints(previous, config.stage_handover),
            layout.checkpoints(previous, other),
        ]
        load_stage_checkpoints(networks, candidates, previous)

    result = TrainResult(layout.model_directory, layout.image_directory, mode, rank=ranks.rank)
    if point.stage >= config.num_stages:
        return result
    where = ", ".join(str(d) for d in devices) + f" with {describe_threads()}"
    if ranks.active:
        each = "one GPU" if devices[0].type == "cuda" else describe_threads()
        where = f"{ranks.world_size} processes ({each} each)"
    elif len(devices) > 1:
        where += " (one process, DataParallel as published; `torchrun --nproc_per_node=N` scales better)"
    at = f" (resuming inside {stage_size(point.stage)}x{stage_size(point.stage)})" if progress else ""
    reporter.message(
        f"training on {where} in {mode} mode, stages {stage_size(point.stage)}..{config.max_size}{at}"
    )
    images = len(rows[0]) if rows is not None else train_data.image_count
    plans = [
        StagePlan(
            stage,
            config.num_stages,
            epochs[stage],
            config.batch_sizes[stage],
            config.critic_iterations[stage],
            len(batch_ranges(images, config.batch_sizes[stage], ranks.world_size)),
        )
        for stage in range(point.stage, config.num_stages)
    ]
    run_steps = sum(plan.steps for plan in plans)
    for index, plan in enumerate(plans):
        done = sum(earlier.steps for earlier in plans[:index])
        context = StageContext(config, train_data, rows, folder, reporter, test_data, stop)
        result.stages.append(
            train_stage(plan, networks, context, {"run_total": run_steps, "run_done": done}, progress)
        )
        progress = None
        folder.write_summary(config, mode, str(devices[0]))
    result.weights_digest = tensor_digest(
        {"generator": networks.generator.state_dict(), "discriminator": networks.discriminator.state_dict()}
    )
    return result


@dataclass(frozen=True)
class StageContext:
    """What every stage of a run shares: the config, the data, where results go and who listens."""

    config: TrainingConfig
    data: StageFolder
    rows: tuple[np.ndarray, np.ndarray] | None
    folder: RunFolder
    reporter: Reporter
    test_data: StageFolder | None
    stop: StopRequest


def train_stage(
    plan: StagePlan,
    networks: Networks,
    context: StageContext,
    run_progress: dict[str, int] | None = None,
    progress: StageProgress | None = None,
) -> StageResult:
    """Train one resolution for `plan.epochs` epochs, fading the new block in over the first half.

    `progress` continues a stage from a resume checkpoint exactly where it stopped. `run_progress`
    (`run_total`, `run_done` steps of the whole run) lets the reporter estimate the time left for the run.
    """
    config, folder, reporter, stage, size, epochs = (
        context.config,
        context.folder,
        context.reporter,
        plan.stage,
        plan.size,
        plan.epochs,
    )
    started = time.perf_counter()

    # Each stage has its own seed, so a resumed stage draws what an uninterrupted run draws.
    seed_everything(config.seed * 1000 + stage)
    order = torch.Generator().manual_seed(config.seed * 1000 + stage)
    device = networks.device
    rows = context.rows
    images, labels = load_stage(context.data, size, rows[0] if rows is not None else None)
    if device.type == "cuda":
        images, labels = images.to(device), labels.to(device)
    validation = load_stage(context.data, size, rows[1]) if rows is not None else None
    if images.shape[0] < 2:
        raise InputError(f"stage {size}x{size} has fewer than 2 training images; add images")
    ranks = networks.ranks
    ranges = batch_ranges(images.shape[0], plan.batch_size, ranks.world_size)
    sample_z = torch.randn(config.class_size * config.samples_per_class, config.z_dim, generator=order).to(
        device
    )
    sample_labels = torch.arange(config.class_size).repeat_interleave(config.samples_per_class).to(device)
    folder.start_stage(size)

    # A fresh stage, or the state a resume checkpoint saved (random states included).
    alpha, best, epoch_records = ALPHA_START, None, []
    first_epoch, first_batch, permutation, totals, carried_seconds = 1, 0, None, None, 0.0
    if progress is not None:
        alpha, best, epoch_records = progress.alpha, progress.best, progress.epoch_records
        first_epoch, first_batch, permutation = progress.epoch, progress.next_batch, progress.permutation
        totals, carried_seconds = progress.totals, progress.epoch_seconds
        if not ranks.is_main:  # rank 0's saved totals already hold every rank's share of the epoch so far
            totals = records.EpochTotals.start(totals.batches, device, totals.sums)
        restore_random_states(progress.random_states, order)
    saver = ProgressSaver(config, folder, networks, stage, order)
    reporter.stage_started(plan.title, total=epochs * len(ranges), epochs=epochs, **(run_progress or {}))
    if progress is not None:
        reporter.advance((first_epoch - 1) * len(ranges) + first_batch)
    for epoch in range(first_epoch, epochs + 1):
        epoch_started = time.perf_counter() - carried_seconds
        if permutation is None:
            permutation = torch.randperm(images.shape[0], generator=order)
            totals = records.EpochTotals.start(len(ranges), device)
        assert totals is not None
        for batch_index in range(first_batch, len(ranges)):
            begin, end = ranges[batch_index]
            shard = ranks.shard(end - begin)  # this process's images of the batch (all of them in one)
            selected = permutation[begin + shard.begin : begin + shard.end].to(images.device)
            real, real_labels = images[selected].to(device), labels[selected].to(device)
            # n_critic critic updates, then one generator update, on the same labels.
            for _ in range(plan.critic_iterations):
                critic_terms, real_logits, fake_logits = critic_step(
                    networks, real, real_labels, alpha, stage, config, shard
                )
            generator_terms = generator_step(networks, real_labels, alpha, stage, config, shard)
            if networks.ema is not None:
                update_ema(networks.ema, networks.generator, config.ema_decay)
            # The new block fades in over the first half of the stage.
            alpha = min(1.0, alpha + (end - begin) / (0.5 * epochs * images.shape[0]))
            # Sums stay on the device: no host synchronisation inside the epoch.
            for name, value in {**critic_terms, **generator_terms}.items():
                totals.sums[name] += value.detach() * shard.share
            totals.real_logits.append(real_logits.detach())
            totals.fake_logits.append(fake_logits.detach())
            totals.labels.append(real_labels)
            reporter.advance(1, epoch=epoch, epochs=epochs, alpha=alpha)
            # A checkpoint every few minutes, and at once when a stop is requested (on any rank).
            if ranks.any(bool(context.stop) or saver.due_by_time()):
                seconds = time.perf_counter() - epoch_started
                position = (epoch, batch_index + 1, permutation, totals.combined(ranks), seconds)
                saver.save(*position, alpha, best, epoch_records)
                _stop_if_requested(context.stop, ranks, folder, plan, epoch)
        first_batch, carried_seconds = 0, 0.0

        # One metrics line per epoch; in validation mode it also decides the stage's best epoch.
        seconds = time.perf_counter() - epoch_started
        totals = totals.combined(ranks)
        stop_if_diverged(totals, stage, epoch, config)
        record = records.epoch_record(stage, size, epoch, epochs, alpha, totals, seconds, images.shape[0])
        record.update(networks.augmentation.finish_epoch(record))  # ada moves p for the next epoch
        if validation is not None:
            networks.generator.eval()
            record.update(
                validate_epoch(
                    networks.generator, networks.discriminator, *validation, alpha, stage, plan.batch_size
                )
            )
            networks.generator.train()
            score = record["val_auc_real"] + record["val_auc_fake"]
            eligible = epoch > config.start_check_at * epochs or (epoch == epochs and best is None)
            if eligible and not np.isnan(score) and (best is None or score > best.score):
                best = take_snapshot(networks, epoch, alpha, score)
        epoch_records.append(record)
        folder.append_metrics(record)
        if folder.writes and ((epoch - 1) % config.disp_every_n_epochs == 0 or epoch == epochs):
            title = f"{size}x{size}, epoch {epoch}, alpha {alpha:.2f}"
            for name, samples in records.sample_images(
                networks, sample_z, sample_labels, alpha, stage
            ).items():
                folder.save_samples(samples, config.class_size, size, name, epoch, title)
        # The bar shows each finished epoch's mean losses (read once per epoch, not per batch).
        shown = {name: record[name] for name in ("d_loss", "g_loss")}
        reporter.advance(0, epoch=epoch, epochs=epochs, alpha=alpha, epoch_done=True, **shown)
        permutation, totals = None, None
        # The epoch's checkpoint: the next epoch starts from it after a crash.
        if epoch < epochs and ranks.any(
            epoch % config.checkpoint_every_epochs == 0 or bool(context.stop) or saver.due_by_time()
        ):
            saver.save(epoch + 1, 0, None, None, 0.0, alpha, best, epoch_records)
            _stop_if_requested(context.stop, ranks, folder, plan, epoch)

    result = _finish_stage(plan, networks, config, images, alpha, best, folder, epoch_records)
    if context.test_data is not None:
        result.test = _test_stage(plan, networks, context.test_data, alpha, result.batch_statistic, folder)
    result.seconds = time.perf_counter() - started
    folder.finish_stage(size, json_ready(result.__dict__))
    reporter.stage_finished(size=size)
    return result


def critic_step(
    networks: Networks,
    real: torch.Tensor,
    labels: torch.Tensor,
    alpha: float,
    stage: int,
    config: TrainingConfig,
    shard: Shard | None = None,
) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """One critic update; returns the loss terms and the class logits of the real and fake batches.

    `shard` is this process's part of the global batch in a distributed run (default: all of it).
    """
    generator, discriminator = networks.generator_step_module, networks.critic_step_module
    shard = shard or Shard.whole(real.shape[0])
    z = shard.draw((config.z_dim,), real.device)
    with networks.ranks.global_statistic(networks.discriminator, shard):
        with networks.forward_precision():
            # The fakes need no generator graph: only the critic learns here.
            with torch.no_grad():
                fake = generator(z, labels, alpha, stage)
            # With augmentation the critic, and its gradient penalty, see both through the same transforms.
            real, fake = networks.augmentation.critic_inputs(real, fake, shard)
            # Real and fake in one call, each half with its own minibatch statistic (as two calls give).
            if networks.batched_critic:
                scores, logits = discriminator(torch.cat([real, fake]), alpha, stage, groups=2)
                (real_scores, fake_scores), (real_logits, fake_logits) = scores.chunk(2), logits.chunk(2)
            else:
                real_scores, real_logits = discriminator(real, alpha, stage)
                fake_scores, fake_logits = discriminator(fake, alpha, stage)
        mix = shard.draw((1, 1, 1), real.device, uniform=True)
        penalty = gradient_penalty(
            networks.penalty_module, real, fake, alpha, stage, mix, networks.forward_precision
        )
    # Losses in fp32 whatever the forward precision.
    terms = critic_loss(
        real_scores.float(),
        fake_scores.float(),
        real_logits.float(),
        fake_logits.float(),
        labels,
        penalty,
        lambda_cls_real=config.lambda_cls_1,
        lambda_cls_fake=config.lambda_cls_2,
        lambda_gp=config.lambda_gp,
        drift_weight=config.drift_weight,
    )
    terms |= networks.augmentation.signal_terms(real_scores, fake_scores, networks.ranks)
    networks.critic_optimizer.zero_grad(set_to_none=True)
    (terms["d_loss"] * shard.loss_weight).backward()
    networks.ranks.average_gradients(networks.discriminator)
    networks.critic_optimizer.step()
    return terms, real_logits, fake_logits


def generator_step(
    networks: Networks,
    labels: torch.Tensor,
    alpha: float,
    stage: int,
    config: TrainingConfig,
    shard: Shard | None = None,
) -> dict[str, torch.Tensor]:
    """One generator update with a fresh latent batch; the critic's weights get no gradient."""
    generator, discriminator = networks.generator_step_module, networks.critic_step_module
    shard = shard or Shard.whole(labels.shape[0])
    z = shard.draw((config.z_dim,), labels.device)
    networks.discriminator.requires_grad_(False)
    try:
        with networks.ranks.global_statistic(networks.discriminator, shard), networks.forward_precision():
            fake = networks.augmentation.generator_input(generator(z, labels, alpha, stage), shard)
            fake_scores, fake_logits = discriminator(fake, alpha, stage)
        terms = generator_loss(
            fake_scores.float(), fake_logits.float(), labels, lambda_cls=config.lambda_cls_1
        )
        networks.generator_optimizer.zero_grad(set_to_none=True)
        (terms["g_loss"] * shard.loss_weight).backward()
        networks.ranks.average_gradients(networks.generator)
        networks.generator_optimizer.step()
    finally:
        networks.discriminator.requires_grad_(True)
    return terms


def _stop_if_requested(
    stop: StopRequest, ranks: Ranks, folder: RunFolder, plan: StagePlan, epoch: int
) -> None:
    """After a checkpoint: stop when SIGINT/SIGTERM asked for it (on any rank), saying what was kept and how
    to go on."""
    if not ranks.any(bool(stop)):
        return
    layout = folder.layout
    how = (
        f"pacgan train --resume --output {layout.model_directory}"
        if layout.model_directory == layout.image_directory
        else "pacgan train --resume with the same config"
    )
    raise TrainingInterrupted(
        f"stopped in stage {plan.size}x{plan.size}, epoch {epoch}/{plan.epochs}; the finished stages and a "
        f"resume checkpoint ({layout.progress_path}) are kept; continue with: {how}",
        stop.exit_code or SIGNAL_EXIT_CODES[signal.SIGTERM],
    )


def _finish_stage(
    plan: StagePlan,
    networks: Networks,
    config: TrainingConfig,
    images: torch.Tensor,
    alpha: float,
    best: NetworkSnapshot | None,
    folder: RunFolder,
    epoch_records: list[dict[str, Any]],
) -> StageResult:
    """Save last and best checkpoints (with the batch statistic over the training images) and the curves;
    with hand-over `best`, continue from the best epoch."""
    statistic = measure_batch_statistic(networks.discriminator, images, alpha, plan.stage)
    last = take_snapshot(networks, plan.epochs, alpha).with_statistic(statistic)
    if best is not None:
        best = best.with_statistic(snapshot_batch_statistic(networks, best, images, plan.stage))
    config_data = config_to_data(config)
    paths = folder.save_snapshot(networks, last, plan.stage, "last", config_data)
    paths |= folder.save_snapshot(networks, best or last, plan.stage, "best", config_data)
    if config.stage_handover == "best" and best is not None:
        restore_snapshot(networks, best)
    folder.save_curves(plan.size, epoch_records, best.epoch if best is not None else None)
    return StageResult(
        size=plan.size,
        epochs=plan.epochs,
        best_epoch=(best or last).epoch,
        best_score=(best or last).score,
        seconds=0.0,
        checkpoints=paths,
        batch_statistic=statistic,
    )


def _test_stage(
    plan: StagePlan,
    networks: Networks,
    test_data: StageFolder,
    alpha: float,
    statistic: float,
    folder: RunFolder,
) -> dict[str, Any]:
    """Score the auxiliary head on the test set (batch-independent statistic); write ROC and confusion plots."""
    images, labels = load_stage(test_data, plan.size)
    report, probabilities = classify_with_statistic(
        networks.discriminator, images, labels, alpha, plan.stage, statistic
    )
    folder.save_test_figures(plan.size, report, labels.numpy(), probabilities)
    data = report.to_data()
    folder.append_metrics({"event": "test", "stage": plan.stage, "size": plan.size, **data})
    return data


def _open_data(config: TrainingConfig, part: str, stages: range) -> StageFolder:
    """The train or test folder of the config, checked for the given stages."""
    return open_data_folder(
        getattr(config, f"data_{part}_directory"),
        getattr(config, f"label_{part}_directory"),
        stages,
        config.image_channels,
        config.class_size,
    )


def _generate_and_evaluate(
    config: TrainingConfig,
    layout: RunLayout,
    device: torch.device,
    reporter: Reporter,
    rows: tuple[np.ndarray, np.ndarray] | None,
) -> Path:
    """Generate `n_images_generated` images with the final stage's best generator and evaluate them
    (published GENERATE); the images and the report go under the image directory. A validation run
    (`rows`: training part, held-out fold) compares them with its held-out fold, never the test set,
    which belongs to test mode; the other modes compare them with the test set."""
    from pacgan_cli.core.evaluation.evaluate import generate_and_evaluate
    from pacgan_cli.core.evaluation.inputs import ImageSet, load_image_set

    real: str | ImageSet = config.data_test_directory
    train: str | ImageSet = config.data_train_directory
    if rows is not None:
        every = load_image_set(
            config.data_train_directory, config.label_train_directory, size=config.max_size, role="train"
        )
        train, real = every.subset(rows[0], "training part"), every.subset(rows[1], "validation fold")
    reporter.message(f"generating {list(config.n_images_generated)} images and evaluating them")
    report = generate_and_evaluate(
        layout.checkpoint(config.max_size, "generator", "best"),
        config.n_images_generated,
        real,
        layout.image_directory,
        test_labels=config.label_test_directory,
        train_images=train,
        train_labels=config.label_train_directory,
        discriminator_path=layout.checkpoint(config.max_size, "discriminator", "best"),
        seed=config.seed,
        device=device,
        reporter=reporter,
        force=True,
    )
    return report.output_directory


def _format(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
