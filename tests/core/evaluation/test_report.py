"""What report.md tells a reader: class names, and every figure linked."""

import json
import re
from pathlib import Path

import pytest

from helpers import separable_set, small_discriminator
from pacgan_cli.core.errors import ConfigError
from pacgan_cli.core.evaluation.evaluate import evaluate
from pacgan_cli.core.evaluation.options import EvaluationOptions


def linked_files(markdown: str) -> set[str]:
    return set(re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown))


def test_every_figure_written_is_linked_from_the_report(tmp_path: Path) -> None:
    out = tmp_path / "report"
    report = evaluate(
        separable_set(12, 1),
        separable_set(10, 2),
        out,
        metrics=["ssim", "memorisation", "artifacts", "classification"],
        train=separable_set(14, 3),
        discriminator=small_discriminator(tmp_path),
        options=EvaluationOptions(ssim_pairs=20),
    )
    written = {path.name for path in out.glob("*.png")}
    assert written >= {
        "samples.png",
        "closest_pairs.png",
        "artifacts.png",
        "roc_real.png",
        "roc_synthetic.png",
    }
    assert linked_files(report.markdown) == written
    assert {p.name for p in report.files if p.suffix == ".png"} == written


def test_class_names_label_tables_and_legend_but_not_the_data(tmp_path: Path) -> None:
    options = EvaluationOptions(ssim_pairs=20, class_names=("CN", "AD"))
    report = evaluate(
        separable_set(12, 1), separable_set(10, 2), tmp_path / "r", metrics=["ssim"], options=options
    )
    assert "- Classes: 0 = CN, 1 = AD" in report.markdown
    assert "| pairs | all classes | CN | AD |" in report.markdown
    data = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert data["inputs"]["class_names"] == ["CN", "AD"]
    assert len(data["metrics"]["ssim"]["real_fake"]["per_class"]) == 2
    unnamed = evaluate(separable_set(12, 1), separable_set(10, 2), tmp_path / "u", metrics=["ssim"])
    assert "| pairs | all classes | class 0 | class 1 |" in unnamed.markdown
    assert "Classes:" not in unnamed.markdown
    with pytest.raises(ConfigError, match="--class-names: 3 name"):
        evaluate(
            separable_set(12, 1),
            separable_set(10, 2),
            tmp_path / "x",
            metrics=["ssim"],
            options=EvaluationOptions(class_names=("CN", "MCI", "AD")),
        )


def test_class_names_default_to_those_the_discriminator_was_trained_with(tmp_path: Path) -> None:
    model = small_discriminator(tmp_path, config={"class_names": ["HC", "PD"]})
    report = evaluate(
        separable_set(12, 1),
        separable_set(10, 2),
        tmp_path / "r",
        metrics=["classification"],
        discriminator=model,
    )
    assert "| images | AUC (macro) | AUC HC | AUC PD | accuracy | cross-entropy |" in report.markdown
    assert "0 = HC, 1 = PD" in report.markdown


def test_class_names_reach_the_report_as_text_and_its_tables_keep_their_columns(
    tmp_path: Path, small_extractor: None
) -> None:
    names = ("<script>alert(1)</script>|x", "*AD*_[1](u)`\nB")
    options = EvaluationOptions(ssim_pairs=20, prdc_k=50, class_names=names, unavailable="skip")
    report = evaluate(
        separable_set(12, 1), separable_set(10, 2), tmp_path / "r", metrics=["ssim", "prdc"], options=options
    )
    first, second = "&lt;script&gt;alert(1)&lt;/script&gt;\\|x", "\\*AD\\*\\_\\[1\\](u)\\` B"
    markdown = report.markdown
    assert "<script>" not in markdown and "*AD*" not in markdown
    assert f"- Classes: 0 = {first}, 1 = {second} (the label numbers" in markdown
    header = next(line for line in markdown.splitlines() if line.startswith("| pairs |"))
    assert [cell.strip() for cell in re.split(r"(?<!\\)\|", header)[1:-1]] == [
        "pairs",
        "all classes",
        first,
        second,
    ]
    skipped = next(line for line in markdown.splitlines() if line.startswith("- **PRDC skipped**"))
    assert first in skipped and "<" not in skipped
