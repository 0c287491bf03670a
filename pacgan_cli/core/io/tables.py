"""The project's CSV files: `labels.csv` (ID, Label, Subject_ID), `labels_syn.csv` (ID, Label) and
the predictions table in the published column layout."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pacgan_cli.core.errors import InputError, error_reason
from pacgan_cli.core.io.atomic import atomic_path, ensure_can_write

LABEL_COLUMNS = ("ID", "Label", "Subject_ID")
# Text starting with one of these, after spaces and line breaks, runs as a formula in a spreadsheet
# (OWASP, CSV injection); so does text starting with a tab.
FORMULA_SIGNS = ("=", "+", "-", "@")
NEGATIVE_NUMBER = re.compile(r"-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def read_labels(
    path: str | os.PathLike[str],
    image_count: int | None = None,
    num_classes: int | None = None,
    require_subject: bool = True,
) -> pd.DataFrame:
    """Read and check a labels table; rows come back sorted by ID.

    `ID` indexes the image stack (0-based), `Label` is the class 0..K-1, `Subject_ID` groups images of one
    subject. Raises InputError naming the first problem found.
    """
    path = Path(path)
    table = read_csv(path)
    needed = LABEL_COLUMNS if require_subject else LABEL_COLUMNS[:2]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)}; a labels file needs the columns {', '.join(needed)}"
        )
    if table.empty:
        raise InputError(f"{path}: the labels file has no rows")
    for column in ("ID", "Label"):
        values = pd.to_numeric(table[column], errors="coerce")
        if values.isna().any() or (values != np.round(values)).any():
            row = int(np.flatnonzero(values.isna() | (values != np.round(values)))[0])
            raise InputError(
                f"{path}: column {column} must hold whole numbers; row {row + 1} has {table[column].iloc[row]!r}"
            )
        table[column] = values.astype(np.int64)
    if table["ID"].duplicated().any():
        duplicate = int(table.loc[table["ID"].duplicated(), "ID"].iloc[0])
        raise InputError(f"{path}: image ID {duplicate} appears more than once")
    if image_count is not None:
        outside = table[(table["ID"] < 0) | (table["ID"] >= image_count)]
        if not outside.empty:
            raise InputError(
                f"{path}: image ID {int(outside['ID'].iloc[0])} is outside the stack, which holds "
                f"{image_count} images (IDs 0..{image_count - 1})"
            )
    outside = table["Label"] < 0
    if num_classes is not None:
        outside |= table["Label"] >= num_classes
    if outside.any():
        label = int(table.loc[outside, "Label"].iloc[0])
        if num_classes is None:
            raise InputError(f"{path}: label {label} is negative; classes are numbered 0, 1, ...")
        raise InputError(
            f"{path}: label {label} is outside 0..{num_classes - 1}; "
            f"set class_size to the number of classes or fix the labels"
        )
    if require_subject:
        if table["Subject_ID"].isna().any():
            raise InputError(f"{path}: Subject_ID is empty in some rows; every image needs its subject")
        table["Subject_ID"] = table["Subject_ID"].astype(str)
    return table.sort_values("ID").reset_index(drop=True)


def read_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV file with one clear error for a missing or unparsable file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot be read as CSV ({error_reason(error)})") from error


def write_labels(path: str | os.PathLike[str], table: pd.DataFrame, force: bool = False) -> Path:
    """Write a labels table with the columns ID, Label, Subject_ID (those present)."""
    columns = [c for c in LABEL_COLUMNS if c in table.columns]
    return write_csv(path, table[columns], force=force)


def write_synthetic_labels(path: str | os.PathLike[str], labels: np.ndarray, force: bool = False) -> Path:
    """Write `labels_syn.csv`: one row per generated image, ID in stack order."""
    table = pd.DataFrame({"ID": np.arange(len(labels)), "Label": np.asarray(labels, dtype=np.int64)})
    return write_csv(path, table, force=force)


def write_predictions(
    path: str | os.PathLike[str], probabilities: np.ndarray, source: str, force: bool = False
) -> Path:
    """Write predictions as the published `Discriminator.py` does: index, arg-max class, `Class k` columns."""
    probabilities = np.asarray(probabilities)
    table = pd.DataFrame(probabilities, columns=[f"Class {k}" for k in range(probabilities.shape[1])])
    table.insert(0, f"Predictions for {source}", probabilities.argmax(axis=1))
    return write_csv(path, table, force=force, index=True)


def write_csv(
    path: str | os.PathLike[str], table: pd.DataFrame, force: bool = False, index: bool = False
) -> Path:
    """Write a table atomically, refusing to overwrite without `force`.

    Text that a spreadsheet would run as a formula (`=cmd|...`, `+1`, `-1+1`, `@SUM(...)`) gets a leading
    single quote, in cells and column names alike: tables copy users' cells into files people open in a
    spreadsheet. Numbers, and text that is a plain negative number (`-1.5`), are written as they are.
    """
    path = Path(path)
    ensure_can_write(path, force=force)
    with atomic_path(path) as temporary:
        neutralise_formulas(table).to_csv(temporary, index=index)
    return path


def neutralise_formulas(table: pd.DataFrame) -> pd.DataFrame:
    """`table` with every formula-like text cell and column name prefixed by `'` (a copy where any is).

    A carriage return inside text becomes a line feed: pandas quotes a cell with a line feed but not one
    with a bare carriage return, which readers take for the end of the row (`a\\r=cmd` would start a row
    with a formula).
    """
    safe = table
    for position in range(table.shape[1]):
        values = table.iloc[:, position]
        if pd.api.types.is_numeric_dtype(values):
            continue
        if any(_neutral_cell(cell) is not cell for cell in values):
            if safe is table:
                safe = table.copy()
            safe.isetitem(position, values.map(_neutral_cell))
    if any(_neutral_cell(name) is not name for name in table.columns):
        safe = safe.set_axis([_neutral_cell(name) for name in table.columns], axis=1)
    return safe


def _neutral_cell(cell: Any) -> Any:
    """The cell as it is safe to write; the same object when nothing needs changing."""
    if not isinstance(cell, str):
        return cell
    text = cell.replace("\r\n", "\n").replace("\r", "\n") if "\r" in cell else cell
    lead = text.lstrip()
    if text.startswith("\t") or (lead.startswith(FORMULA_SIGNS) and not NEGATIVE_NUMBER.fullmatch(lead)):
        return "'" + text
    return text
