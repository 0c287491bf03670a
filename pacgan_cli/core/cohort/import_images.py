"""A researcher's own 2D images -> one `[W, H, C, N]` stack plus `<stem>_labels.csv`, ready for `pacgan split`.

The images come from a folder with one subfolder per class, from a CSV naming each file with its class
(and subject), or as files without a class. Intensities stay raw, as `pacgan slices` leaves them: `split`
scales each image to [-1, 1] by its own maximum (the published scaling), which needs values >= 0, so a
DICOM window (`--window`) is the way to bring CT's Hounsfield units there.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pacgan_cli.core.cohort.image_sources import (
    ImageSource,
    find_image_sources,
    readable_text,
)
from pacgan_cli.core.cohort.pyramid import resize_stack
from pacgan_cli.core.cohort.slices import centre_axis
from pacgan_cli.core.errors import ConfigError, InputError, shown_list
from pacgan_cli.core.io.atomic import ensure_can_write, ensure_distinct
from pacgan_cli.core.io.images import (
    LUMA_WEIGHTS,
    READABLE_FILES,
    FileImages,
    NotAnImage,
    read_image_file,
    to_grey,
)
from pacgan_cli.core.io.limits import IMAGE_BYTES_VARIABLE, check_byte_limit
from pacgan_cli.core.io.nifti import is_nifti_path, nifti_stem, write_stack
from pacgan_cli.core.io.tables import write_csv
from pacgan_cli.core.progress import Reporter, SilentReporter
from pacgan_cli.core.stages import is_stage_size

WINDOW_FROM_FILES = "dicom"
LARGEST_TRAINED_SIZE = 1024  # the largest size this tool is meant for (the published network stops at 256)


@dataclass(frozen=True)
class ImportOptions:
    """How files become the stack.

    `channels` 1 or 3 converts (RGB -> grey by BT.601 luma, grey -> RGB by repetition); None keeps what the
    images are and refuses a mixture. `window` is (centre, width), `"dicom"` (each file's own) or None.
    `pad` centre-pads (with the image's minimum) or crops to a square, then `resize` resizes bilinearly.
    `classes` orders the labels (and leaves other classes out); default: every class, sorted by name.
    `class_name` is the class of images given without one (files, or a folder without subfolders).
    `subject_column` None takes `Subject_ID` when the CSV has it, else each file is its own subject.
    """

    channels: int | None = None
    window: tuple[float, float] | str | None = None
    pad: int | None = None
    resize: int | None = None
    classes: tuple[str, ...] = ()
    class_name: str | None = None
    file_column: str = "File"
    group_column: str = "Group"
    subject_column: str | None = None


@dataclass(frozen=True)
class ImportResult:
    """What `import_images` wrote and what it did to the values on the way, for the summary."""

    stack_path: Path
    labels_path: Path
    file_count: int
    image_count: int
    width: int
    height: int
    channels: int
    classes: dict[str, tuple[int, int]]  # in label order: name -> (images, subjects); empty without classes
    kinds: dict[str, int]  # "PNG 16-bit" -> files
    notes: dict[str, int]  # "alpha channel dropped" -> files
    steps: tuple[str, ...]  # what was done to every image: window, channel conversion, padding, resizing
    intensity: tuple[float, float]
    skipped: tuple[Path, ...] = ()
    left_out: dict[str, int] = field(default_factory=dict)  # classes not in --classes -> files
    warnings: tuple[str, ...] = ()

    def summary_lines(self) -> list[str]:
        colour = "grey" if self.channels == 1 else "RGB"
        lines = [
            f"{self.image_count} {colour} images ({self.width}x{self.height}) from {self.file_count} files",
            "files: " + ", ".join(f"{kind} ({count})" for kind, count in sorted(self.kinds.items())),
        ]
        lines += [f"{note}: {count} file(s)" for note, count in sorted(self.notes.items())]
        lines += list(self.steps)
        low, high = self.intensity
        lines.append(
            f"intensities [{low:.6g}, {high:.6g}] (float32, not scaled: `pacgan split` scales each image to "
            "[-1, 1] by its maximum)"
        )
        if self.classes:
            shown = ", ".join(
                f"{label} = {name} ({images} images, {subjects} subjects)"
                for label, (name, (images, subjects)) in enumerate(self.classes.items())
            )
            names = ", ".join(self.classes)
            lines.append(f"classes: {shown}")
            lines.append(
                "next: pacgan split with --no-match (or matched on Age/Sex columns); split decides the final "
                f"labels (CN 0 and AD 1 when both are present) and prints class_size and class_names; here: {names}"
            )
        else:
            lines.append(
                "no classes given: Group and Label are empty (give a folder of class subfolders, a CSV, or --class)"
            )
        for name, count in self.left_out.items():
            lines.append(f"left out {count} file(s) of class {name!r} (not in --classes)")
        if self.skipped:
            names = ", ".join(str(p) for p in self.skipped[:3]) + (" ..." if len(self.skipped) > 3 else "")
            lines.append(f"skipped {len(self.skipped)} file(s) that are not images: {names}")
        lines += [f"warning: {text}" for text in self.warnings]
        lines += [f"stack: {self.stack_path}", f"labels: {self.labels_path}"]
        return lines


def import_images(
    sources: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    options: ImportOptions | None = None,
    force: bool = False,
    reporter: Reporter | None = None,
) -> ImportResult:
    """Read every image of `sources` and write them as one stack `output` plus `<stem>_labels.csv`.

    `sources` is one folder (a subfolder per class, read recursively; a folder without subfolders holds
    images without a class), one `.csv` (a file and a class column, optionally a subject column; its
    other columns are carried into the table), or image files. Labels are 0..K-1 in class order. The
    table has `Image_Index, Subject_ID, Group, Label, Source`: Source is the file (with `#frame` for a
    frame of a multi-frame file), Subject_ID the CSV's, else the file's path without suffix, relative to
    the folder. Everything is read and checked before anything is written; nothing is overwritten
    without `force`.
    """
    options = options or ImportOptions()
    reporter = reporter or SilentReporter()
    _check_options(options)
    output = Path(output)
    if not is_nifti_path(output):
        raise ConfigError(f"{output}: the stack must be written as .nii or .nii.gz")
    labels_path = labels_path_for(output)
    inputs = {f"the input {source}": source for source in sources if not Path(source).is_dir()}
    ensure_distinct({"--output": output, "the labels table": labels_path}, inputs)
    ensure_can_write(output, labels_path, force=force)

    entries, skipped = find_image_sources(sources, options)
    entries, label_of, left_out = _choose_classes(entries, options)
    files, images, rows, not_images = _read_all(entries, reporter)
    skipped += not_images
    images, steps = _prepare(images, files, rows, options)
    height, width = images[0].shape[-2:]
    stack = np.stack(images)
    write_stack(output, stack, force=force)
    table = _labels_table(rows, label_of)
    write_csv(labels_path, table, force=force)

    minima = stack.reshape(len(stack), -1).min(axis=1)
    classes = {
        name: (
            int((table["Group"] == name).sum()),
            int(table.loc[table["Group"] == name, "Subject_ID"].nunique()),
        )
        for name in label_of
    }
    return ImportResult(
        stack_path=output,
        labels_path=labels_path,
        file_count=len(files),
        image_count=len(stack),
        width=int(width),
        height=int(height),
        channels=int(stack.shape[1]),
        classes=classes,
        kinds=dict(Counter(file.kind for file in files)),
        notes=dict(Counter(note for file in files for note in file.notes)),
        steps=tuple(steps),
        intensity=(float(stack.min()), float(stack.max())),
        skipped=tuple(skipped),
        left_out=left_out,
        warnings=tuple(_warnings(stack, minima, files, entries)),
    )


def labels_path_for(output: str | os.PathLike[str]) -> Path:
    """`data/images.nii.gz` -> `data/images_labels.csv`."""
    output = Path(output)
    return output.with_name(f"{nifti_stem(output)}_labels.csv")


def parse_window(text: str) -> tuple[float, float] | str:
    """`40,400` -> (40.0, 400.0) (centre, width); `dicom` -> each DICOM file's own window."""
    if text.strip().lower() == WINDOW_FROM_FILES:
        return WINDOW_FROM_FILES
    try:
        center, width = (float(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(
            f"--window must be CENTER,WIDTH (e.g. 40,400 for CT soft tissue) or dicom; got {text!r}"
        ) from None
    if not width > 0 or not np.isfinite(center):
        raise ConfigError(f"--window needs a finite centre and a positive width; got {text!r}")
    return center, width


def _choose_classes(
    entries: list[ImageSource], options: ImportOptions
) -> tuple[list[ImageSource], dict[str, int], dict[str, int]]:
    """Labels 0..K-1 in `--classes` order (else sorted by name); entries of classes left out, counted."""
    present = sorted({entry.group for entry in entries if entry.group is not None})
    if not present:
        if options.classes:
            raise ConfigError("--classes orders classes, but these images have none; use --class NAME")
        return entries, {}, {}
    order = options.classes or tuple(present)
    missing = [name for name in order if name not in present]
    if missing:
        raise InputError(
            f"no images of class {missing[0]!r}; the classes found are {shown_list(present, 'classes')}"
        )
    left_out = Counter(entry.group for entry in entries if entry.group not in order)
    kept = [entry for entry in entries if entry.group in order]
    return kept, {name: label for label, name in enumerate(order)}, {str(k): v for k, v in left_out.items()}


@dataclass(frozen=True)
class _Row:
    """One image of the stack: where it came from."""

    source: ImageSource
    frame: int  # 1-based frame of a multi-frame file; 0 for a file of one image


def _read_all(
    entries: list[ImageSource], reporter: Reporter
) -> tuple[list[FileImages], list[np.ndarray], list[_Row], list[Path]]:
    """Read every file; a file that fails stops the import, after the rest are read, naming the first one
    and counting the others. DICOM files without pixel data (reports, DICOMDIR) are skipped and listed."""
    files: list[FileImages] = []
    images: list[np.ndarray] = []
    rows: list[_Row] = []
    not_images: list[Path] = []
    failures: list[str] = []
    total_bytes = 0
    reporter.stage_started("import", total=len(entries))
    for entry in entries:
        try:
            read = read_image_file(entry.path)
        except NotAnImage:
            not_images.append(entry.path)
            reporter.advance()
            continue
        except InputError as error:
            failures.append(str(error))
            reporter.advance()
            continue
        total_bytes += read.pixels.nbytes
        check_byte_limit(entry.path, total_bytes, "the stack up to this file", IMAGE_BYTES_VARIABLE)
        files.append(read)
        several = len(read.pixels) > 1
        for frame, image in enumerate(read.pixels, start=1):
            images.append(image)
            rows.append(_Row(entry, frame if several else 0))
        reporter.advance()
    reporter.stage_finished()
    if failures:
        more = f" (and {len(failures) - 1} more file(s) that cannot be read)" if len(failures) > 1 else ""
        raise InputError(failures[0] + more)
    if not images:
        raise InputError(f"no images to import: the files hold no pixel data (pacgan reads {READABLE_FILES})")
    return files, images, rows, not_images


def _prepare(
    images: list[np.ndarray], files: list[FileImages], rows: list[_Row], options: ImportOptions
) -> tuple[list[np.ndarray], list[str]]:
    """Window, channels, padding and resizing, in that order, for every image `[C, H, W]`; the steps taken
    are returned as summary lines."""
    steps: list[str] = []
    if options.window is not None:
        images, step = _apply_window(images, files, rows, options.window)
        steps.append(step)
    images, step = _unify_channels(images, rows, options.channels)
    steps += [step] if step else []
    if options.pad is not None:
        size = options.pad
        padded = sum(image.shape[-2:] != (size, size) for image in images)
        images = [
            centre_axis(centre_axis(image, 1, size, image.min()), 2, size, image.min()) for image in images
        ]
        steps.append(
            f"padded/cropped {padded} image(s) to {size}x{size}, centred (padding: each image's minimum)"
        )
    if options.resize is not None:
        size = options.resize
        resized = [image.shape[-2:] != (size, size) for image in images]
        images = [
            resize_stack(image[None], size)[0] if todo else image
            for image, todo in zip(images, resized, strict=True)
        ]
        steps.append(f"resized {sum(resized)} image(s) to {size}x{size} (bilinear, as the published pyramid)")
    _check_one_size(images, rows)
    return images, steps


def _apply_window(
    images: list[np.ndarray], files: list[FileImages], rows: list[_Row], window: tuple[float, float] | str
) -> tuple[list[np.ndarray], str]:
    """Clip to [centre - width/2, centre + width/2] and shift that window's bottom to 0: values in [0, width]."""
    if window != WINDOW_FROM_FILES:
        center, width = window  # type: ignore[misc]
        low = center - width / 2
        step = (
            f"window {center:g}/{width:g} (centre/width): values clipped to [{low:g}, {low + width:g}], "
            f"then shifted to [0, {width:g}]"
        )
        return [np.clip(image, low, low + width) - np.float32(low) for image in images], step
    by_path = {file.path: file for file in files}
    windowed, used = [], Counter()
    for image, row in zip(images, rows, strict=True):
        own = by_path[row.source.path].window
        if own is None or not own[1] > 0:
            raise InputError(
                f"{row.source.path}: has no DICOM window (WindowCenter/WindowWidth) for --window dicom; "
                "give one: --window CENTER,WIDTH"
            )
        low = own[0] - own[1] / 2
        windowed.append(np.clip(image, low, low + own[1]) - np.float32(low))
        used[f"{own[0]:g}/{own[1]:g}"] += 1
    shown = ", ".join(f"{window} ({count} images)" for window, count in sorted(used.items()))
    return (
        windowed,
        f"window: each file's own WindowCenter/WindowWidth ({shown}), values shifted to [0, width]",
    )


def _unify_channels(
    images: list[np.ndarray], rows: list[_Row], channels: int | None
) -> tuple[list[np.ndarray], str]:
    counts = Counter(image.shape[0] for image in images)
    if channels is None:
        if len(counts) == 1:
            return images, ""
        grey = next(row for image, row in zip(images, rows, strict=True) if image.shape[0] == 1)
        colour = next(row for image, row in zip(images, rows, strict=True) if image.shape[0] == 3)
        raise InputError(
            f"the images mix grey ({counts[1]}, e.g. {grey.source.path}) and RGB ({counts[3]}, e.g. "
            f"{colour.source.path}); pass --channels 1 to make them all grey or --channels 3 for RGB"
        )
    if channels == 1 and counts[3]:
        weights = " + ".join(f"{w:g} {c}" for w, c in zip(LUMA_WEIGHTS, "RGB", strict=True))
        converted = [to_grey(image) if image.shape[0] == 3 else image for image in images]
        return converted, f"converted {counts[3]} RGB image(s) to grey ({weights})"
    if channels == 3 and counts[1]:
        converted = [np.repeat(image, 3, axis=0) if image.shape[0] == 1 else image for image in images]
        return converted, f"repeated {counts[1]} grey image(s) into 3 channels"
    return images, ""


def _check_one_size(images: list[np.ndarray], rows: list[_Row]) -> None:
    sizes: dict[tuple[int, int], list[Path]] = {}
    for image, row in zip(images, rows, strict=True):
        sizes.setdefault(tuple(image.shape[-2:]), []).append(row.source.path)
    if len(sizes) == 1:
        return
    found = ", ".join(
        f"{width}x{height} ({len(paths)} images, e.g. {paths[0]})"
        for (height, width), paths in sorted(sizes.items(), key=lambda item: -len(item[1]))
    )
    side = _suggested_size(max(max(size) for size in sizes))
    raise InputError(
        f"the images have {len(sizes)} sizes: {found}; bring them to one with --resize {side} (bilinear) "
        f"or --pad {side} (centre pad/crop)"
    )


def _suggested_size(side: int) -> int:
    """The power of two nearest to `side`, within the sizes training has stages for."""
    nearest = 2 ** round(np.log2(max(side, 1)))
    return int(min(max(nearest, 4), LARGEST_TRAINED_SIZE))


def _labels_table(rows: list[_Row], label_of: dict[str, int]) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "Image_Index": np.arange(len(rows)),
            "Subject_ID": [readable_text(row.source.subject) for row in rows],
            "Group": [row.source.group or "" for row in rows],
            "Label": pd.array([label_of.get(row.source.group or "") for row in rows], dtype="Int64"),
            "Source": [
                readable_text(str(row.source.path) + (f"#{row.frame}" if row.frame else "")) for row in rows
            ],
        }
    )
    carried = pd.DataFrame([row.source.carried for row in rows], index=table.index)
    return pd.concat([table, carried], axis=1) if not carried.empty else table


def _warnings(
    stack: np.ndarray, minima: np.ndarray, files: list[FileImages], entries: list[ImageSource]
) -> list[str]:
    warnings = []
    negative = int((minima < 0).sum())
    if negative:
        warnings.append(
            f"{negative} image(s) have negative values (lowest {float(minima.min()):.6g}), which `pacgan split` "
            "and `pacgan scale` refuse: scaling by the maximum needs values >= 0; import them with a window, "
            "--window CENTER,WIDTH (CT soft tissue: 40,400) or --window dicom (each file's own)"
        )
    height, width = stack.shape[-2:]
    if height != width or not is_stage_size(int(width)) or width > LARGEST_TRAINED_SIZE:
        side = _suggested_size(max(height, width))
        warnings.append(
            f"training needs square images whose side is a power of two (4, 8, ..., {LARGEST_TRAINED_SIZE}); "
            f"these are {width}x{height}: import them with --resize {side} (or --pad {side})"
        )
    patient_of = {file.path: file.patient for file in files if file.patient}
    own_subjects = [entry for entry in entries if entry.path in patient_of and not entry.subject_from_table]
    patients = {patient_of[entry.path] for entry in own_subjects}
    subjects = {entry.subject for entry in own_subjects}
    if len(patients) < len(subjects):
        warnings.append(
            f"the DICOM files name {len(patients)} PatientID(s) but each file counts as its own subject "
            f"({len(subjects)}); if a PatientID is a person, one person's images could land on both sides of "
            "a split: import from a CSV with a Subject_ID column"
        )
    return warnings


def _check_options(options: ImportOptions) -> None:
    if options.channels not in (None, 1, 3):
        raise ConfigError(f"--channels must be 1 (grey) or 3 (RGB); got {options.channels}")
    for name, size in (("--pad", options.pad), ("--resize", options.resize)):
        if size is not None and size < 1:
            raise ConfigError(f"{name} must be a positive size in pixels; got {size}")
    if len(set(options.classes)) != len(options.classes):
        raise ConfigError("--classes names the same class twice")
