"""User text in report.md reads as written: no HTML, emphasis, links, math or extra table columns."""

import re

from pacgan_cli.core.evaluation.markdown import markdown_code, markdown_text


def test_markup_in_user_text_is_escaped_on_one_line() -> None:
    assert markdown_text("<b>A&B</b>") == "&lt;b&gt;A&amp;B&lt;/b&gt;"
    assert markdown_text("a|b *c* _d_ [e](f) `g` $h$ #i ~j~ !k \\") == (
        "a\\|b \\*c\\* \\_d\\_ \\[e\\](f) \\`g\\` \\$h\\$ \\#i \\~j\\~ \\!k \\\\"
    )
    assert markdown_text("first\nsecond\r\nthird") == "first second third"
    assert markdown_text("CN") == "CN"


def test_a_path_is_a_code_span_whose_fence_outruns_its_backticks() -> None:
    assert markdown_code("data/Real16x16.nii.gz") == "`data/Real16x16.nii.gz`"
    assert markdown_code("a``b") == "```a``b```"
    assert markdown_code("`x") == "`` `x ``"
    assert markdown_code("a\nb") == "`a b`"


def test_an_escaped_text_keeps_a_table_row_at_its_columns() -> None:
    row = f"| {markdown_text('<script>alert(1)</script>|x')} | {markdown_text('a|b|c')} |"
    assert len(re.split(r"(?<!\\)\|", row)) == 4
