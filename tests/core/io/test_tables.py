"""The one CSV writer neutralises spreadsheet formulas in text cells and leaves numbers alone."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from pacgan_cli.core.io.tables import read_csv, write_csv

HOSTILE = ["=cmd|' /C calc'!A0", "+1", "-1+1", "@SUM(A1:A2)", "\t=1", "  =1+1", "\n=1"]


def written_cells(path: Path) -> list[list[str]]:
    """The cells exactly as a spreadsheet receives them (quoting undone, nothing else)."""
    with path.open(newline="") as file:
        return list(csv.reader(file))


def test_formula_text_cells_get_a_leading_quote(tmp_path: Path) -> None:
    table = pd.DataFrame({"Subject_ID": [*HOSTILE, "S_0001"], "Age": [70.5] * (len(HOSTILE) + 1)})
    write_csv(tmp_path / "t.csv", table)
    header, *rows = written_cells(tmp_path / "t.csv")
    assert header == ["Subject_ID", "Age"]
    assert [row[0] for row in rows] == [*("'" + cell for cell in HOSTILE), "S_0001"]
    assert table.Subject_ID.iloc[0] == HOSTILE[0]  # the caller's table is not changed


def test_a_carriage_return_cannot_start_a_row(tmp_path: Path) -> None:
    """pandas leaves a bare CR unquoted; as a line feed the cell is quoted and stays one cell."""
    table = pd.DataFrame({"Subject_ID": ["\r=1", "a\r=cmd", "b\r\nc"], "Age": [1, 2, 3]})
    write_csv(tmp_path / "t.csv", table)
    assert written_cells(tmp_path / "t.csv") == [
        ["Subject_ID", "Age"],
        ["'\n=1", "1"],
        ["a\n=cmd", "2"],
        ["b\nc", "3"],
    ]


def test_numbers_stay_numbers_whatever_the_column_dtype(tmp_path: Path) -> None:
    """A negative age is a number in a float column, and stays one in a text column (mixed with text)."""
    source = tmp_path / "in.csv"
    source.write_text("Age,Note,Score\n-1.5,-0.5e3,3\nunknown,-1+1,-4\n")
    table = read_csv(source)
    assert pd.api.types.is_numeric_dtype(table.Score)
    assert not pd.api.types.is_numeric_dtype(table.Age)  # "unknown" makes the column text
    write_csv(tmp_path / "out.csv", table)
    assert written_cells(tmp_path / "out.csv") == [
        ["Age", "Note", "Score"],
        ["-1.5", "-0.5e3", "3"],
        ["unknown", "'-1+1", "-4"],
    ]
    numbers = pd.DataFrame({"Age": [-1.5, 2.0], "Count": [-1, 2], "Mixed": [-3, "-4+1"]})
    write_csv(tmp_path / "numbers.csv", numbers)
    assert written_cells(tmp_path / "numbers.csv")[1:] == [["-1.5", "-1", "-3"], ["2.0", "2", "'-4+1"]]


def test_formula_column_names_and_categorical_cells_are_neutralised(tmp_path: Path) -> None:
    table = pd.DataFrame({"=HYPERLINK(1)": ["a"], "Group": pd.Categorical(["@x"])})
    write_csv(tmp_path / "t.csv", table)
    assert written_cells(tmp_path / "t.csv") == [["'=HYPERLINK(1)", "Group"], ["a", "'@x"]]
