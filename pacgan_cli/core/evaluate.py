"""Evaluate synthetic images against real ones and write `metrics.json` and `report.md`.

The metrics form a registry (`METRICS`, name -> function) that the command line offers as choices.
InceptionV3 features are computed once per image set and shared by FID and KID; real-real and
fake-fake baselines compare two class-stratified random halves of one set (the published code compared
a set with itself, which gives FID 0 by construction and says nothing).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pacgan_cli.core.classes import (
    PUBLISHED_AUC,
    class_legend,
    class_titles,
    is_adni_like,
    resolve_class_names,
)
from pacgan_cli.core.errors import ConfigError, InputError
from pacgan_cli.core.intensity import check_unit_range, read_unit_stack
from pacgan_cli.core.io.atomic import ensure_can_write, write_json_atomic, write_text_atomic
from pacgan_cli.core.io.nifti import nifti_stem
from pacgan_cli.core.io.tables import read_labels
from pacgan_cli.core.metrics import artifacts, fidelity, memorisation, plots, similarity
from pacgan_cli.core.metrics.classification import classification_report
from pacgan_cli.core.models.checkpoint import DISCRIMINATOR, GENERATOR, LoadedCheckpoint, load_checkpoint
from pacgan_cli.core.progress import Reporter, SilentReporter
from pacgan_cli.core.stages import STAGE_FILE_PATTERN, size_to_stage, stage_file_name, stage_size

MISSING_WEIGHTS_ERROR = "error"
MISSING_WEIGHTS_SKIP = "skip"


@dataclass(frozen=True)
class ImageSet:
    """Images `[N, C, S, S]` in [-1, 1] with their class labels `[N]`, and where they came from."""

    images: np.ndarray
    labels: np.ndarray
    source: str

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])

    def counts(self, num_classes: int) -> list[int]:
        return [int(c) for c in np.bincount(self.labels, minlength=num_classes)]

    def subset(self, rows: np.ndarray, part: str) -> ImageSet:
        """The images at positions `rows`, named after `part` (e.g. a validation fold of a training folder)."""
        return ImageSet(self.images[rows], self.labels[rows], f"{self.source} ({part})")


@dataclass(frozen=True)
class EvaluationOptions:
    """How the metrics are computed; the defaults follow the published evaluation where it has one."""

    ssim_pairs: int = 1000
    seed: int = 0
    kid_subset_size: int = 1000
    kid_subsets: int = 100
    resize: str = "antialias"
    inception_weights: str | None = None
    missing_weights: str = MISSING_WEIGHTS_ERROR
    feature_batch_size: int = 32
    memorisation_quantile: float = 0.05
    copy_tolerance: float = 0.02
    closest_pairs: int = 8
    artifact_tolerance: float = 0.1
    class_names: tuple[str, ...] = ()  # for the report and figures (default: the discriminator's config)


@dataclass
class EvaluationReport:
    """What `evaluate` measured (`data`, also in metrics.json) and the files it wrote."""

    output_directory: Path
    data: dict[str, Any]
    markdown: str
    files: list[Path]
    skipped: dict[str, str]

    @property
    def report_path(self) -> Path:
        return self.output_directory / "report.md"

    def summary_lines(self) -> list[str]:
        """A few headline numbers for the terminal."""
        lines = []
        sections = self.data["metrics"]
        if "fid" in sections:
            lines.append(f"FID real-fake {_number(sections['fid']['real_fake'])}")
        if "kid" in sections:
            lines.append(f"KID real-fake {_number(sections['kid']['real_fake']['mean'], 5)}")
        if "ssim" in sections:
            lines.append(f"SSIM real-fake {_number(sections['ssim']['real_fake']['mean'])}")
        if "memorisation" in sections:
            m = sections["memorisation"]
            lines.append(
                f"memorisation: {m['flagged_fraction']:.1%} of synthetic images below the real "
                f"{m['quantile']:.0%} quantile, {len(m['copies'])} near-copies"
            )
        if "artifacts" in sections:
            found = sections["artifacts"]
            lines.append(
                f"artifacts: {found['flagged_count']} pixel(s) of the mean synthetic image outside every "
                f"real value by more than {found['tolerance']}"
            )
        if "classification" in sections:
            real = sections["classification"]["real"]
            lines.append(
                f"classifier on real images: AUC {_number(real['auc_macro'])}, accuracy {real['accuracy']:.3f}"
            )
        lines.extend(f"skipped {name}: {why}" for name, why in self.skipped.items())
        return lines


@dataclass
class _Section:
    data: dict[str, Any]
    markdown: list[str]
    files: list[Path] = field(default_factory=list)


@dataclass
class _Context:
    real: ImageSet
    fake: ImageSet
    train: ImageSet | None
    discriminator: LoadedCheckpoint | None
    options: EvaluationOptions
    output_directory: Path
    num_classes: int
    device: torch.device | str
    reporter: Reporter
    extractor: torch.nn.Module | None = None
    feature_cache: dict[str, np.ndarray] = field(default_factory=dict)
    class_names: tuple[str, ...] = ()

    @property
    def class_titles(self) -> list[str]:
        return class_titles(self.class_names, self.num_classes)

    def features(self, which: str) -> np.ndarray:
        """InceptionV3 features of the real or fake set, computed once."""
        if which not in self.feature_cache:
            self.reporter.message(f"evaluate: InceptionV3 features of the {which} images")
            images = self.real.images if which == "real" else self.fake.images
            self.feature_cache[which] = fidelity.extract_features(
                images, self.extractor, self.options.feature_batch_size, self.device
            )
        return self.feature_cache[which]

    def halves(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """Two class-stratified random halves of a set (indices), for the same-set baseline."""
        labels = (self.real if which == "real" else self.fake).labels
        rng = np.random.default_rng(self.options.seed)
        first, second = [], []
        for k in range(self.num_classes):
            members = rng.permutation(np.flatnonzero(labels == k))
            first.append(members[: len(members) // 2])
            second.append(members[len(members) // 2 :])
        return np.concatenate(first), np.concatenate(second)

    def comparisons(self) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """(name, features A, labels A, features B, labels B) for real-real, real-fake and fake-fake."""
        real, fake = self.features("real"), self.features("fake")
        real_a, real_b = self.halves("real")
        fake_a, fake_b = self.halves("fake")
        return [
            ("real_real", real[real_a], self.real.labels[real_a], real[real_b], self.real.labels[real_b]),
            ("real_fake", real, self.real.labels, fake, self.fake.labels),
            ("fake_fake", fake[fake_a], self.fake.labels[fake_a], fake[fake_b], self.fake.labels[fake_b]),
        ]


def evaluate(
    real: ImageSet,
    fake: ImageSet,
    output_directory: str | os.PathLike[str],
    *,
    metrics: Sequence[str] | None = None,
    train: ImageSet | None = None,
    discriminator: LoadedCheckpoint | None = None,
    options: EvaluationOptions | None = None,
    device: torch.device | str = "cpu",
    reporter: Reporter | None = None,
    force: bool = False,
) -> EvaluationReport:
    """Measure `fake` against `real` with the chosen metrics (default: all that the inputs allow).

    FID/KID need the InceptionV3 weights: when absent, `options.missing_weights` decides between an
    error (one line saying where to get them) and skipping them with the reason in the report.
    Memorisation uses `train` as the training set (and `real` as held-out images); without `train`, the
    real set stands in for it. Classification needs `discriminator`.
    """
    options = options or EvaluationOptions()
    reporter = reporter or SilentReporter()
    output_directory = Path(output_directory)
    chosen = list(metrics) if metrics else default_metrics(discriminator is not None)
    unknown = [name for name in chosen if name not in METRICS]
    if unknown:
        raise ConfigError(f"unknown metric {unknown[0]!r}; choose from {', '.join(METRICS)}")
    if "classification" in chosen and discriminator is None:
        raise ConfigError("the classification metric needs a discriminator; pass --discriminator D.pt")
    num_classes = _check_sets(real, fake, train, discriminator)
    if "classification" in chosen and train is None:
        _check_stored_statistic(discriminator, real.size)
    ensure_can_write(output_directory / "metrics.json", output_directory / "report.md", force=force)
    skipped: dict[str, str] = {}
    context = _Context(
        real, fake, train, discriminator, options, output_directory, num_classes, device, reporter
    )
    context.class_names = resolve_class_names(
        options.class_names, discriminator.config if discriminator else None, num_classes
    )
    wants_inception = bool({"fid", "kid"} & set(chosen))
    # A weights file that was named must exist even when FID/KID are not asked for.
    named_or_needed = wants_inception or options.inception_weights is not None
    weights = fidelity.find_inception_weights(options.inception_weights) if named_or_needed else None
    if wants_inception and weights is not None:
        context.extractor = fidelity.build_inception_extractor(weights, options.resize)
    elif wants_inception:
        if options.missing_weights != MISSING_WEIGHTS_SKIP:
            raise InputError(fidelity.missing_weights_message())
        for name in ("fid", "kid"):
            if name in chosen:
                chosen.remove(name)
                skipped[name] = (
                    f"InceptionV3 weights not found; put {fidelity.INCEPTION_URL} at "
                    f"{fidelity.inception_cache_path()} to compute it"
                )
    output_directory.mkdir(parents=True, exist_ok=True)
    sections: dict[str, _Section] = {}
    for name in chosen:
        reporter.message(f"evaluate: {name}")
        sections[name] = METRICS[name](context)
    samples = _sample_figure(context)
    data = {
        "inputs": {
            "real": real.source,
            "fake": fake.source,
            "train": train.source if train else None,
            "discriminator": str(discriminator.path) if discriminator else None,
            "image_size": real.size,
            "real_per_class": real.counts(num_classes),
            "fake_per_class": fake.counts(num_classes),
            "class_names": list(context.class_names),
        },
        "settings": _settings_data(options, chosen),
        "metrics": {name: section.data for name, section in sections.items()},
        "skipped": skipped,
    }
    markdown = _markdown(data, sections, skipped, samples)
    json_path = output_directory / "metrics.json"
    write_json_atomic(json_path, data)
    write_text_atomic(output_directory / "report.md", markdown)
    files = [json_path, output_directory / "report.md", samples]
    files += [path for section in sections.values() for path in section.files]
    return EvaluationReport(output_directory, data, markdown, files, skipped)


def default_metrics(with_discriminator: bool) -> list[str]:
    """Every metric, classification only when there is a discriminator to classify with."""
    return [name for name in METRICS if with_discriminator or name != "classification"]


def load_image_set(
    path: str | os.PathLike[str],
    labels: str | os.PathLike[str] | None = None,
    *,
    size: int | None = None,
    role: str = "real",
) -> ImageSet:
    """Read images and labels from a folder (`Real{S}x{S}.nii.gz` + `labels.csv`) or a stack file.

    For a folder, `size` picks the file (default: the largest there). For a stack without `labels`, the
    labels file beside it is used: its own `<stem>_labels.csv` (what `pacgan generate` writes), else
    `labels_syn.csv` first for synthetic images, else `labels.csv`. Only images listed in the labels file
    are kept, in ID order. The images must be in [-1, 1] (`check_unit_range`).
    """
    path = Path(path)
    option = "--fake-labels" if role == "fake" else f"--{role}-labels"
    if path.is_dir():
        stack = _stage_file(path, size)
        labels_path = Path(labels) if labels is not None else path / "labels.csv"
    else:
        stack = path
        if labels is not None:
            labels_path = Path(labels)
        else:
            shared = ("labels_syn.csv", "labels.csv") if role == "fake" else ("labels.csv", "labels_syn.csv")
            names = (f"{nifti_stem(path)}_labels.csv", *shared)
            found = [path.parent / name for name in names if (path.parent / name).is_file()]
            if not found:
                raise InputError(f"{path}: no {', '.join(names)} beside it; pass {option} LABELS.csv")
            labels_path = found[0]
    images = read_unit_stack(stack, expected_size=size)
    table = read_labels(labels_path, image_count=len(images), require_subject=False)
    ids = table["ID"].to_numpy()
    return ImageSet(images=images[ids], labels=table["Label"].to_numpy(np.int64), source=str(stack))


def generate_and_evaluate(
    generator_path: str | os.PathLike[str],
    counts: Sequence[int],
    test_images: str | os.PathLike[str] | ImageSet,
    output_directory: str | os.PathLike[str],
    *,
    test_labels: str | os.PathLike[str] | None = None,
    train_images: str | os.PathLike[str] | ImageSet | None = None,
    train_labels: str | os.PathLike[str] | None = None,
    discriminator_path: str | os.PathLike[str] | None = None,
    seed: int = 0,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    options: EvaluationOptions | None = None,
    reporter: Reporter | None = None,
    force: bool = False,
) -> EvaluationReport:
    """The end of a training run: generate `counts` images with the final generator, evaluate them.

    Writes `generated/Synthetic{S}x{S}.nii.gz` + `generated/labels_syn.csv` and the report in
    `evaluation/` under `output_directory`. FID/KID are skipped (and the report says why) when the
    InceptionV3 weights are absent, so a long run never fails at its very end for want of them.
    `test_images` and `train_images` are folders or stacks, or image sets already read (a validation run
    passes its held-out fold and training part, so that it never reads the test set).
    """
    from pacgan_cli.core.inference import generate_images, resolve_stage, save_generation

    reporter = reporter or SilentReporter()
    output_directory = Path(output_directory)
    options = options or EvaluationOptions(seed=seed, missing_weights=MISSING_WEIGHTS_SKIP)
    generator = load_checkpoint(generator_path, expected_kind=GENERATOR)
    size = stage_size(resolve_stage(generator, None))
    # Every input is read before the first image is generated, so a bad path fails before any work.
    real = (
        test_images
        if isinstance(test_images, ImageSet)
        else load_image_set(test_images, test_labels, size=size, role="real")
    )
    train = (
        train_images
        if isinstance(train_images, ImageSet) or train_images is None
        else load_image_set(train_images, train_labels, size=size, role="train")
    )
    discriminator = (
        load_checkpoint(discriminator_path, expected_kind=DISCRIMINATOR)
        if discriminator_path is not None
        else None
    )
    result = generate_images(
        generator, counts, seed=seed, batch_size=batch_size, device=device, reporter=reporter
    )
    stack_path = output_directory / "generated" / f"Synthetic{size}x{size}.nii.gz"
    save_generation(result, stack_path, labels=stack_path.parent / "labels_syn.csv", force=force)
    fake = ImageSet(result.images, result.labels, str(stack_path))
    return evaluate(
        real,
        fake,
        output_directory / "evaluation",
        train=train,
        discriminator=discriminator,
        options=options,
        device=device,
        reporter=reporter,
        force=force,
    )


def _fid(context: _Context) -> _Section:
    data: dict[str, Any] = {}
    for name, features_a, _, features_b, _ in context.comparisons():
        data[name] = fidelity.frechet_distance(features_a, features_b)
    rows = [f"| {_title(name)} | {_number(data[name])} |" for name in ("real_real", "real_fake", "fake_fake")]
    markdown = [
        "## FID (InceptionV3 pool features, 2048-d)",
        "",
        "| comparison | FID |",
        "|---|---|",
        *rows,
        "",
        "Real-real and fake-fake compare two class-stratified random halves of one set: the noise floor "
        "for sets of that size. FID is biased upwards for small sets, so compare numbers only at equal set sizes.",
    ]
    return _Section(data, markdown)


def _kid(context: _Context) -> _Section:
    options = context.options
    data: dict[str, Any] = {}
    rows = []
    for index, (name, features_a, labels_a, features_b, labels_b) in enumerate(context.comparisons()):
        overall = fidelity.kernel_inception_distance(
            features_a, features_b, options.kid_subset_size, options.kid_subsets, options.seed + index
        )
        per_class = [
            fidelity.kernel_inception_distance(
                features_a[labels_a == k],
                features_b[labels_b == k],
                options.kid_subset_size,
                options.kid_subsets,
                options.seed + index,
            )
            for k in range(context.num_classes)
        ]
        data[name] = {
            "mean": overall.mean,
            "std": overall.std,
            "subset_size": overall.subset_size,
            "per_class": [
                {"mean": kid.mean, "std": kid.std, "subset_size": kid.subset_size} for kid in per_class
            ],
        }
        cells = [f"{_number(kid.mean, 5)} ± {_number(kid.std, 5)} (n={kid.subset_size})" for kid in per_class]
        rows.append(
            f"| {_title(name)} | {_number(overall.mean, 5)} ± {_number(overall.std, 5)} (n={overall.subset_size}) | "
            + " | ".join(cells)
            + " |"
        )
    header = " | ".join(context.class_titles)
    markdown = [
        "## KID (unbiased MMD², cubic polynomial kernel)",
        "",
        f"| comparison | all classes | {header} |",
        "|---|---|" + "---|" * context.num_classes,
        *rows,
        "",
        f"Mean ± std over {options.kid_subsets} random subsets; n = subset size, capped at the smaller set.",
    ]
    return _Section(data, markdown)


def _ssim(context: _Context) -> _Section:
    options = context.options
    real, fake = context.real, context.fake
    pairs = {
        "real_real": (real, real, True),
        "real_fake": (real, fake, False),
        "fake_fake": (fake, fake, True),
    }
    data: dict[str, Any] = {}
    rows = []
    for name, (a, b, same_set) in pairs.items():
        result = similarity.same_class_pair_ssim(
            a.images,
            a.labels,
            b.images,
            b.labels,
            context.num_classes,
            pairs_per_class=options.ssim_pairs,
            seed=options.seed,
            same_set=same_set,
        )
        data[name] = {
            "mean": result.mean,
            "std": result.std,
            "per_class": [
                {"mean": m, "std": s, "pairs": n}
                for m, s, n in zip(
                    result.mean_per_class, result.std_per_class, result.pairs_per_class, strict=True
                )
            ],
            "window_size": result.window_size,
        }
        cells = [
            f"{_number(m)} ± {_number(s)} (n={n})"
            for m, s, n in zip(
                result.mean_per_class, result.std_per_class, result.pairs_per_class, strict=True
            )
        ]
        rows.append(
            f"| {_title(name)} | {_number(result.mean)} ± {_number(result.std)} | " + " | ".join(cells) + " |"
        )
    header = " | ".join(context.class_titles)
    window = data["real_fake"]["window_size"]
    markdown = [
        "## SSIM of random same-class pairs",
        "",
        f"| pairs | all classes | {header} |",
        "|---|---|" + "---|" * context.num_classes,
        *rows,
        "",
        f"n = the number of distinct pairs used per class: up to {options.ssim_pairs} drawn at random without "
        f"replacement (seed {options.seed}), or every pair when a class has fewer; within one set an image is "
        f"never paired with itself and (a, b) is the same pair as (b, a). Data range 2, {window}x{window} "
        "uniform window. Higher = more alike; the real-real row is the natural similarity of two different "
        "real images.",
    ]
    return _Section(data, markdown)


def _memorisation(context: _Context) -> _Section:
    options = context.options
    if context.train is not None:
        training, held_out = context.train.images, context.real.images
        reference, nearest = "training images", "nearest training image"
    else:
        training, held_out = context.real.images, None
        reference, nearest = "real images (no training set given)", "nearest real image"
    report = memorisation.memorisation_check(
        context.fake.images,
        training,
        held_out,
        quantile=options.memorisation_quantile,
        copy_tolerance=options.copy_tolerance,
    )
    closest = report.closest(min(options.closest_pairs, len(context.fake.images)))
    figure = plots.save_image_rows(
        context.output_directory / "closest_pairs.png",
        [context.fake.images[closest], training[report.synthetic_nearest[closest]]],
        ["synthetic", nearest],
        cell_titles=[
            [f"#{i} d={report.synthetic_distances[i]:.3f}" for i in closest],
            [f"#{report.synthetic_nearest[i]}" for i in closest],
        ],
        title=f"The synthetic images closest to their {nearest}",
    )
    data = report.to_data()
    data["reference_set"] = reference
    baseline_text = (
        "held-out (test) real image to its nearest training image"
        if report.baseline == "held-out"
        else "real image to its nearest other real image"
    )
    synthetic, baseline = data["synthetic_to_training"], data["real_baseline"]
    markdown = [
        "## Memorisation check",
        "",
        f"Distance of each synthetic image to its nearest image among the {reference}, compared with the "
        f"distance of each {baseline_text} (RMS pixel difference, images in [-1, 1]).",
        "",
        "| distances | min | 5th percentile | median | mean |",
        "|---|---|---|---|---|",
        f"| synthetic -> {nearest} | {synthetic['min']:.4f} | {synthetic['p05']:.4f} | "
        f"{synthetic['median']:.4f} | {synthetic['mean']:.4f} |",
        f"| real baseline ({report.baseline}) | {baseline['min']:.4f} | {baseline['p05']:.4f} | "
        f"{baseline['median']:.4f} | {baseline['mean']:.4f} |",
        "",
        f"- {data['flagged_fraction']:.1%} of synthetic images ({data['flagged_count']}) are closer to their {nearest} "
        f"than {report.quantile:.0%} of the real baseline (threshold {report.threshold:.4f}); about "
        f"{report.quantile:.0%} is expected when synthetic images are as new as unseen real ones.",
        f"- Near-copies (distance <= {report.copy_tolerance}): {len(report.copies)}"
        + (f" (synthetic IDs {', '.join(str(i) for i in report.copies[:20])})" if len(report.copies) else ""),
        "",
        f"![closest pairs]({figure.name})",
    ]
    return _Section(data, markdown, [figure])


def _artifacts(context: _Context) -> _Section:
    real = context.real.images
    if context.train is not None:
        real = np.concatenate([real, context.train.images])
    report = artifacts.pixel_artifacts(context.fake.images, real, context.options.artifact_tolerance)
    figure = plots.save_artifact_maps(context.output_directory / "artifacts.png", report)
    data = report.to_data()
    reference = "test and training" if context.train is not None else "real"
    markdown = [
        "## Systematic pixel artifacts",
        "",
        f"The mean of the synthetic images against the range of the {report.real_count} {reference} images, "
        f"pixel by pixel: {len(report.flagged)} pixel(s) lie outside every real value by more than "
        f"{report.tolerance} (images in [-1, 1]). A generator can put the same wrong value at one place of "
        "every image, typically a corner, where the zero-padded critic hardly looks; whole-image metrics "
        "barely notice one pixel.",
        "",
    ]
    if data["pixels"]:
        markdown += [
            "| pixel (row, column) | NIfTI voxel (x, y) | synthetic mean | real mean | real range |",
            "|---|---|---|---|---|",
            *(
                f"| ({p['row']}, {p['column']}) | ({p['nifti_x']}, {p['nifti_y']}) | {p['synthetic_mean']:.3f} | "
                f"{p['real_mean']:.3f} | {p['real_min']:.3f} .. {p['real_max']:.3f} |"
                for p in data["pixels"]
            ),
            "",
        ]
        if len(report.flagged) > len(data["pixels"]):
            markdown += [f"The {len(data['pixels'])} furthest outside are listed.", ""]
    markdown.append(f"![pixel artifacts]({figure.name})")
    return _Section(data, markdown, [figure])


def _classification(context: _Context) -> _Section:
    from pacgan_cli.core.inference import classify_images

    discriminator = context.discriminator
    assert discriminator is not None
    use_reference = context.train is not None and (
        discriminator.batch_statistic is None or discriminator.stage != size_to_stage(context.real.size)
    )
    reference = context.train.images if use_reference and context.train is not None else None
    data: dict[str, Any] = {}
    files: list[Path] = []
    rows = []
    notes: set[str] = set()
    measured: float | None = None  # the reference statistic is measured once, for both sets
    for name, image_set in (("real", context.real), ("synthetic", context.fake)):
        result = classify_images(
            discriminator,
            image_set.images,
            reference=reference,
            reference_statistic=measured,
            device=context.device,
        )
        measured = result.statistic if result.statistic_source == "reference" else None
        report = classification_report(image_set.labels, result.probabilities)
        data[name] = {**report.to_data(), "batch_statistic": result.statistic_source}
        notes.add(result.note)
        rows.append(
            f"| {name} ({len(image_set.labels)}) | {_number(report.auc_macro)} | "
            + " | ".join(_number(v) for v in report.auc_per_class)
            + f" | {report.accuracy:.3f} | {report.cross_entropy:.3f} |"
        )
        files += plots.save_classification_figures(
            context.output_directory / f"roc_{name}.png",
            context.output_directory / f"confusion_{name}.png",
            report,
            image_set.labels,
            result.probabilities,
            f"{name} images",
            context.class_names,
        )
    header = " | ".join(f"AUC {title}" for title in context.class_titles)
    markdown = [
        "## Classification by the discriminator's auxiliary head",
        "",
        f"| images | AUC (macro) | {header} | accuracy | cross-entropy |",
        "|---|---|" + "---|" * (context.num_classes + 2),
        *rows,
        "",
        f"Batch statistic: {data['real']['batch_statistic']}. AUC is one-vs-rest over the whole set.",
        *_published_context(context),
        "",
        *sorted(note for note in notes if note),
        "",
        " ".join(f"![{path.stem.replace('_', ' ')}]({path.name})" for path in files),
    ]
    return _Section(data, markdown, files)


def _published_context(context: _Context) -> list[str]:
    """The published headline AUC, as context only where the data are like the data it was measured on."""
    if not is_adni_like(context.class_names, context.real.size):
        return []
    return [
        "",
        f"Published context (not a target): the PACGAN paper reports AUC {PUBLISHED_AUC} on unseen real ADNI "
        "images, CN vs AD at 256x256; other cohorts, scanners and preprocessing give other numbers.",
    ]


# Keyed by `METRIC_NAMES` (the torch-free list the command line offers), in the same order.
METRICS: dict[str, Callable[[_Context], _Section]] = {
    "fid": _fid,
    "kid": _kid,
    "ssim": _ssim,
    "memorisation": _memorisation,
    "artifacts": _artifacts,
    "classification": _classification,
}


def _check_sets(
    real: ImageSet, fake: ImageSet, train: ImageSet | None, discriminator: LoadedCheckpoint | None
) -> int:
    sets = [("real", real), ("fake", fake)] + ([("training", train)] if train is not None else [])
    for name, image_set in sets:
        if len(image_set.images) == 0:
            raise InputError(f"{image_set.source}: the {name} set holds no images")
        check_unit_range(image_set.images, image_set.source)
    for name, image_set in sets[1:]:
        if image_set.images.shape[1:] != real.images.shape[1:]:
            raise InputError(
                f"{image_set.source}: {name} images are {_shape_text(image_set)} but the real images are "
                f"{_shape_text(real)}; compare images of one size (e.g. Real{fake.size}x{fake.size}.nii.gz)"
            )
    num_classes = int(max(image_set.labels.max() for _, image_set in sets)) + 1
    if discriminator is not None:
        if num_classes > discriminator.architecture.num_classes:
            raise InputError(
                f"the labels go up to class {num_classes - 1} but {discriminator.path} knows "
                f"{discriminator.architecture.num_classes} classes"
            )
        num_classes = discriminator.architecture.num_classes
    return max(num_classes, 2)


def _check_stored_statistic(discriminator: LoadedCheckpoint | None, size: int) -> None:
    """Without training images, the statistic stored in the checkpoint must belong to this image size."""
    if discriminator is None or discriminator.batch_statistic is None or discriminator.stage is None:
        return
    if discriminator.stage != size_to_stage(size):
        stored = stage_size(discriminator.stage)
        raise InputError(
            f"{discriminator.path}: its stored batch statistic belongs to size {stored}, not {size}; "
            f"pass --train with the training images ({size}x{size}) to measure it"
        )


def _stage_file(folder: Path, size: int | None) -> Path:
    if size is not None:
        path = folder / stage_file_name(size)
        if not path.is_file():
            raise InputError(f"{folder}: has no {path.name}; run `pacgan pyramid` on its largest stack")
        return path
    sizes = [int(match[1]) for p in folder.iterdir() if (match := STAGE_FILE_PATTERN.fullmatch(p.name))]
    if not sizes:
        raise InputError(f"{folder}: no Real{{S}}x{{S}}.nii.gz stacks in this folder")
    return folder / stage_file_name(max(sizes))


def _sample_figure(context: _Context) -> Path:
    rows, titles = [], []
    for k, class_title in enumerate(context.class_titles):
        for name, image_set in (("real", context.real), ("synthetic", context.fake)):
            rows.append(image_set.images[image_set.labels == k][:8])
            titles.append(f"{name} {class_title}")
    return plots.save_image_rows(
        context.output_directory / "samples.png", rows, titles, title="Real and synthetic images per class"
    )


def _settings_data(options: EvaluationOptions, chosen: Sequence[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {"seed": options.seed}
    if {"fid", "kid"} & set(chosen):
        settings["inception"] = {
            "features": 2048,
            "resize_to": 299,
            "resize": options.resize,
            "resize_note": (
                "bilinear with antialiasing (torchmetrics >= 1.8 default)"
                if options.resize == "antialias"
                else "TF1-compatible bilinear without antialiasing (torch-fidelity; torchmetrics 0.11, published)"
            ),
            "input": "[-1, 1] -> [0, 1] -> x255 uint8, grey repeated to 3 channels",
        }
    if "kid" in chosen:
        settings["kid"] = {
            "subset_size": options.kid_subset_size,
            "subsets": options.kid_subsets,
            "degree": 3,
        }
    if "ssim" in chosen:
        settings["ssim"] = {"pairs_per_class": options.ssim_pairs, "data_range": 2.0}
    if "memorisation" in chosen:
        settings["memorisation"] = {
            "quantile": options.memorisation_quantile,
            "copy_tolerance": options.copy_tolerance,
        }
    if "artifacts" in chosen:
        settings["artifacts"] = {"tolerance": options.artifact_tolerance}
    return settings


def _markdown(
    data: dict[str, Any], sections: dict[str, _Section], skipped: dict[str, str], samples: Path
) -> str:
    inputs = data["inputs"]
    lines = [
        "# PACGAN evaluation",
        "",
        f"- Real images: `{inputs['real']}` ({sum(inputs['real_per_class'])}; per class {inputs['real_per_class']})",
        f"- Synthetic images: `{inputs['fake']}` ({sum(inputs['fake_per_class'])}; per class {inputs['fake_per_class']})",
    ]
    if inputs["train"]:
        lines.append(f"- Training images (memorisation reference): `{inputs['train']}`")
    if inputs["discriminator"]:
        lines.append(f"- Discriminator: `{inputs['discriminator']}`")
    lines.append(f"- Image size: {inputs['image_size']}x{inputs['image_size']}")
    if inputs["class_names"]:
        lines.append(f"- Classes: {class_legend(inputs['class_names'])} (the label numbers of the CSV files)")
    inception = data["settings"].get("inception")
    if inception:
        lines.append(f"- InceptionV3 resize: {inception['resize']} ({inception['resize_note']})")
    for name, why in skipped.items():
        lines.append(f"- **{name.upper()} skipped**: {why}")
    not_run = [name for name in METRICS if name not in sections and name not in skipped]
    if not_run:
        lines.append(f"- Not computed (not requested): {', '.join(not_run)}")
    lines += ["", f"![samples]({samples.name})", ""]
    for section in sections.values():
        lines += [*section.markdown, ""]
    return "\n".join(lines)


def _shape_text(image_set: ImageSet) -> str:
    channels, height, width = image_set.images.shape[1:]
    return f"{height}x{width} with {channels} channel(s)"


def _title(name: str) -> str:
    return name.replace("_", "-")


def _number(value: float | None, digits: int = 3) -> str:
    return (
        "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"
    )
