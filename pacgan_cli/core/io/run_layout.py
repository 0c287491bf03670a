"""Every path of a training run folder, defined once: training writes them, inference, evaluation and the
command line read them, and `--force` clears exactly them. Also the record of the run `pacgan train` last
trained from a folder (`.pacgan/last_run.json`), which `generate` and `classify` use without `--model`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from pacgan_cli.core.errors import ConfigError, InputError, error_reason
from pacgan_cli.core.stages import stage_size

SNAPSHOT_TAGS = ("last", "best")
GENERATED_FOLDER = "generated"
EVALUATION_FOLDER = "evaluation"
LAST_RUN_RECORD = Path(".pacgan") / "last_run.json"


def calibration_path(checkpoint: str | os.PathLike[str]) -> Path:
    """The temperature fitted for a discriminator checkpoint, beside it (`discriminator_best.pt` ->
    `discriminator_best.calibration.json`): inside a stage folder, so `--force` clears it with the stage."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(f"{checkpoint.stem}.calibration.json")


@dataclass(frozen=True)
class StageCheckpointPaths:
    """Where one snapshot of a stage is written: generator, discriminator and (with EMA) the averaged generator."""

    generator: Path
    discriminator: Path
    ema: Path


@dataclass(frozen=True)
class RunLayout:
    """Where a run writes: checkpoints under `model_directory`, pictures under `image_directory`
    (the published MODEL_DIRECTORY / IMAGE_DIRECTORY), one `PACGAN_{S}x{S}` folder per stage in each."""

    model_directory: Path
    image_directory: Path

    @classmethod
    def for_training(
        cls, model_directory: str, image_directory: str, test_mode: bool, output: Path | None = None
    ) -> RunLayout:
        """`output` holds everything when given; otherwise the config's directories (published test mode
        writes to `<dir>_test`, as the published code does)."""
        if output is not None:
            return cls(Path(output), Path(output))
        suffix = "_test" if test_mode else ""
        return cls(Path(model_directory + suffix), Path(image_directory + suffix))

    def model_stage(self, size: int) -> Path:
        return self.model_directory / f"PACGAN_{size}x{size}"

    def image_stage(self, size: int) -> Path:
        return self.image_directory / f"PACGAN_{size}x{size}"

    def checkpoint(self, size: int, network: str, tag: str) -> Path:
        """`{network}_{tag}.pt` in the stage's model folder; network is generator, discriminator or ema."""
        if network == "ema":
            return self.model_stage(size) / f"generator_{tag}_ema.pt"
        return self.model_stage(size) / f"{network}_{tag}.pt"

    def checkpoints(self, size: int, tag: str) -> StageCheckpointPaths:
        return StageCheckpointPaths(
            generator=self.checkpoint(size, "generator", tag),
            discriminator=self.checkpoint(size, "discriminator", tag),
            ema=self.checkpoint(size, "ema", tag),
        )

    @property
    def config_path(self) -> Path:
        return self.model_directory / "config.yaml"

    @property
    def metrics_path(self) -> Path:
        return self.model_directory / "metrics.jsonl"

    @property
    def summary_path(self) -> Path:
        return self.model_directory / "summary.json"

    @property
    def progress_path(self) -> Path:
        """The resume checkpoint inside a stage (both networks, optimisers, RNG states, position)."""
        return self.model_directory / "resume.pt"

    @property
    def log_path(self) -> Path:
        """Timestamped plain lines of what the run said, for reading after the fact."""
        return self.model_directory / "train.log"

    @property
    def lock_path(self) -> Path:
        return self.model_directory / ".pacgan.lock"

    @property
    def tensorboard_path(self) -> Path:
        """TensorBoard's event files (with `tensorboard: true`): `tensorboard --logdir RUN/tensorboard`."""
        return self.model_directory / "tensorboard"

    @property
    def end_of_run(self) -> EvaluationLayout:
        """The images generated at the end of the run and their evaluation (published GENERATE)."""
        return EvaluationLayout(self.image_directory)

    def sample_grid_path(self, size: int, kind: str, epoch: int) -> Path:
        """`samples` or `samples_ema` of one epoch: `samples_epoch_0001.png`."""
        return self.image_stage(size) / f"{kind}_epoch_{epoch:04d}.png"

    def stage_marker(self, size: int) -> Path:
        """Written last, when every file of the stage is complete: a stage without it is unfinished."""
        return self.model_stage(size) / "stage_complete.json"

    def finished_stages(self, num_stages: int) -> list[int]:
        """Stages whose marker exists; in runs made before markers, stages with both networks' checkpoints."""
        sizes = [stage_size(stage) for stage in range(num_stages)]
        if any(self.stage_marker(size).is_file() for size in sizes) or self.progress_path.is_file():
            return [stage for stage, size in enumerate(sizes) if self.stage_marker(size).is_file()]
        return [
            stage
            for stage, size in enumerate(sizes)
            if any(
                self.checkpoint(size, "generator", tag).is_file()
                and self.checkpoint(size, "discriminator", tag).is_file()
                for tag in SNAPSHOT_TAGS
            )
        ]

    def how_to_go_on(self, num_stages: int) -> str:
        """What to run after the run stopped on a problem that is fixed now: resume it when a finished stage or
        a resume checkpoint is kept, otherwise start it again."""
        if not (self.finished_stages(num_stages) or self.progress_path.is_file()):
            return "run the same command again with --force"
        return f"resume with: {self.resume_command()}"

    def resume_command(self) -> str:
        """The command that continues this run (`--output` only names a run whose folders are one)."""
        if self.model_directory == self.image_directory:
            return f"pacgan train --resume --output {self.model_directory}"
        return "pacgan train --resume with the same config"

    def result_paths(self) -> list[Path]:
        """Everything a run writes, for the overwrite guard and --force (links too, dangling or not)."""
        fixed = [
            self.config_path,
            self.metrics_path,
            self.summary_path,
            self.progress_path,
            self.tensorboard_path,
            self.end_of_run.generated_directory,
            self.end_of_run.evaluation_directory,
        ]
        stages = [*self.model_directory.glob("PACGAN_*x*"), *self.image_directory.glob("PACGAN_*x*")]
        return [path for path in dict.fromkeys([*fixed, *stages]) if path.exists() or path.is_symlink()]


@dataclass(frozen=True)
class EvaluationLayout:
    """Generated images and their evaluation under one folder: `generated/Synthetic{S}x{S}.nii.gz` with
    `generated/labels_syn.csv`, and `evaluation/` with report.md (the end of a run, `generate_and_evaluate`)."""

    directory: Path

    @property
    def generated_directory(self) -> Path:
        return self.directory / GENERATED_FOLDER

    def generated_stack(self, size: int) -> Path:
        return self.generated_directory / f"Synthetic{size}x{size}.nii.gz"

    @property
    def generated_labels(self) -> Path:
        return self.generated_directory / "labels_syn.csv"

    @property
    def evaluation_directory(self) -> Path:
        return self.directory / EVALUATION_FOLDER

    @property
    def report_path(self) -> Path:
        return self.evaluation_directory / "report.md"


def record_last_run(layout: RunLayout, folder: str | os.PathLike[str] = ".") -> Path:
    """Write `folder/.pacgan/last_run.json`: this run is the one `pacgan train` last trained from `folder`
    (the current folder of the command), so that `generate` and `classify` run there without `--model` use
    it. The run's directories are stored as training used them (relative ones are relative to `folder`)."""
    from pacgan_cli.core.io.atomic import write_json_atomic

    path = Path(folder) / LAST_RUN_RECORD
    write_json_atomic(
        path,
        {"model_directory": str(layout.model_directory), "image_directory": str(layout.image_directory)},
    )
    return path


def last_run(folder: str | os.PathLike[str] = ".") -> RunLayout:
    """The run `pacgan train` last trained from `folder` (`record_last_run`); a ConfigError when there is no
    record (give `--model`), an InputError when it is damaged or the run's folder is gone."""
    path = Path(folder) / LAST_RUN_RECORD
    if not path.is_file():
        raise ConfigError(
            f"no --model given, and no run of `pacgan train` is recorded here ({path} not found); pass --model "
            "RUN_FOLDER (or a checkpoint file), or run this from the folder you ran `pacgan train` in"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        layout = RunLayout(Path(folder) / data["model_directory"], Path(folder) / data["image_directory"])
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise InputError(
            f"{path}: cannot be read ({error_reason(error)}); pass --model RUN_FOLDER, or train again to record the run"
        ) from error
    if not layout.model_directory.is_dir():
        raise InputError(
            f"{layout.model_directory}: the run recorded in {path} is gone; pass --model RUN_FOLDER"
        )
    return layout
