"""Progressive AC-WGAN-GP training: `train` runs the stages, `train_stage` the epochs,
`critic_step` / `generator_step` one update each."""

from __future__ import annotations

import copy
import json
import shutil
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pacgan_cli.core.config import TrainingConfig, config_to_data, config_to_yaml
from pacgan_cli.core.errors import InputError, OutputExistsError
from pacgan_cli.core.io.atomic import json_ready, write_json_atomic, write_text_atomic
from pacgan_cli.core.metrics import plots
from pacgan_cli.core.metrics.classification import one_vs_rest_auc
from pacgan_cli.core.models.checkpoint import (
    DISCRIMINATOR,
    GENERATOR,
    NetworkArchitecture,
    load_checkpoint,
    read_checkpoint_file,
    save_checkpoint,
)
from pacgan_cli.core.models.discriminator import Discriminator, measure_batch_statistic
from pacgan_cli.core.models.generator import Generator
from pacgan_cli.core.progress import Reporter, SilentReporter
from pacgan_cli.core.runtime import resolve_device, seed_everything, training_devices
from pacgan_cli.core.stages import stage_size
from pacgan_cli.core.training import figures
from pacgan_cli.core.training.data import DataFolder, batch_ranges, open_data_folder, validation_split
from pacgan_cli.core.training.losses import critic_loss, generator_loss, gradient_penalty
from pacgan_cli.core.training.validation import classify_with_statistic, validate_epoch

ALPHA_START = 1e-5


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


@dataclass
class RunLayout:
    """Where a run writes: checkpoints under `model_directory`, pictures under `image_directory`
    (the published MODEL_DIRECTORY / IMAGE_DIRECTORY), one `PACGAN_{S}x{S}` folder per stage in each."""

    model_directory: Path
    image_directory: Path

    def model_stage(self, size: int) -> Path:
        return self.model_directory / f"PACGAN_{size}x{size}"

    def image_stage(self, size: int) -> Path:
        return self.image_directory / f"PACGAN_{size}x{size}"

    @property
    def config_path(self) -> Path:
        return self.model_directory / "config.yaml"

    @property
    def metrics_path(self) -> Path:
        return self.model_directory / "metrics.jsonl"

    @property
    def summary_path(self) -> Path:
        return self.model_directory / "summary.json"

    def result_paths(self) -> list[Path]:
        """Everything a run writes, for the overwrite guard and --force."""
        fixed = [self.config_path, self.metrics_path, self.summary_path]
        stages = [*self.model_directory.glob("PACGAN_*x*"), *self.image_directory.glob("PACGAN_*x*")]
        return [path for path in dict.fromkeys([*fixed, *stages]) if path.exists()]


@dataclass
class Networks:
    """The two networks, their optimisers and the optional moving average of the generator."""

    architecture: NetworkArchitecture
    generator: Generator
    discriminator: Discriminator
    generator_optimizer: torch.optim.Adam
    critic_optimizer: torch.optim.Adam
    ema: Generator | None
    # What the training steps call: the networks themselves, or DataParallel copies over several GPUs.
    generator_step_module: nn.Module
    critic_step_module: nn.Module


def run_layout(config: TrainingConfig, output: Path | None) -> RunLayout:
    """`output` holds everything when given; otherwise the config's directories (published test mode
    writes to `<dir>_test`, as the published code does)."""
    if output is not None:
        return RunLayout(Path(output), Path(output))
    suffix = "_test" if training_mode(config) == "test" else ""
    return RunLayout(Path(config.model_directory + suffix), Path(config.image_directory + suffix))


def training_mode(config: TrainingConfig) -> str:
    """validate (hold out a fold, keep each stage's best epoch), test (train on all, score the test set) or train."""
    if config.validate:
        return "validate"
    return "test" if config.testing else "train"


def train(
    config: TrainingConfig,
    reporter: Reporter | None = None,
    *,
    output: Path | None = None,
    resume: bool = False,
    force: bool = False,
) -> TrainResult:
    """Train all stages from the first (or resume at a later one) and write the run folder.

    Every input is checked before anything is written. Raises PacganError subclasses for problems a
    user can fix.
    """
    reporter = reporter or SilentReporter()
    layout = run_layout(config, output)
    mode = training_mode(config)
    resuming = resume or config.load_model
    start = _start_stage(config, layout, resuming)
    stages = range(start, config.num_stages)
    train_data = open_data_folder(
        config.data_train_directory,
        config.label_train_directory,
        stages,
        config.image_channels,
        config.class_size,
    )
    test_data = None
    if mode == "test":
        test_data = open_data_folder(
            config.data_test_directory,
            config.label_test_directory,
            stages,
            config.image_channels,
            config.class_size,
        )
    elif config.generate:  # checked now so that a long run does not fail at its very end
        open_data_folder(
            config.data_test_directory,
            config.label_test_directory,
            range(config.num_stages - 1, config.num_stages),
            config.image_channels,
            config.class_size,
        )
    epochs = _epochs_per_stage(config, mode)
    rows = (
        validation_split(train_data.labels, config.validation_folds, config.seed)
        if mode == "validate"
        else None
    )
    devices = training_devices(resolve_device(config.device), config.gpus_n, torch.cuda.device_count())
    device = devices[0]
    _prepare_run_folder(layout, resuming, force)
    write_text_atomic(layout.config_path, config_to_yaml(config))

    seed_everything(config.seed)
    networks = build_networks(config, devices)
    if start > 0:
        _load_handover(networks, layout, stage_size(start - 1), config.stage_handover, device)
    _keep_metrics_before(layout.metrics_path, start)

    result = TrainResult(layout.model_directory, layout.image_directory, mode)
    where = ", ".join(str(d) for d in devices)
    reporter.message(f"training on {where} in {mode} mode, stages {stage_size(start)}..{config.max_size}")
    for stage in stages:
        stage_result = train_stage(
            stage, networks, config, train_data, rows, epochs[stage], layout, reporter, test_data
        )
        result.stages.append(stage_result)
        _write_summary(layout, config, mode, device, result)
    if config.generate:
        result.evaluation_directory = _generate_and_evaluate(config, layout, device, reporter)
    return result


def _generate_and_evaluate(
    config: TrainingConfig, layout: RunLayout, device: torch.device, reporter: Reporter
) -> Path:
    """Generate `n_images_generated` images with the final stage's best generator and evaluate them against
    the test set (published GENERATE); the images and the report go under the image directory."""
    from pacgan_cli.core.evaluate import generate_and_evaluate

    folder = layout.model_stage(config.max_size)
    reporter.message(f"generating {list(config.n_images_generated)} images and evaluating them")
    report = generate_and_evaluate(
        folder / "generator_best.pt",
        config.n_images_generated,
        config.data_test_directory,
        layout.image_directory,
        test_labels=config.label_test_directory,
        train_images=config.data_train_directory,
        train_labels=config.label_train_directory,
        discriminator_path=folder / "discriminator_best.pt",
        seed=config.seed,
        device=device,
        reporter=reporter,
        force=True,
    )
    return report.output_directory


def build_networks(config: TrainingConfig, devices: list[torch.device]) -> Networks:
    """Fresh networks and Adam optimisers (lr and betas from the config) on `devices[0]`.

    With several GPUs each training batch is split between them (DataParallel, as published), so the
    minibatch-stddev layer sees one GPU's share of the batch.
    """
    device = devices[0]
    architecture = NetworkArchitecture(
        base_channels=config.in_channels,
        factors=tuple(config.factors),
        image_channels=config.image_channels,
        num_classes=config.class_size,
        latent_size=config.z_dim,
        embedding_size=config.embedding_dim,
    )
    generator = architecture.build(GENERATOR).to(device)
    discriminator = architecture.build(DISCRIMINATOR).to(device)
    betas = (config.adam_betas[0], config.adam_betas[1])
    parallel = [d.index for d in devices] if len(devices) > 1 else None
    return Networks(
        architecture=architecture,
        generator=generator,
        discriminator=discriminator,
        generator_optimizer=torch.optim.Adam(generator.parameters(), lr=config.learning_rate, betas=betas),
        critic_optimizer=torch.optim.Adam(discriminator.parameters(), lr=config.learning_rate, betas=betas),
        ema=copy.deepcopy(generator).requires_grad_(False) if config.ema else None,
        generator_step_module=nn.DataParallel(generator, parallel) if parallel else generator,
        critic_step_module=nn.DataParallel(discriminator, parallel) if parallel else discriminator,
    )


def train_stage(
    stage: int,
    networks: Networks,
    config: TrainingConfig,
    data: DataFolder,
    rows: tuple[np.ndarray, np.ndarray] | None,
    epochs: int,
    layout: RunLayout,
    reporter: Reporter,
    test_data: DataFolder | None = None,
) -> StageResult:
    """Train one resolution for `epochs` epochs, fading the new block in over the first half."""
    size = stage_size(stage)
    started = time.perf_counter()
    seed_everything(config.seed * 1000 + stage)
    order = torch.Generator().manual_seed(config.seed * 1000 + stage)
    device = next(networks.generator.parameters()).device
    images, labels = data.load(size, rows[0] if rows is not None else None)
    if device.type == "cuda":
        images, labels = images.to(device), labels.to(device)
    validation = data.load(size, rows[1]) if rows is not None else None
    if images.shape[0] < 2:
        raise InputError(f"stage {size}x{size} has fewer than 2 training images; add images")
    batch_size, critic_iterations = config.batch_sizes[stage], config.critic_iterations[stage]
    ranges = batch_ranges(images.shape[0], batch_size)
    sample_z = torch.randn(config.class_size * config.samples_per_class, config.z_dim, generator=order).to(
        device
    )
    sample_labels = torch.arange(config.class_size).repeat_interleave(config.samples_per_class).to(device)
    model_folder, image_folder = layout.model_stage(size), layout.image_stage(size)
    model_folder.mkdir(parents=True, exist_ok=True)
    image_folder.mkdir(parents=True, exist_ok=True)

    alpha = ALPHA_START
    best: dict[str, Any] | None = None
    first_checked = config.start_check_at * epochs
    records: list[dict[str, Any]] = []
    reporter.stage_started(
        f"stage {stage + 1}/{config.num_stages} {size}x{size}", total=epochs * len(ranges), epochs=epochs
    )
    for epoch in range(1, epochs + 1):
        epoch_started = time.perf_counter()
        permutation = torch.randperm(images.shape[0], generator=order).to(images.device)
        sums: dict[str, torch.Tensor] = defaultdict(lambda: torch.zeros((), device=device))
        logits: dict[str, list[torch.Tensor]] = defaultdict(list)
        for batch_index, (begin, end) in enumerate(ranges):
            selected = permutation[begin:end]
            real, real_labels = images[selected].to(device), labels[selected].to(device)
            for _ in range(critic_iterations):
                critic_terms, real_logits, fake_logits = critic_step(
                    networks, real, real_labels, alpha, stage, config
                )
            generator_terms = generator_step(networks, real_labels, alpha, stage, config)
            if networks.ema is not None:
                update_ema(networks.ema, networks.generator, config.ema_decay)
            alpha = min(1.0, alpha + (end - begin) / (0.5 * epochs * images.shape[0]))
            for name, value in {**critic_terms, **generator_terms}.items():
                sums[name] += value.detach()
            logits["real"].append(real_logits.detach())
            logits["fake"].append(fake_logits.detach())
            logits["labels"].append(real_labels)
            shown = _display(sums, batch_index + 1) if batch_index % 10 == 0 else {}
            reporter.advance(1, epoch=epoch, epochs=epochs, alpha=alpha, **shown)
        seconds = time.perf_counter() - epoch_started
        record = _epoch_record(
            stage, size, epoch, epochs, alpha, sums, len(ranges), logits, seconds, images.shape[0]
        )
        if validation is not None:
            networks.generator.eval()
            record.update(
                validate_epoch(
                    networks.generator, networks.discriminator, *validation, alpha, stage, batch_size
                )
            )
            networks.generator.train()
            score = record["val_auc_real"] + record["val_auc_fake"]
            eligible = epoch > first_checked or (epoch == epochs and best is None)
            if eligible and not np.isnan(score) and (best is None or score > best["score"]):
                best = _snapshot(networks, epoch, score, alpha)
        records.append(record)
        _append_metrics(layout.metrics_path, record)
        if (epoch - 1) % config.disp_every_n_epochs == 0 or epoch == epochs:
            _save_samples(networks, sample_z, sample_labels, alpha, stage, config, image_folder, epoch)
        reporter.advance(
            0, epoch=epoch, epochs=epochs, alpha=alpha, epoch_done=True, **_display(sums, len(ranges))
        )

    result = _finish_stage(stage, networks, config, images, alpha, epochs, best, layout, records)
    if test_data is not None:
        result.test = _test_stage(stage, networks, test_data, alpha, result.batch_statistic, layout)
    result.seconds = time.perf_counter() - started
    reporter.stage_finished(size=size)
    return result


def critic_step(
    networks: Networks,
    real: torch.Tensor,
    labels: torch.Tensor,
    alpha: float,
    stage: int,
    config: TrainingConfig,
) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """One critic update; returns the loss terms and the class logits of the real and fake batches."""
    generator, discriminator = networks.generator_step_module, networks.critic_step_module
    z = torch.randn(real.shape[0], config.z_dim, device=real.device)
    with torch.no_grad():
        fake = generator(z, labels, alpha, stage)
    real_scores, real_logits = discriminator(real, alpha, stage)
    fake_scores, fake_logits = discriminator(fake, alpha, stage)
    mix = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
    penalty = gradient_penalty(discriminator, real, fake, alpha, stage, mix)
    terms = critic_loss(
        real_scores,
        fake_scores,
        real_logits,
        fake_logits,
        labels,
        penalty,
        lambda_cls_real=config.lambda_cls_1,
        lambda_cls_fake=config.lambda_cls_2,
        lambda_gp=config.lambda_gp,
        drift_weight=config.drift_weight,
    )
    networks.critic_optimizer.zero_grad(set_to_none=True)
    terms["d_loss"].backward()
    networks.critic_optimizer.step()
    return terms, real_logits, fake_logits


def generator_step(
    networks: Networks, labels: torch.Tensor, alpha: float, stage: int, config: TrainingConfig
) -> dict[str, torch.Tensor]:
    """One generator update with a fresh latent batch; the critic's weights get no gradient."""
    generator, discriminator = networks.generator_step_module, networks.critic_step_module
    z = torch.randn(labels.shape[0], config.z_dim, device=labels.device)
    discriminator.requires_grad_(False)
    try:
        fake_scores, fake_logits = discriminator(generator(z, labels, alpha, stage), alpha, stage)
        terms = generator_loss(fake_scores, fake_logits, labels, lambda_cls=config.lambda_cls_1)
        networks.generator_optimizer.zero_grad(set_to_none=True)
        terms["g_loss"].backward()
        networks.generator_optimizer.step()
    finally:
        discriminator.requires_grad_(True)
    return terms


@torch.no_grad()
def update_ema(average: Generator, generator: Generator, decay: float) -> None:
    """average <- decay * average + (1 - decay) * generator, parameter by parameter."""
    for averaged, current in zip(average.parameters(), generator.parameters(), strict=True):
        averaged.lerp_(current, 1 - decay)


def _finish_stage(
    stage: int,
    networks: Networks,
    config: TrainingConfig,
    images: torch.Tensor,
    alpha: float,
    epochs: int,
    best: dict[str, Any] | None,
    layout: RunLayout,
    records: list[dict[str, Any]],
) -> StageResult:
    """Save last and best checkpoints (with the batch statistic over the training images) and the curves;
    with hand-over `best`, continue from the best epoch."""
    size = stage_size(stage)
    folder = layout.model_stage(size)
    config_data = config_to_data(config)
    statistic = measure_batch_statistic(networks.discriminator, images, alpha, stage)
    last = _snapshot(networks, epochs, None, alpha)
    last["statistic"] = statistic
    if best is None:
        best = last
    else:
        scratch = copy.deepcopy(networks.discriminator)
        scratch.load_state_dict(best["discriminator"])
        best["statistic"] = measure_batch_statistic(scratch, images, best["alpha"], stage)
    paths: dict[str, str] = {}
    for tag, snapshot in (("last", last), ("best", best)):
        for name, model in (("generator", networks.generator), ("discriminator", networks.discriminator)):
            path = folder / f"{name}_{tag}.pt"
            optimizer_state = snapshot[f"{name}_optimizer"]
            save_checkpoint(
                path,
                model,
                networks.architecture,
                epoch=snapshot["epoch"],
                stage=stage,
                alpha=snapshot["alpha"],
                config=config_data,
                batch_statistic=snapshot["statistic"] if name == "discriminator" else None,
                state_dict=snapshot[name],
                optimizer_state=optimizer_state,
            )
            paths[f"{name}_{tag}"] = str(path)
        if networks.ema is not None:
            path = folder / f"generator_{tag}_ema.pt"
            save_checkpoint(
                path,
                networks.ema,
                networks.architecture,
                epoch=snapshot["epoch"],
                stage=stage,
                alpha=snapshot["alpha"],
                config=config_data,
                state_dict=snapshot["ema"],
            )
            paths[f"generator_{tag}_ema"] = str(path)
    if config.stage_handover == "best" and best is not last:
        _restore(networks, best)
    best_epoch = best["epoch"] if best is not last else None
    _save_curves(records, layout.image_stage(size), best_epoch, config)
    return StageResult(
        size=size,
        epochs=epochs,
        best_epoch=best["epoch"],
        best_score=best["score"],
        seconds=0.0,
        checkpoints=paths,
        batch_statistic=statistic,
    )


def _snapshot(networks: Networks, epoch: int, score: float | None, alpha: float) -> dict[str, Any]:
    """Copies of both networks' weights and optimiser states (and the EMA), to save or restore later."""
    snapshot = {
        "epoch": epoch,
        "score": score,
        "alpha": alpha,
        "generator": {k: v.detach().clone() for k, v in networks.generator.state_dict().items()},
        "discriminator": {k: v.detach().clone() for k, v in networks.discriminator.state_dict().items()},
        "generator_optimizer": copy.deepcopy(networks.generator_optimizer.state_dict()),
        "discriminator_optimizer": copy.deepcopy(networks.critic_optimizer.state_dict()),
    }
    if networks.ema is not None:
        snapshot["ema"] = {k: v.detach().clone() for k, v in networks.ema.state_dict().items()}
    return snapshot


def _restore(networks: Networks, snapshot: dict[str, Any]) -> None:
    networks.generator.load_state_dict(snapshot["generator"])
    networks.discriminator.load_state_dict(snapshot["discriminator"])
    networks.generator_optimizer.load_state_dict(snapshot["generator_optimizer"])
    networks.critic_optimizer.load_state_dict(snapshot["discriminator_optimizer"])
    if networks.ema is not None:
        networks.ema.load_state_dict(snapshot["ema"])


def _test_stage(
    stage: int, networks: Networks, test_data: DataFolder, alpha: float, statistic: float, layout: RunLayout
) -> dict[str, Any]:
    """Score the auxiliary head on the test set (batch-independent statistic); write ROC and confusion plots."""
    size = stage_size(stage)
    images, labels = test_data.load(size)
    report, probabilities = classify_with_statistic(
        networks.discriminator, images, labels, alpha, stage, statistic
    )
    folder = layout.image_stage(size)
    plots.save_classification_figures(
        folder / "test_roc.png",
        folder / "test_confusion.png",
        report,
        labels.numpy(),
        probabilities,
        f"test set, {size}x{size}",
    )
    data = report.to_data()
    _append_metrics(layout.metrics_path, {"event": "test", "stage": stage, "size": size, **data})
    return data


def _epoch_record(
    stage: int,
    size: int,
    epoch: int,
    epochs: int,
    alpha: float,
    sums: dict[str, torch.Tensor],
    batches: int,
    logits: dict[str, list[torch.Tensor]],
    seconds: float,
    image_count: int,
) -> dict[str, Any]:
    labels = torch.cat(logits["labels"]).cpu().numpy()
    record: dict[str, Any] = {
        "event": "epoch",
        "stage": stage,
        "size": size,
        "epoch": epoch,
        "epochs": epochs,
    }
    record["alpha"] = alpha
    record.update({name: float(total) / batches for name, total in sums.items()})
    for kind in ("real", "fake"):
        probabilities = torch.softmax(torch.cat(logits[kind]).float(), dim=1).cpu().numpy()
        record[f"auc_{kind}"] = one_vs_rest_auc(labels, probabilities)[1]
    record["seconds"] = seconds
    record["images_per_s"] = image_count / seconds if seconds > 0 else float("nan")
    return record


def _display(sums: dict[str, torch.Tensor], batches: int) -> dict[str, float]:
    if "d_loss" not in sums:
        return {}
    return {"d_loss": float(sums["d_loss"]) / batches, "g_loss": float(sums["g_loss"]) / batches}


@torch.no_grad()
def _save_samples(
    networks: Networks,
    z: torch.Tensor,
    labels: torch.Tensor,
    alpha: float,
    stage: int,
    config: TrainingConfig,
    folder: Path,
    epoch: int,
) -> None:
    """A grid with one row per class from fixed latents, so epochs can be compared."""
    generators = {"samples": networks.generator}
    if networks.ema is not None:
        generators["samples_ema"] = networks.ema
    for prefix, generator in generators.items():
        was_training = generator.training
        generator.eval()
        images = generator(z, labels, alpha, stage).float().cpu().numpy()
        generator.train(was_training)
        size = stage_size(stage)
        title = f"{size}x{size}, epoch {epoch}, alpha {alpha:.2f}"
        figures.save_sample_grid(images, config.class_size, folder / f"{prefix}_epoch_{epoch:04d}.png", title)


def _save_curves(
    records: list[dict[str, Any]], folder: Path, best_epoch: int | None, config: TrainingConfig
) -> None:
    figures.save_curves(
        records,
        folder / "losses.png",
        {"d_loss": "critic loss", "g_loss": "generator loss"},
        "losses",
        best_epoch,
    )
    figures.save_curves(
        records,
        folder / "loss_terms.png",
        {
            "d_real": "-E[D(x)]",
            "d_fake": "E[D(G(z))]",
            "cls_real": "CE real",
            "cls_fake": "CE fake",
            "gp": "gradient penalty",
        },
        "critic loss terms (unweighted)",
        best_epoch,
    )
    figures.save_curves(
        records,
        folder / "auc.png",
        {
            "auc_real": "train real",
            "auc_fake": "train fake",
            "val_auc_real": "validation real",
            "val_auc_fake": "validation fake",
        },
        "auxiliary classifier ROC AUC",
        best_epoch,
    )


def _start_stage(config: TrainingConfig, layout: RunLayout, resuming: bool) -> int:
    """The first stage to train: 0, the configured start size, or after the last finished stage."""
    if not resuming:
        return 0
    if config.load_model:
        return config.start_stage
    finished = [
        stage
        for stage in range(config.num_stages)
        if any(
            (layout.model_stage(stage_size(stage)) / f"generator_{tag}.pt").is_file()
            for tag in ("last", "best")
        )
    ]
    if not finished:
        raise InputError(
            f"{layout.model_directory}: no finished stage to resume from; start without --resume"
        )
    if finished[-1] + 1 >= config.num_stages:
        raise InputError(
            f"{layout.model_directory}: every stage is already trained; use --start-size to train a stage again"
        )
    return finished[-1] + 1


def _epochs_per_stage(config: TrainingConfig, mode: str) -> list[int]:
    """Configured epochs, or in test mode (with test_using_best_model) the best epochs of the validation run."""
    if mode != "test" or not config.test_using_best_model:
        return list(config.progressive_epochs)
    source = Path(config.best_epochs_from or config.model_directory)
    epochs = []
    for stage in range(config.num_stages):
        size = stage_size(stage)
        path = source / f"PACGAN_{size}x{size}" / "generator_best.pt"
        if not path.is_file():
            raise InputError(
                f"{path}: not found; test mode with test_using_best_model reads each stage's best epoch from the "
                "validation run (set best_epochs_from, or test_using_best_model: false)"
            )
        epochs.append(max(1, int(read_checkpoint_file(path).get("epoch", 1))))
    return epochs


def _prepare_run_folder(layout: RunLayout, resuming: bool, force: bool) -> None:
    """Refuse to mix a new run into an old one unless resuming; with --force, remove the old run's files."""
    existing = layout.result_paths()
    if existing and not resuming:
        if not force:
            raise OutputExistsError(
                f"{layout.model_directory} already holds a training run ({existing[0].name}); "
                "pass --resume to continue it or --force to start over"
            )
        for path in existing:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    layout.model_directory.mkdir(parents=True, exist_ok=True)
    layout.image_directory.mkdir(parents=True, exist_ok=True)


def _load_handover(
    networks: Networks, layout: RunLayout, size: int, handover: str, device: torch.device
) -> None:
    """Load the previous stage's networks (and optimiser states, and the EMA) to resume at the next stage."""
    folder = layout.model_stage(size)
    for name, model, optimizer in (
        ("generator", networks.generator, networks.generator_optimizer),
        ("discriminator", networks.discriminator, networks.critic_optimizer),
    ):
        candidates = [
            folder / f"{name}_{handover}.pt",
            folder / f"{name}_{'best' if handover == 'last' else 'last'}.pt",
        ]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise InputError(f"{candidates[0]}: not found; the run has no {size}x{size} stage to resume from")
        loaded = load_checkpoint(path, expected_kind=name)
        if _shape_of(loaded.architecture, name) != _shape_of(networks.architecture, name):
            raise InputError(
                f"{path}: its architecture {loaded.architecture} differs from the configuration's"
            )
        model.load_state_dict(loaded.model.state_dict())
        if loaded.optimizer_state is not None:
            optimizer.load_state_dict(loaded.optimizer_state)
        if name == "generator" and networks.ema is not None:
            ema_path = folder / f"generator_{handover}_ema.pt"
            source = load_checkpoint(ema_path).model if ema_path.is_file() else networks.generator
            networks.ema.load_state_dict(source.state_dict())
    networks.generator.to(device)
    networks.discriminator.to(device)


def _shape_of(architecture: NetworkArchitecture, kind: str) -> tuple[Any, ...]:
    shape = (
        architecture.base_channels,
        architecture.factors,
        architecture.image_channels,
        architecture.num_classes,
    )
    return (*shape, architecture.latent_size, architecture.embedding_size) if kind == GENERATOR else shape


def _keep_metrics_before(path: Path, start: int) -> None:
    """On resume, drop metric lines of the stages about to be trained again."""
    if not path.is_file():
        return
    kept = [
        line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["stage"] < start
    ]
    write_text_atomic(path, "".join(line + "\n" for line in kept))


def _append_metrics(path: Path, record: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(json_ready(record), allow_nan=False) + "\n")
        handle.flush()


def _write_summary(
    layout: RunLayout, config: TrainingConfig, mode: str, device: torch.device, result: TrainResult
) -> None:
    previous = json.loads(layout.summary_path.read_text()) if layout.summary_path.is_file() else {}
    stages = previous.get("stages", {})
    for stage in result.stages:
        stages[f"{stage.size}x{stage.size}"] = stage.__dict__
    summary = {"mode": mode, "device": str(device), "seed": config.seed, "stages": stages}
    write_json_atomic(layout.summary_path, summary)


def _format(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
