"""Which files `pacgan import` reads and what each one is: a folder with one subfolder per class, a CSV
naming each file with its class (and subject), or files given one by one."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pacgan_cli.core.cohort.slices import resolve_listed
from pacgan_cli.core.errors import ConfigError, InputError, shown_list
from pacgan_cli.core.io.images import (
    READABLE_FILES,
    image_format,
    image_stem,
)
from pacgan_cli.core.io.tables import read_csv

if TYPE_CHECKING:
    from pacgan_cli.core.cohort.import_images import ImportOptions


@dataclass(frozen=True)
class ImageSource:
    """One file to read: its class (None: none given), its subject (from a CSV's subject column, or the file
    as its own subject), and the columns a CSV carries along."""

    path: Path
    group: str | None
    subject: str
    carried: dict[str, Any] = field(default_factory=dict)
    subject_from_table: bool = False


def find_image_sources(
    sources: Sequence[str | os.PathLike[str]], options: ImportOptions
) -> tuple[list[ImageSource], list[Path]]:
    """The files to read, in stack order, and those passed over because they are not images."""
    paths = [Path(source) for source in sources]
    if not paths:
        raise ConfigError("give a folder, a CSV file or image files to import")
    if len(paths) == 1 and paths[0].is_dir():
        return _from_folder(paths[0], options)
    if len(paths) == 1 and paths[0].suffix.lower() == ".csv":
        if options.class_name is not None:
            raise ConfigError(
                f"{paths[0]}: its {options.group_column} column gives the classes; --class is for images without one"
            )
        return _from_table(paths[0], options), []
    for path in paths:
        if path.is_dir() or path.suffix.lower() == ".csv":
            raise ConfigError(f"{path}: give one folder, one CSV file, or image files, not a mixture")
        if not path.is_file():
            raise InputError(f"{path}: no such file or folder")
        if image_format(path) is None:
            raise InputError(f"{path}: not an image file pacgan reads ({READABLE_FILES})")
    return [ImageSource(path, options.class_name, _subject_of(path)) for path in paths], []


def _from_folder(folder: Path, options: ImportOptions) -> tuple[list[ImageSource], list[Path]]:
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    entries: list[ImageSource] = []
    skipped: list[Path] = []
    if subfolders and options.class_name is not None:
        raise ConfigError(f"{folder}: its subfolders are the classes; --class is for images without one")
    groups: list[tuple[str | None, list[Path]]] = (
        [(readable_text(sub.name), _files_under(sub)) for sub in subfolders]
        if subfolders
        else [(options.class_name, sorted(p for p in folder.iterdir() if _visible_file(p)))]
    )
    if subfolders:
        skipped += sorted(p for p in folder.iterdir() if _visible_file(p))  # outside every class folder
    for group, files in groups:
        for path in files:
            if image_format(path) is None:
                skipped.append(path)
            else:
                entries.append(ImageSource(path, group, _subject_of(path.relative_to(folder))))
    if not entries:
        layout = "its class subfolders hold" if subfolders else "it holds"
        raise InputError(f"{folder}: {layout} no image files (pacgan reads {READABLE_FILES})")
    return entries, skipped


def _files_under(folder: Path) -> list[Path]:
    """Every visible file below `folder`, in any visible subfolder, sorted by path."""
    return sorted(
        path
        for path in folder.rglob("*")
        if _visible_file(path) and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def _visible_file(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".")


def _from_table(path: Path, options: ImportOptions) -> list[ImageSource]:
    table = read_csv(path)
    subject_column = options.subject_column
    if subject_column is None and "Subject_ID" in table.columns:
        subject_column = "Subject_ID"
    for column, option in (
        (options.file_column, "--file-column"),
        (options.group_column, "--group-column"),
        (subject_column, "--subject-column"),
    ):
        if column is not None and column not in table.columns:
            raise InputError(
                f"{path}: has no column {column!r} (columns: {shown_list(list(table.columns), 'columns')}); "
                f"name it with {option}"
            )
    if table.empty:
        raise InputError(f"{path}: the table has no rows")
    taken = (options.file_column, options.group_column, subject_column, *LABELS_COLUMNS)
    carried = [column for column in table.columns if column not in taken]  # ours win a name clash
    entries = []
    for number, row in enumerate(table.to_dict("records"), start=2):  # line 1 is the header
        for column in (options.file_column, options.group_column, subject_column):
            if column is not None and (pd.isna(row[column]) or not str(row[column]).strip()):
                raise InputError(f"{path}: row {number} has no {column}; every file needs one")
        listed = str(row[options.file_column]).strip()
        file = resolve_listed(Path(listed), path.parent)
        if not file.is_file():
            raise InputError(f"{path}: row {number} names {listed}, which does not exist")
        subject = str(row[subject_column]) if subject_column is not None else _subject_of(Path(listed))
        group = str(row[options.group_column]).strip()
        extra = {column: row[column] for column in carried}
        entries.append(ImageSource(file, group, subject, extra, subject_column is not None))
    return entries


def _subject_of(path: Path) -> str:
    """A file as its own subject: its path without the image suffix (`AD/scan01.png` -> `AD/scan01`)."""
    return (path.parent / image_stem(path)).as_posix()


LABELS_COLUMNS = ("Image_Index", "Subject_ID", "Group", "Label", "Source")


def readable_text(value: str) -> str:
    """A file name's text as valid UTF-8: bytes that are not (kept by Python as surrogates) become `\\udcXX`."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")
