"""`pacgan generate`: class-conditional images from a trained generator, written as a NIfTI stack."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.core import TyperCommand

from pacgan_cli.cli.options import (
    ClassNamesOption,
    CompileOption,
    DeviceOption,
    ForceOption,
    PrecisionOption,
    QuietOption,
    ThreadsOption,
    class_name_list,
)
from pacgan_cli.core.errors import ConfigError


class GenerateCommand(TyperCommand):
    """The usage line leaves out the hidden argument that collects the further counts of `--per-class`."""

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for parameter in self.get_params(ctx):
            if not getattr(parameter, "hidden", False):
                pieces.extend(parameter.get_usage_pieces(ctx))
        return pieces


def generate_command(
    model: Path | None = typer.Option(
        None,
        "--model",
        "-m",
        help="Generator checkpoint (ours or the published format), or a run folder: its largest stage's "
        "generator_best.pt (default: the run `pacgan train` last trained from this folder).",
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Stack to write (.nii.gz); its labels go beside it as <stem>_labels.csv (default: a new "
        "synthetic_<n>.nii.gz in the run's generated/ folder, or here for a checkpoint file).",
    ),
    labels_output: Path | None = typer.Option(
        None,
        "--labels-output",
        help="Labels CSV to write instead (ID, Label; e.g. labels_syn.csv, the published name).",
    ),
    per_class: str | None = typer.Option(
        None,
        "--per-class",
        help="Images per class: --per-class 100 100 (or 100,100), classes in order 0, 1, ...",
    ),
    total: int | None = typer.Option(
        None,
        "--total",
        help="Total images, split evenly over the classes (the remainder goes to the last class).",
    ),
    more_counts: list[int] | None = typer.Argument(None, hidden=True, help="Further --per-class counts."),
    size: int | None = typer.Option(
        None, "--size", help="Image size (default: the largest the checkpoint reached)."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same images."),
    batch_size: int = typer.Option(
        64, "--batch-size", help="Images per forward pass; does not change the images."
    ),
    preview: Path | None = typer.Option(None, "--preview", help="Also write a PNG grid, one row per class."),
    class_names: list[str] | None = ClassNamesOption,
    device: str = DeviceOption,
    threads: int | None = ThreadsOption,
    precision: str | None = PrecisionOption,
    compile_model: bool = CompileOption,
    force: bool = ForceOption,
    quiet: bool = QuietOption,
) -> None:
    """Generate images with a trained generator; the labels (ID, Label) go beside the stack."""
    from pacgan_cli.cli.progress import progress_reporter
    from pacgan_cli.core.inference import GenerationRequest, InferenceSettings, generate

    request = GenerationRequest(
        model,
        output,
        total=total,
        per_class=_per_class_counts(per_class, more_counts or []),
        labels_output=labels_output,
        preview=preview,
        class_names=class_name_list(class_names),
        size=size,
        seed=seed,
        force=force,
    )
    settings = InferenceSettings(batch_size, device, precision or "fp32", compile_model, threads)
    with progress_reporter(quiet) as reporter:
        outcome = generate(request, settings, reporter)
    for line in outcome.summary_lines():
        typer.echo(line)
    for path in outcome.files:
        typer.echo(f"wrote {path}")


def _per_class_counts(per_class: str | None, more_counts: list[int]) -> tuple[int, ...] | None:
    """`--per-class 100 100` or `--per-class 100,100` -> the counts; None without the option."""
    if per_class is None:
        if more_counts:
            raise ConfigError(f"unexpected numbers {more_counts}; per-class counts follow --per-class")
        return None
    try:
        counts = [int(part) for part in per_class.replace(",", " ").split()]
    except ValueError as error:
        raise ConfigError(f"--per-class takes whole numbers; got {per_class!r}") from error
    return (*counts, *more_counts)
