"""Progressive AC-WGAN-GP training: `train` runs the stages, `train_stage` the epochs,
`critic_step` / `generator_step` one update each."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pacgan_cli.core.config import LossWeights, TrainingConfig, config_to_data
from pacgan_cli.core.errors import StorageError
from pacgan_cli.core.io.atomic import json_ready
from pacgan_cli.core.io.digest import tensor_digest
from pacgan_cli.core.io.run_layout import RunLayout, record_last_run
from pacgan_cli.core.models.discriminator import measure_batch_statistic
from pacgan_cli.core.progress import Reporter, SilentReporter
from pacgan_cli.core.runtime import precision_warning, seed_everything
from pacgan_cli.core.stages import stage_size
from pacgan_cli.core.training import records
from pacgan_cli.core.training.data import load_stage
from pacgan_cli.core.training.distributed import Shard
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
from pacgan_cli.core.training.records import EpochTotals
from pacgan_cli.core.training.resume import (
    ProgressSaver,
    ResumePoint,
    interrupt_at_once,
    restore_random_states,
    resume_point,
    stop_after_stage,
    stop_if_diverged,
    stop_if_requested,
    stop_on_signals,
)
from pacgan_cli.core.training.state import (
    RunContext,
    StageData,
    StagePlan,
    StageResult,
    StageState,
    TrainResult,
    open_run,
)
from pacgan_cli.core.training.validation import classify_with_statistic, validate_epoch


def train(
    config: TrainingConfig,
    reporter: Reporter | None = None,
    *,
    output: Path | None = None,
    resume: bool = False,
    force: bool = False,
    record_in: str | os.PathLike[str] | None = None,
) -> TrainResult:
    """Train all stages from the first (or resume where the run stopped) and write the run folder.

    Every input is checked before anything is written; PacganError subclasses report what a user can fix.
    SIGINT/SIGTERM stop the run (TrainingInterrupted) at the next batch with a resume checkpoint, after a
    stage's wrap-up, or at once in the end-of-run evaluation. `record_in` (the command line's folder): the
    run, once open, is recorded there as the last run trained, for `generate`/`classify` without `--model`.
    """
    layout = RunLayout.for_training(
        config.model_directory, config.image_directory, config.mode == "test", output
    )
    resuming = resume or config.load_model
    point = resume_point(config, layout, resuming)
    run = open_run(config, layout, point, resuming, force, reporter or SilentReporter())
    stopped: BaseException | None = None  # what ended the run early, if anything: see Ranks.leave
    try:
        if record_in is not None and run.ranks.is_main:
            record_last_run(layout, record_in)
        with stop_on_signals() as stop:
            run = replace(run, stop=stop)
            result = _train_stages(run, point)
            if config.generate and run.ranks.is_main:
                from pacgan_cli.core.evaluation.end_of_run import evaluate_run_end  # heavy: only when used

                with interrupt_at_once(run):
                    result.evaluation_directory = evaluate_run_end(
                        config, run.layout, run.rows, run.devices[0], run.reporter
                    )
        return result
    except StorageError as error:  # nothing more can be logged on a full disk
        stopped = error
        raise error.going_on_with(layout.how_to_go_on(config.num_stages)) from error
    except BaseException as error:
        stopped = error
        run.folder.log_stop(error)
        raise
    finally:
        try:
            run.folder.close()
        finally:
            run.ranks.leave(stopped)


def _train_stages(run: RunContext, point: ResumePoint) -> TrainResult:
    """The stages from the resume point on, each continuing from the one before."""
    networks = _starting_networks(run, point)
    result = TrainResult(
        run.layout.model_directory, run.layout.image_directory, run.mode, rank=run.ranks.rank
    )
    if point.note:
        run.reporter.message(point.note)
    if point.stage >= run.config.num_stages:
        return result
    run.reporter.message(run.first_line(point.stage))
    if warning := precision_warning(run.devices[0], run.config.precision):
        run.reporter.message(warning)
    plans = [run.plan(stage) for stage in range(point.stage, run.config.num_stages)]
    saved = point.progress
    for index, plan in enumerate(plans):
        # The reporter estimates the time left for the whole run from the steps of every stage.
        steps = {"run_total": sum(p.steps for p in plans), "run_done": sum(p.steps for p in plans[:index])}
        result.stages.append(train_stage(run, plan, networks, saved, steps))
        saved = None
        run.folder.write_summary(run.config, run.mode, str(run.devices[0]))
        stop_after_stage(run, plan)
    result.weights_digest = tensor_digest(
        {"generator": networks.generator.state_dict(), "discriminator": networks.discriminator.state_dict()}
    )
    return result


def _starting_networks(run: RunContext, point: ResumePoint) -> Networks:
    """Seeded networks (the same on every rank) with a resume checkpoint's weights, or the previous stage's."""
    config = run.config
    seed_everything(config.seed)
    networks = build_networks(config, run.devices, run.ranks)
    if point.progress is not None:
        restore_snapshot(networks, NetworkSnapshot(**point.progress["networks"]))
    elif 0 < point.stage < config.num_stages:
        previous = stage_size(point.stage - 1)
        other = "best" if config.stage_handover == "last" else "last"
        candidates = [run.layout.checkpoints(previous, tag) for tag in (config.stage_handover, other)]
        load_stage_checkpoints(networks, candidates, previous)
    return networks


def train_stage(
    run: RunContext,
    plan: StagePlan,
    networks: Networks,
    saved: dict[str, Any] | None = None,
    run_steps: dict[str, int] | None = None,
) -> StageResult:
    """Train one resolution for `plan.epochs` epochs, fading the new block in over the first half.

    `saved` (a resume checkpoint's data) continues the stage exactly where it stopped; `run_steps`
    (`run_total`, `run_done`) is passed on to the reporter.
    """
    config, ranks = run.config, run.ranks
    started = time.perf_counter()
    # Each stage has its own seed, so a resumed stage draws what an uninterrupted run draws.
    seed_everything(config.seed * 1000 + plan.stage)
    data = StageData.load(run, plan, networks.device)
    networks.conditioning.start_stage(data.images)  # on the training device already
    run.folder.start_stage(plan.size)

    # A fresh stage, or the state a resume checkpoint saved (random states included).
    state = StageState.fresh()
    if saved is not None:
        state = StageState.from_data(saved, networks.device, ranks)
        restore_random_states(saved["random_states"], data.order)
    saver = ProgressSaver(run, networks, plan.stage, data.order)
    run.reporter.stage_started(plan.title, total=plan.steps, epochs=plan.epochs, **(run_steps or {}))
    if saved is not None:
        run.reporter.advance((state.epoch - 1) * plan.batches + state.next_batch)

    while state.epoch <= plan.epochs:
        epoch_started = time.perf_counter() - state.epoch_seconds
        _train_batches(run, plan, networks, data, state, saver, epoch_started)
        _finish_epoch(run, plan, networks, data, state, time.perf_counter() - epoch_started)
        finished = state.epoch
        state.start_epoch()
        # The epoch's checkpoint: the next epoch starts from it after a crash.
        every = config.checkpoint_every_epochs
        if finished < plan.epochs and ranks.any(
            (every > 0 and finished % every == 0) or bool(run.stop) or saver.due_by_time()
        ):
            saver.save(state, background=not run.stop)
            stop_if_requested(run, plan, finished)

    result = _finish_stage(run, plan, networks, data.images, state)
    if run.test_data is not None:
        result.test = _test_stage(run, plan, networks, state.alpha, result.batch_statistic)
    result.seconds = time.perf_counter() - started
    run.folder.finish_stage(plan.size, json_ready(result.__dict__))
    run.reporter.stage_finished(size=plan.size)
    return result


def _train_batches(
    run: RunContext,
    plan: StagePlan,
    networks: Networks,
    data: StageData,
    state: StageState,
    saver: ProgressSaver,
    epoch_started: float,
) -> None:
    """The epoch's batches from `state.next_batch` on, each with n_critic critic updates and one generator
    update; a resume checkpoint when one falls due or a stop is asked for."""
    config, ranks, device = run.config, run.ranks, networks.device
    if state.permutation is None:
        state.permutation = torch.randperm(data.count, generator=data.order)
        state.totals = EpochTotals.start(len(data.batches), device)
    assert state.totals is not None
    for batch_index in range(state.next_batch, len(data.batches)):
        begin, end = data.batches[batch_index]
        shard = ranks.shard(end - begin)  # this process's images of the batch (all of them in one)
        selected = state.permutation[begin + shard.begin : begin + shard.end].to(data.images.device)
        real = data.images[selected].to(device).contiguous(memory_format=networks.memory_format)
        labels = data.labels[selected].to(device)
        # The classification weights at this point of the run (on the conditioning ramp, if any).
        progress = plan.stage + ((state.epoch - 1) * plan.batches + batch_index) / plan.steps
        weights = networks.conditioning.weights(config.loss_weights, progress)
        # n_critic critic updates, then one generator update, on the same labels. With lazy regularisation
        # the gradient penalty comes on one critic step in gp_interval, weighted by it (its phase follows
        # from the position in the stage, so a resumed stage keeps it).
        for iteration in range(plan.critic_iterations):
            step = ((state.epoch - 1) * plan.batches + batch_index) * plan.critic_iterations + iteration
            penalised = step % config.gp_interval == 0
            lazy = penalised and config.gp_interval > 1
            step_weights = replace(weights, gp=weights.gp * config.gp_interval) if lazy else weights
            critic_terms, real_logits, fake_logits = critic_step(
                networks, real, labels, state.alpha, plan.stage, step_weights, shard, penalty=penalised
            )
        generator_terms = generator_step(networks, labels, state.alpha, plan.stage, weights, shard)
        if networks.ema is not None:
            update_ema(networks.ema, networks.generator, config.ema_decay)
        # The new block fades in over the first half of the stage.
        state.alpha = min(1.0, state.alpha + (end - begin) / (0.5 * plan.epochs * data.count))
        state.totals.add(critic_terms | generator_terms, real_logits, fake_logits, labels, shard.share)
        state.next_batch = batch_index + 1
        run.reporter.advance(1, epoch=state.epoch, epochs=plan.epochs, alpha=state.alpha)
        # A checkpoint every few minutes, and at once when a stop is requested (on any rank).
        if ranks.any(bool(run.stop) or saver.due_by_time()):
            state.epoch_seconds = time.perf_counter() - epoch_started
            saver.save(state, background=not run.stop)
            stop_if_requested(run, plan, state.epoch)


def _finish_epoch(
    run: RunContext, plan: StagePlan, networks: Networks, data: StageData, state: StageState, seconds: float
) -> None:
    """The epoch's metrics line (with the held-out fold's scores in validation mode, which decide the
    stage's best epoch), its sample grids when due, and its end told to the reporter."""
    config, folder = run.config, run.folder
    assert state.totals is not None
    totals = state.totals.combined(run.ranks)
    stop_if_diverged(totals, plan.stage, state.epoch, config)
    record = records.epoch_record(plan, state, totals, seconds, data.count)
    record.update(networks.augmentation.finish_epoch(record))  # ada moves p for the next epoch
    if data.validation is not None:
        networks.generator.eval()
        record.update(
            validate_epoch(
                networks.generator,
                networks.discriminator,
                *data.validation,
                state.alpha,
                plan.stage,
                plan.batch_size,
            )
        )
        networks.generator.train()
        score = record["val_auc_real"] + record["val_auc_fake"]
        last = state.epoch == plan.epochs and state.best is None
        eligible = state.epoch > config.start_check_at * plan.epochs or last
        if eligible and not np.isnan(score) and (state.best is None or score > state.best.score):
            state.best = take_snapshot(networks, state.epoch, state.alpha, score)
    state.records.append(record)
    folder.append_metrics(record)
    if folder.writes and ((state.epoch - 1) % config.disp_every_n_epochs == 0 or state.epoch == plan.epochs):
        title = f"{plan.size}x{plan.size}, epoch {state.epoch}, alpha {state.alpha:.2f}"
        samples = records.sample_images(networks, data.sample_z, data.sample_labels, state.alpha, plan.stage)
        for name, images in samples.items():
            folder.save_samples(images, config.class_size, plan.size, name, state.epoch, title)
    run.reporter.epoch_finished(state.epoch, plan.epochs, d_loss=record["d_loss"], g_loss=record["g_loss"])


def critic_step(
    networks: Networks,
    real: torch.Tensor,
    labels: torch.Tensor,
    alpha: float,
    stage: int,
    weights: LossWeights,
    shard: Shard | None = None,
    penalty: bool = True,
) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """One critic update; returns the loss terms and the class logits of the real and fake batches.

    `shard` is this process's part of the global batch in a distributed run (default: all of it). Without
    `penalty` (lazy regularisation's other steps) the gradient penalty is neither computed nor drawn for:
    its term is 0.
    """
    generator, discriminator = networks.generator_step_module, networks.critic_step_module
    shard = shard or Shard.whole(real.shape[0])
    z = shard.draw((networks.architecture.latent_size,), real.device)
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
        gp = torch.zeros((), device=real.device)
        if penalty:
            mix = shard.draw((1, 1, 1), real.device, uniform=True)
            gp = gradient_penalty(
                networks.penalty_module, real, fake, alpha, stage, mix, networks.forward_precision
            )
    # Losses in fp32 whatever the forward precision; the classifier head decides which logits they see.
    head = networks.conditioning
    terms = critic_loss(
        real_scores.float(),
        fake_scores.float(),
        head.classifier_logits(real_logits.float()),
        head.classifier_logits(fake_logits.float()),
        labels,
        gp,
        lambda_cls_real=weights.cls_real,
        lambda_cls_fake=weights.cls_fake,
        lambda_gp=weights.gp,
        drift_weight=weights.drift,
        fake_labels=head.fake_labels(labels),
    )
    terms = head.critic_terms(
        terms, real_scores, fake_scores, fake_logits.float(), labels, weights, networks.ranks
    )
    terms |= networks.augmentation.signal_terms(real_scores, fake_scores, networks.ranks)
    networks.critic_optimizer.zero_grad(set_to_none=True)
    (terms["d_loss"] * shard.loss_weight).backward()
    networks.ranks.average_gradients(networks.discriminator)
    networks.critic_optimizer.step()
    classes = networks.discriminator.class_logits
    return terms, classes(real_logits), classes(fake_logits)


def generator_step(
    networks: Networks,
    labels: torch.Tensor,
    alpha: float,
    stage: int,
    weights: LossWeights,
    shard: Shard | None = None,
) -> dict[str, torch.Tensor]:
    """One generator update with a fresh latent batch; the critic's weights get no gradient."""
    generator, discriminator = networks.generator_step_module, networks.critic_step_module
    shard = shard or Shard.whole(labels.shape[0])
    z = shard.draw((networks.architecture.latent_size,), labels.device)
    head = networks.conditioning
    networks.discriminator.requires_grad_(False)
    try:
        with networks.ranks.global_statistic(networks.discriminator, shard), networks.forward_precision():
            images = generator(z, labels, alpha, stage)
            fake = networks.augmentation.generator_input(images, shard)
            fake_scores, fake_logits = discriminator(fake, alpha, stage)
            if head.settings.mode_seeking_weight > 0:  # a second latent batch for the same labels
                second_z = shard.draw((networks.architecture.latent_size,), labels.device)
                pair = (images, generator(second_z, labels, alpha, stage))
        terms = generator_loss(
            fake_scores.float(),
            head.classifier_logits(fake_logits.float()),
            labels,
            lambda_cls=weights.cls_real,
        )
        terms = head.generator_terms(terms, fake_logits.float(), labels, weights)
        if head.settings.mode_seeking_weight > 0:
            terms = head.mode_seeking(terms, pair, (z, second_z))
        networks.generator_optimizer.zero_grad(set_to_none=True)
        (terms["g_loss"] * shard.loss_weight).backward()
        networks.ranks.average_gradients(networks.generator)
        networks.generator_optimizer.step()
    finally:
        networks.discriminator.requires_grad_(True)
    return terms


def _finish_stage(
    run: RunContext, plan: StagePlan, networks: Networks, images: torch.Tensor, state: StageState
) -> StageResult:
    """Save last and best checkpoints (with the batch statistic over the training images) and the curves;
    with hand-over `best`, continue from the best epoch."""
    config, folder = run.config, run.folder
    statistic = measure_batch_statistic(networks.discriminator, images, state.alpha, plan.stage)
    last = take_snapshot(networks, plan.epochs, state.alpha).with_statistic(statistic)
    best = state.best
    if best is not None:
        best = best.with_statistic(snapshot_batch_statistic(networks, best, images, plan.stage))
    config_data = config_to_data(config)
    paths = folder.save_snapshot(networks, last, plan.stage, "last", config_data)
    if best is None:  # no best epoch of its own: the last one is the best
        paths |= folder.copy_snapshot(plan.stage, paths, "last", "best")
    else:
        paths |= folder.save_snapshot(networks, best, plan.stage, "best", config_data)
    if config.stage_handover == "best" and best is not None:
        restore_snapshot(networks, best)
    folder.save_curves(plan.size, state.records, best.epoch if best is not None else None)
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
    run: RunContext, plan: StagePlan, networks: Networks, alpha: float, statistic: float
) -> dict[str, Any]:
    """Score the auxiliary head on the test set (batch-independent statistic); write ROC and confusion plots."""
    assert run.test_data is not None
    images, labels = load_stage(run.test_data, plan.size)
    report, log_odds = classify_with_statistic(
        networks.discriminator, images, labels, alpha, plan.stage, statistic
    )
    run.folder.save_test_figures(plan.size, report, labels.numpy(), log_odds)
    data = report.to_data()
    run.folder.append_metrics({"event": "test", "stage": plan.stage, "size": plan.size, **data})
    return data
