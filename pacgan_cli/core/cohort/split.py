"""Subject-grouped, label-stratified holdout that keeps age and sex matched in both parts, written as
the per-stage folders `pacgan train` reads.

As in the published preprocessing, candidate splits come from `StratifiedGroupKFold` (each fold is one
candidate test part); unlike it, the folds are shuffled with a seed per round so that later rounds give
new candidates, and a candidate must also keep every class within one subject of its target share.
Any number of classes (two or more) works; the age and sex tests run on the columns the table has, or not
at all (`matching` off), and the report says which ran.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sklearn.model_selection import StratifiedGroupKFold

from pacgan_cli.core.classes import class_legend
from pacgan_cli.core.cohort.pyramid import pyramid_sizes, resize_pyramid
from pacgan_cli.core.cohort.stats import GroupTests
from pacgan_cli.core.cohort.table import (
    BalancePlan,
    ClassOrder,
    CohortColumns,
    check_level,
    class_order,
    cohort_tests,
    group_ages,
    other_group_rows,
    plan_balance_tests,
    prepare_cohort,
)
from pacgan_cli.core.errors import ConfigError, InputError, OutputExistsError
from pacgan_cli.core.figures import save_age_histograms
from pacgan_cli.core.io.atomic import write_json_atomic, write_text_atomic
from pacgan_cli.core.io.intensity import scale_to_unit_range
from pacgan_cli.core.io.nifti import read_stack, read_stack_shape, write_stack
from pacgan_cli.core.io.tables import write_csv, write_labels
from pacgan_cli.core.progress import Reporter, SilentReporter
from pacgan_cli.core.stages import stage_file_name

PARTS = ("train", "test")
SCALINGS = ("max", "none")
AGE_FIGURE = "split_ages.png"
REPORT_FILES = ("split_report.json", "split_report.txt", AGE_FIGURE)
PART_TABLES = ("labels.csv", "source.csv", "classes.csv")


@dataclass(frozen=True)
class SplitOptions:
    """How to split.

    `classes` names the classes in label order (0, 1, ...); empty: controls 0 and patients 1 when the table
    holds both (0 = CN, 1 = AD for ADNI, as published), else the table's `Label` column's order, else every
    group sorted (see `class_order`). `matching` off skips the age and sex tests; on, they run on the
    columns the table has. `image_column` holds each row's index in the stack; without that column the rows
    must be the stack's images in order. `folds` = 5 gives an 80/20 holdout; `attempts` shuffled rounds of
    `folds` candidates each are tried. `scale` is `max` (per image x -> (x - m/2) / (m/2), m its maximum)
    or `none`.
    """

    columns: CohortColumns = field(default_factory=CohortColumns)
    classes: tuple[str, ...] = ()
    matching: bool = True
    image_column: str = "Image_Index"
    folds: int = 5
    threshold: float = 0.05
    seed: int = 0
    attempts: int = 100
    scale: str = "max"
    level: str = "image"


@dataclass(frozen=True)
class PartSummary:
    subjects: dict[str, int]
    images: dict[str, int]
    tests: GroupTests


@dataclass(frozen=True)
class SplitReport:
    """The chosen split: the classes, which balance tests ran, and per part its subject and image counts
    per class (in label order) and its test results."""

    options: SplitOptions
    output_directory: Path
    classes: ClassOrder
    plan: BalancePlan
    reached: bool
    balanced: bool
    candidate: int
    candidates_tried: int
    sizes: tuple[int, ...]
    parts: dict[str, PartSummary]
    ignored_rows: dict[str, int]

    @property
    def tests_pass(self) -> bool:
        """Every balance test that ran reaches the threshold in both parts (true when none ran)."""
        return all(part.tests.passes(self.options.threshold) for part in self.parts.values())

    def summary_lines(self) -> list[str]:
        names = self.classes.names
        tested = bool(self.plan.tests(len(names)))
        lines = [f"classes: {class_legend(names)} ({self.classes.rule})", self.plan.describe(len(names))]
        for name, part in self.parts.items():
            counts = ", ".join(
                f"{group} {part.subjects[group]} subjects/{part.images[group]} images" for group in names
            )
            lines.append(f"{name}: {counts}")
            if tested:
                lines.append(f"  {part.tests.describe()}")
        lines.append(
            f"chose candidate {self.candidate} of {self.candidates_tried} tried; "
            f"sizes {', '.join(str(s) for s in self.sizes)} written to {self.output_directory}"
        )
        for group, count in self.ignored_rows.items():
            what = f"group {group!r}" if group else f"an empty {self.options.columns.group}"
            lines.append(f"left out {count} rows of {what} (not one of the classes)")
        flow_names = yaml.safe_dump(list(names), default_flow_style=True, width=1000).strip()
        lines.append(f"for training, set class_size: {len(names)} and class_names: {flow_names}")
        if not self.balanced:
            lines.append("no candidate kept every class within one subject of its share; took the closest")
        if tested:
            verdict = "both parts reach" if self.reached else "could NOT find a split where both parts reach"
            lines.append(f"{verdict} p >= {self.options.threshold:g} ({self.options.level} level)")
        return lines

    def as_dict(self) -> dict[str, Any]:
        names = self.classes.names
        return {
            "reached": self.reached,
            "balanced": self.balanced,
            "threshold": self.options.threshold,
            "level": self.options.level,
            "seed": self.options.seed,
            "folds": self.options.folds,
            "scale": self.options.scale,
            "candidate": self.candidate,
            "candidates_tried": self.candidates_tried,
            "sizes": list(self.sizes),
            "labels": {name: label for label, name in enumerate(names)},
            "classes": list(names),
            "class_order": self.classes.rule,
            "balance_tests": {"ran": list(self.plan.tests(len(names))), "skipped": self.plan.skipped},
            "parts": {
                name: {"subjects": p.subjects, "images": p.images, "tests": p.tests.as_dict()}
                for name, p in self.parts.items()
            },
            "ignored_rows": self.ignored_rows,
        }


def split_cohort(
    stack: str | os.PathLike[str],
    table: pd.DataFrame,
    output_directory: str | os.PathLike[str],
    options: SplitOptions | None = None,
    force: bool = False,
    reporter: Reporter | None = None,
) -> SplitReport:
    """Split the images of `table` into `train/` and `test/` under `output_directory`.

    Each part gets `Real{S}x{S}.nii.gz` for S from the stack's size down to 4 (scaled to [-1, 1] unless
    `scale` is `none`), `labels.csv` (ID, Label, Subject_ID; ID indexes that part's stack, in source
    order), `source.csv` (the table's rows in that order, with ID first) and `classes.csv` (Label, Class:
    the name of each label, so that each folder says what its numbers mean wherever it is copied). Beside
    them go `split_report.json`, `split_report.txt` and, when ages were tested, `split_ages.png`. No
    subject is in both parts. Everything is computed before the first file is written; files are staged
    and moved into place at the end.
    """
    options = options or SplitOptions()
    reporter = reporter or SilentReporter()
    _check_options(options)
    output_directory = Path(output_directory)
    _check_output(output_directory, force)
    image_count = read_stack_shape(stack)[3]
    columns = options.columns
    classes = class_order(table, columns, options.classes)
    plan = plan_balance_tests(table, columns, options.matching)
    cohort = prepare_cohort(table, columns, classes.names, plan)
    cohort["_image"] = _image_indices(table, cohort, options.image_column, image_count)
    cohort["_label"] = cohort[columns.group].map({name: k for k, name in enumerate(classes.names)})
    _check_class_sizes(cohort, columns, classes.names, options.folds)

    choice = _choose_split(cohort, options, classes, plan)
    images = read_stack(stack)
    size = images.shape[-1]
    if images.shape[-2] != size:
        raise InputError(f"{stack}: images are {size}x{images.shape[-2]}; training needs square images")
    sizes = pyramid_sizes(size)
    if options.scale == "max":
        images = scale_to_unit_range(images, stack)

    staged: dict[str, dict[str, Any]] = {}
    parts: dict[str, PartSummary] = {}
    for name, rows in zip(PARTS, choice.parts, strict=True):
        part = cohort.iloc[rows].sort_values("_image")
        part_images = images[part["_image"].to_numpy()]
        labels = pd.DataFrame(
            {
                "ID": np.arange(len(part)),
                "Label": part["_label"].to_numpy(),
                "Subject_ID": part[columns.subject].to_numpy(),
            }
        )
        source = table.loc[part.index].copy()
        source.insert(0, "ID", np.arange(len(part)))
        staged[name] = {
            "pyramid": resize_pyramid(part_images, sizes, reporter, stage_name=f"{name} pyramid"),
            "labels": labels,
            "source": source,
            "cohort": part,
        }
        parts[name] = _summarise(part, columns, classes, plan, options.level)

    report = SplitReport(
        options=options,
        output_directory=output_directory,
        classes=classes,
        plan=plan,
        reached=choice.reached,
        balanced=choice.balanced,
        candidate=choice.index,
        candidates_tried=choice.tried,
        sizes=tuple(sizes),
        parts=parts,
        ignored_rows=other_group_rows(table, columns, classes.names),
    )
    _write_staged(output_directory, staged, report, force)
    return report


@dataclass(frozen=True)
class _Choice:
    parts: tuple[np.ndarray, np.ndarray]
    reached: bool
    balanced: bool
    index: int
    tried: int


def _choose_split(
    cohort: pd.DataFrame, options: SplitOptions, classes: ClassOrder, plan: BalancePlan
) -> _Choice:
    """The first candidate that is class-balanced and matched in both parts; else the best one seen."""
    columns = options.columns
    labels = cohort["_label"].to_numpy()
    subjects = cohort[columns.subject].to_numpy()
    subject_labels = cohort.groupby(columns.subject)["_label"].first()
    targets = subject_labels.value_counts().to_dict()
    rng = np.random.default_rng(options.seed)
    best: tuple[tuple[bool, float], _Choice] | None = None
    tried = 0
    for _ in range(options.attempts):
        folds = StratifiedGroupKFold(options.folds, shuffle=True, random_state=int(rng.integers(2**31)))
        for train_rows, test_rows in folds.split(np.zeros(len(cohort)), labels, subjects):
            tried += 1
            test_subjects = subject_labels.loc[np.unique(subjects[test_rows])].value_counts()
            balanced = all(
                abs(test_subjects.get(label, 0) - count / options.folds) <= 1
                for label, count in targets.items()
            )
            worst = min(
                cohort_tests(cohort.iloc[rows], columns, classes.names, plan, options.level).worst
                for rows in (train_rows, test_rows)
            )
            reached = balanced and worst >= options.threshold
            choice = _Choice((train_rows, test_rows), reached, balanced, tried, tried)
            if reached:
                return choice
            if best is None or (balanced, worst) > best[0]:
                best = ((balanced, worst), choice)
    assert best is not None
    chosen = best[1]
    return _Choice(chosen.parts, False, chosen.balanced, chosen.index, tried)


def _summarise(
    part: pd.DataFrame, columns: CohortColumns, classes: ClassOrder, plan: BalancePlan, level: str
) -> PartSummary:
    groups = classes.names
    return PartSummary(
        subjects={g: int(part.loc[part[columns.group] == g, columns.subject].nunique()) for g in groups},
        images={g: int((part[columns.group] == g).sum()) for g in groups},
        tests=cohort_tests(part, columns, groups, plan, level),
    )


def _write_staged(
    output_directory: Path, staged: dict[str, dict[str, Any]], report: SplitReport, force: bool
) -> None:
    """Write everything into a hidden folder inside the output, then move each file into place."""
    output_directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".split-", dir=output_directory))
    try:
        columns = report.options.columns
        names = report.classes.names
        class_table = pd.DataFrame({"Label": np.arange(len(names)), "Class": list(names)})
        for name, content in staged.items():
            folder = staging / name
            for size, images in content["pyramid"].items():
                write_stack(folder / stage_file_name(size), images)
            write_labels(folder / "labels.csv", content["labels"])
            write_csv(folder / "source.csv", content["source"])
            write_csv(folder / "classes.csv", class_table)
        write_json_atomic(staging / "split_report.json", report.as_dict())
        write_text_atomic(staging / "split_report.txt", "\n".join(report.summary_lines()) + "\n")
        if report.plan.age:
            save_age_histograms(
                staging / AGE_FIGURE,
                {name: group_ages(content["cohort"], columns, names) for name, content in staged.items()},
            )
        if force:
            for name in PARTS:
                for stale in _stage_files(output_directory / name):
                    stale.unlink()
            if not report.plan.age:
                (output_directory / AGE_FIGURE).unlink(missing_ok=True)
        for path in sorted(p for p in staging.rglob("*") if p.is_file()):
            target = output_directory / path.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_output(output_directory: Path, force: bool) -> None:
    """Refuse a folder that already holds split results, unless `force`."""
    if force:
        return
    existing = [output_directory / name for name in REPORT_FILES if (output_directory / name).exists()]
    for name in PARTS:
        folder = output_directory / name
        existing += _stage_files(folder)
        existing += [folder / table for table in PART_TABLES if (folder / table).exists()]
    if existing:
        raise OutputExistsError(
            f"{existing[0]} already exists; choose another output folder or pass --force to overwrite it"
        )


def _stage_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("Real*x*.nii*")) if folder.is_dir() else []


def _image_indices(table: pd.DataFrame, cohort: pd.DataFrame, column: str, image_count: int) -> np.ndarray:
    """Each cohort row's index in the stack, checked: whole numbers, inside the stack, each image once."""
    if column not in table.columns:
        if len(table) != image_count:
            raise InputError(
                f"the table has {len(table)} rows but the stack holds {image_count} images and there is no "
                f"{column!r} column; add the column with each row's image index (or name it with --image-column)"
            )
        return cohort.index.map(table.index.get_loc).to_numpy()
    values = pd.to_numeric(table.loc[cohort.index, column], errors="coerce")
    whole = values.notna() & (values == np.round(values))
    if not whole.all():
        label = values.index[~whole.to_numpy()][0]
        raise InputError(
            f"{column} must hold whole numbers; row {table.index.get_loc(label) + 1} has "
            f"{table.loc[label, column]!r}"
        )
    indices = values.to_numpy(dtype=np.int64)
    outside = (indices < 0) | (indices >= image_count)
    if outside.any():
        raise InputError(
            f"{column} {indices[outside][0]} is outside the stack, which holds {image_count} images "
            f"(0..{image_count - 1}); is this table for this stack?"
        )
    unique, counts = np.unique(indices, return_counts=True)
    if (counts > 1).any():
        raise InputError(f"{column} {unique[counts > 1][0]} appears in more than one row; each image once")
    return indices


def _check_class_sizes(
    cohort: pd.DataFrame, columns: CohortColumns, classes: tuple[str, ...], folds: int
) -> None:
    """Every class needs a subject in each of the `folds` folds to reach both parts."""
    per_group = cohort.groupby(columns.group)[columns.subject].nunique()
    for group in classes:
        count = int(per_group.get(group, 0))
        if count < folds:
            raise InputError(
                f"class {group!r} has {count} subjects; a {folds}-fold holdout needs at least {folds} per class "
                "to put it in both parts (lower --folds, or leave the class out with --classes)"
            )


def _check_options(options: SplitOptions) -> None:
    if options.folds < 2:
        raise ConfigError(f"--folds must be at least 2 (5 gives 80/20); got {options.folds}")
    if not 0 <= options.threshold < 1:
        raise ConfigError(f"--threshold must be in [0, 1); got {options.threshold}")
    if options.attempts < 1:
        raise ConfigError(f"--attempts must be at least 1; got {options.attempts}")
    if options.scale not in SCALINGS:
        raise ConfigError(f"scale must be max or none; got {options.scale!r}")
    check_level(options.level)
