"""What report.md tells a reader: class names, every figure linked, honest pair counts and wording."""

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


def test_ssim_states_the_number_of_distinct_pairs_used(tmp_path: Path) -> None:
    real = separable_set(20, 1)  # 10 per class: 45 distinct pairs each, whatever --ssim-pairs asks
    report = evaluate(
        real,
        separable_set(40, 2),
        tmp_path / "r",
        metrics=["ssim"],
        options=EvaluationOptions(ssim_pairs=1000),
    )
    ssim = report.data["metrics"]["ssim"]
    assert [c["pairs"] for c in ssim["real_real"]["per_class"]] == [45, 45]
    assert [c["pairs"] for c in ssim["real_fake"]["per_class"]] == [200, 200]  # 10 x 20
    assert [c["pairs"] for c in ssim["fake_fake"]["per_class"]] == [190, 190]
    row = next(line for line in report.markdown.splitlines() if line.startswith("| real-real |"))
    assert row.count("(n=45)") == 2
    assert "1000 random pairs per class" not in report.markdown
    assert "number of distinct pairs used per class: up to 1000" in report.markdown


def test_memorisation_table_names_the_nearest_training_image(tmp_path: Path) -> None:
    report = evaluate(
        separable_set(12, 1),
        separable_set(10, 2),
        tmp_path / "r",
        metrics=["memorisation"],
        train=separable_set(14, 3),
    )
    assert "| synthetic -> nearest training image |" in report.markdown
    alone = evaluate(separable_set(12, 1), separable_set(10, 2), tmp_path / "a", metrics=["memorisation"])
    assert "| synthetic -> nearest real image |" in alone.markdown


@pytest.mark.parametrize(
    ("size", "names", "shown"),
    [(16, ("CN", "AD"), False), (256, ("CN", "AD"), True), (256, (), False), (256, ("HC", "PD"), False)],
)
def test_published_auc_is_context_only_for_adni_like_data(
    tmp_path: Path, size: int, names: tuple[str, ...], shown: bool
) -> None:
    report = evaluate(
        separable_set(6, 1, size),
        separable_set(6, 2, size),
        tmp_path / "r",
        metrics=["classification"],
        discriminator=small_discriminator(tmp_path, size),
        options=EvaluationOptions(class_names=names),
    )
    assert ("0.813" in report.markdown) is shown


def test_a_bright_corner_in_every_synthetic_image_is_reported_with_its_voxel(tmp_path: Path) -> None:
    real, fake = separable_set(12, 1), separable_set(10, 2)
    real.images[:, :, 0, :] = -1  # a dark top row, like a brain slice's background
    fake.images[:, :, 0, :] = -1
    fake.images[:, 0, 0, -1] = -0.25  # the demo's corner: row 0, last column
    report = evaluate(real, fake, tmp_path / "r", metrics=["artifacts"], options=EvaluationOptions())
    assert "| (0, 15) | (15, 0) | -0.250 | -1.000 | -1.000 .. -1.000 |" in report.markdown
    assert report.data["metrics"]["artifacts"]["flagged_count"] == 1
    assert any(line.startswith("artifacts: 1 pixel(s)") for line in report.summary_lines())
