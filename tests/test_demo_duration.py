"""The demo's measured duration is quoted once, the same way, in README.md, docs/demo.md and BENCHMARKS.md."""

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
DURATION = re.compile(r"(\d+) min (\d+) s")


def first_duration(text: str) -> str:
    found = DURATION.search(text)
    assert found, "no 'N min M s' duration"
    return found.group(0)


def section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start : end if end >= 0 else len(text)]


def test_readme_demo_page_and_benchmarks_quote_one_measured_duration() -> None:
    readme = (ROOT / "README.md").read_text()
    demo = (ROOT / "docs" / "demo.md").read_text()
    benchmarks = section((ROOT / "BENCHMARKS.md").read_text(), "## `make demo` from a fresh clone")
    readme_demo = readme[readme.index("`make demo` needs no data") :].split("\n\n")[0]
    measured = first_duration(benchmarks)
    assert first_duration(readme_demo) == measured
    assert first_duration(demo[demo.index("Measured from a fresh clone") :]) == measured
    minutes, seconds = (int(v) for v in DURATION.search(measured).groups())
    title = demo.splitlines()[0]
    assert f"about {round(minutes + seconds / 60)} minutes" in title
