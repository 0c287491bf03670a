"""The verdict table report.md leads with: its readings follow the stated rules."""

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import make_separable_images
from pacgan_cli.core.evaluation import classification, diversity, memorisation, tstr
from pacgan_cli.core.evaluation.evaluate import evaluate
from pacgan_cli.core.evaluation.inputs import ImageSet
from pacgan_cli.core.evaluation.options import EvaluationOptions
from pacgan_cli.core.evaluation.verdict import share_reading, verdict_markdown


def image_set(labels: np.ndarray, seed: int) -> ImageSet:
    return ImageSet(make_separable_images(labels, 16, seed), labels, f"set{seed}")


@pytest.mark.parametrize(
    ("synthetic", "reference", "reading"),
    [
        (0.95, 1.0, "close to real"),
        (0.9, 1.0, "close to real"),
        (0.7, 1.0, "below real"),
        (0.5, 1.0, "far below real"),
        (0.5, float("nan"), "no real reference"),
    ],
)
def test_shares_of_the_real_reference(synthetic: float, reference: float, reading: str) -> None:
    assert share_reading(synthetic, reference) == reading


def test_an_aspect_no_metric_measured_says_which_would() -> None:
    providers = {
        "fidelity": ["prdc", "ssim"],
        "diversity": ["diversity"],
        "class separability": ["tstr"],
        "memorisation": ["memorisation"],
    }
    assert verdict_markdown([], providers)[4:] == [
        "| fidelity | not measured | | | measured by prdc, ssim; not computed here |",
        "| diversity | not measured | | | measured by diversity; not computed here |",
        "| class separability | not measured | | | measured by tstr; not computed here |",
        "| memorisation | not measured | | | measured by memorisation; not computed here |",
    ]


def test_copies_of_the_training_images_and_one_repeated_image_are_named(tmp_path: Path) -> None:
    labels = np.arange(16) % 2
    real, train = image_set(labels, 1), image_set(labels, 2)
    copies = ImageSet(train.images.copy(), train.labels, "copies")
    options = EvaluationOptions(ssim_pairs=20, diversity_pairs=20)
    report = evaluate(real, copies, tmp_path / "a", metrics=["memorisation"], train=train, options=options)
    assert report.data["verdict"][0]["reading"] == "16 near-copies of training images"
    repeated = ImageSet(np.repeat(real.images[:2], 8, axis=0), np.repeat([0, 1], 8), "repeated")
    report = evaluate(real, repeated, tmp_path / "b", metrics=["diversity"], options=options)
    row = report.data["verdict"][0]
    assert row["aspect"] == "diversity" and row["reading"] == "much less diverse than real (mode collapse)"
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["verdict"] == report.data["verdict"]


def test_the_report_leads_with_the_verdict_in_the_order_of_the_four_questions(tmp_path: Path) -> None:
    labels = np.arange(16) % 2
    real, train, fake = image_set(labels, 1), image_set(labels, 2), image_set(labels, 3)
    options = EvaluationOptions(ssim_pairs=20, diversity_pairs=20)
    report = evaluate(
        real, fake, tmp_path / "r", train=train, options=options, metrics=["memorisation", "tstr", "ssim"]
    )
    text = report.markdown
    assert text.index("## Verdict") < text.index("## Inputs") < text.index("## SSIM")
    aspects = [row["aspect"] for row in report.data["verdict"]]
    assert aspects == ["fidelity", "class separability", "memorisation"]
    table = text[text.index("## Verdict") : text.index("How each reading")]
    assert table.index("| fidelity |") < table.index("| diversity | not measured |")
    assert (
        table.index("| diversity |") < table.index("| class separability |") < table.index("| memorisation |")
    )
    assert "carries the class difference as real images do" in table
    assert "How each reading is made" in text


def test_readings_of_classifiers() -> None:
    scores = {
        "logistic_regression": {
            "synthetic": {"auc_macro": 0.6, "note": ""},
            "real": {"auc_macro": 0.7, "note": ""},
        },
        "small_cnn": {"synthetic": {"auc_macro": 0.75, "note": ""}, "real": {"auc_macro": 0.9, "note": ""}},
    }
    row = tstr.verdict({"classifiers": scores})[0]
    assert "small cnn" in row.measure and row.reading == "carries part of the class difference"  # 0.25 / 0.4
    scores["small_cnn"]["synthetic"]["auc_macro"] = 0.55
    assert tstr.verdict({"classifiers": scores})[0].reading == "hardly carries the class difference"
    scores["small_cnn"]["real"]["auc_macro"] = scores["logistic_regression"]["real"]["auc_macro"] = 0.52
    assert "not separable" in tstr.verdict({"classifiers": scores})[0].reading
    head = {"real": {"auc_macro": 0.813}, "synthetic": {"auc_macro": 0.95}}
    assert classification.verdict(head)[0].reading == "the classifier: excellent on real images"


def test_readings_of_diversity_and_memorisation() -> None:
    def diversity_reading(fake: float, real: float) -> str:
        data = {"synthetic": {"mean": fake}, "real": {"mean": real}, "difference": fake - real}
        return diversity.verdict(data)[0].reading

    assert diversity_reading(0.52, 0.5) == "as diverse as real"
    assert diversity_reading(0.65, 0.5) == "less diverse than real"
    assert diversity_reading(0.75, 0.5) == "much less diverse than real (mode collapse)"
    assert diversity_reading(0.3, 0.5).startswith("more varied than real")

    def memorisation_reading(flagged: float, copies: list[int]) -> str:
        data = {
            "copies": copies,
            "flagged_fraction": flagged,
            "quantile": 0.05,
            "reference_set": "training images",
            "baseline": "held-out",
            "copy_tolerance": 0.02,
        }
        return memorisation.verdict(data)[0].reading

    assert memorisation_reading(0.08, []) == "no sign of copying"
    assert memorisation_reading(0.2, []) == "closer to the training images than unseen real images are"
    assert memorisation_reading(0.0, [3]) == "1 near-copies of training images"
