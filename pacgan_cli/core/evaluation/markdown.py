"""User text in report.md: class names, file paths and the reasons a metric was skipped are shown as written,
never read as HTML, emphasis, a link, math, a heading or a table's column break."""

from __future__ import annotations

import re

# Markdown's inline syntax, GFM's table pipe and strikethrough, and GitHub's math take a backslash; `<` (raw
# HTML) and `&` (an entity) become entities, as does `>`, which some renderers read as HTML too.
_ESCAPES = str.maketrans(
    {**{character: "\\" + character for character in "\\`*_[]|#!~$"}, "<": "&lt;", ">": "&gt;", "&": "&amp;"}
)


def markdown_text(text: str) -> str:
    """`text` as literal inline Markdown on one line (line breaks become spaces), safe inside a table cell."""
    return " ".join(str(text).splitlines()).translate(_ESCAPES)


def markdown_code(text: str) -> str:
    """`text` (a file path) as an inline code span, where nothing is markup: its fence has more backticks than
    any run inside it; line breaks become spaces."""
    text = " ".join(str(text).splitlines())
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"
