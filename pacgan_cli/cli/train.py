"""`pacgan train`: progressive AC-WGAN-GP training, one stage per image size."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from pacgan_cli.cli.options import ForceOption, PrecisionOption, QuietOption, SeedOption, ThreadsOption
from pacgan_cli.core.config import build_config, config_to_yaml, raw_settings
from pacgan_cli.core.config_rules import STAGE_HANDOVERS
from pacgan_cli.core.errors import ConfigError
from pacgan_cli.core.presets import preset_settings


def train_command(
    config: Path | None = typer.Option(
        None, "--config", "-c", help="YAML config, or the published config.json as it is."
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Run folder for everything (default: the config's model/image directories).",
    ),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Check the data folders and labels as a run would, print the resolved configuration and exit.",
    ),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Continue an existing run where it stopped (its resume.pt, else after its last finished stage).",
    ),
    start_size: int | None = typer.Option(
        None, "--start-size", help="With --resume: restart at this image size, from the stage before it."
    ),
    epochs: int | None = typer.Option(
        None, "--epochs", help="Epochs for every stage (overrides the config)."
    ),
    stage_handover: str | None = typer.Option(
        None, "--stage-handover", help="Weights each stage starts from: last (published behaviour) or best."
    ),
    ema: bool | None = typer.Option(None, "--ema/--no-ema", help="Keep an exponential moving average of G."),
    tensorboard: bool | None = typer.Option(
        None,
        "--tensorboard/--no-tensorboard",
        help="Also log the metrics and sample grids for TensorBoard (RUN/tensorboard; needs pip install tensorboard).",
    ),
    precision: str | None = PrecisionOption,
    augment: str | None = typer.Option(
        None,
        "--augment",
        help="Augment what the critic sees, for small data: none (published), diffaugment or ada.",
    ),
    preset: str | None = typer.Option(
        None,
        "--preset",
        help="published (the paper's method) or small-data (docs/small-data.md); explicit settings win.",
    ),
    aux_head: str | None = typer.Option(
        None, "--aux-head", help="The critic's classifier: acgan (published), tac or adc."
    ),
    classifier_data: str | None = typer.Option(
        None, "--classifier-data", help="Images the critic's classifier learns from: real_and_fake or real."
    ),
    conditioning_ramp: float | None = typer.Option(
        None, "--conditioning-ramp", help="Stages over which the classification weights grow from 0."
    ),
    gp_interval: int | None = typer.Option(
        None, "--gp-interval", help="The gradient penalty on one critic step in N, weighted by N (lazy)."
    ),
    compile_networks: bool | None = typer.Option(
        None, "--compile/--no-compile", help="torch.compile the training steps (pays off for long stages)."
    ),
    seed: int | None = SeedOption,
    device: str | None = typer.Option(
        None, "--device", help="auto, cpu, cuda, cuda:N or auto:N (default: the config's)."
    ),
    threads: int | None = ThreadsOption,
    force: bool = ForceOption,
    quiet: bool = QuietOption,
) -> None:
    """Train the generator and discriminator progressively (4x4 up to the largest size)."""
    if stage_handover is not None and stage_handover not in STAGE_HANDOVERS:
        raise ConfigError(f"--stage-handover must be last or best; got {stage_handover!r}")
    if start_size is not None and not resume:
        raise ConfigError("--start-size restarts an existing run; add --resume")
    overrides = {
        "seed": seed,
        "device": device,
        "stage_handover": stage_handover,
        "ema": ema,
        "precision": precision,
        "augment": augment,
        "compile": compile_networks,
        "tensorboard": tensorboard,
        "preset": preset,
        "aux_head": aux_head,
        "classifier_data": classifier_data,
        "conditioning_ramp": conditioning_ramp,
        "gp_interval": gp_interval,
    }
    if epochs is not None:
        overrides["progressive_epochs"] = epochs
    if start_size is not None:
        overrides["load_model"] = True
        overrides["start_train_at_img_size"] = start_size
    elif resume:  # continue where the run stopped, though its config.yaml records a --start-size restart
        overrides["load_model"] = False
    if config is None and resume and output is not None and (output / "config.yaml").is_file():
        config = output / "config.yaml"
    raw = raw_settings(config, overrides)
    resolved = build_config(raw, source=str(config) if config else "options")
    if dry_run:
        from pacgan_cli.core.training.state import check_inputs

        checked = check_inputs(resolved)
        chosen = preset_settings(raw)
        if chosen:
            shown = ", ".join(f"{key}: {value}" for key, value in chosen.items())
            typer.echo(f"# preset {resolved.preset} set: {shown}")
        typer.echo(config_to_yaml(resolved), nl=False)
        typer.echo(checked.summary_line(), err=True)
        return

    from pacgan_cli.cli.progress import progress_reporter
    from pacgan_cli.core.runtime import use_threads
    from pacgan_cli.core.training.loop import train

    use_threads(threads, resolved.in_channels)  # the count is in training's first line
    main_process = os.environ.get("RANK", "0") == "0"  # under torchrun, rank 0 alone shows progress
    with progress_reporter(quiet or not main_process) as reporter:
        result = train(resolved, reporter, output=output, resume=resume, force=force, record_in=".")
    if result.rank != 0:
        return
    typer.echo(f"run folder: {result.run_directory}")
    for line in result.summary_lines():
        typer.echo(line)
