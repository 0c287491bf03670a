"""The verdict table report.md leads with: its readings follow the stated rules."""

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import make_separable_images, use_pooled_pixel_features
from pacgan_cli.core.evaluation import classification, diversity, memorisation, tstr
from pacgan_cli.core.evaluation.evaluate import evaluate
from pacgan_cli.core.evaluation.inputs import ImageSet
from pacgan_cli.core.evaluation.options import EvaluationOptions
from pacgan_cli.core.evaluation.verdict import VerdictRow, share_reading, verdict_markdown


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
        "augmentation": ["augmentation_gain (needs the training images)"],
        "fidelity": ["prdc (needs the InceptionV3 weights)"],
        "diversity": ["diversity"],
        "class separability": ["tstr"],
        "calibration": ["classification"],
        "memorisation": ["memorisation"],
    }
    assert verdict_markdown([], providers, set())[4:] == [
        "| augmentation | not measured | | | measured by augmentation_gain (needs the training images); "
        "not computed here |",
        "| fidelity | not measured | | | measured by prdc (needs the InceptionV3 weights); not computed here |",
        "| diversity | not measured | | | measured by diversity; not computed here |",
        "| class separability | not measured | | | measured by tstr; not computed here |",
        "| calibration | not measured | | | measured by classification; not computed here |",
        "| memorisation | not measured | | | measured by memorisation; not computed here |",
    ]


def test_a_check_under_an_aspect_does_not_stand_in_for_its_measure() -> None:
    check = VerdictRow("fidelity", "pixel artifacts", "0", "0", "none", "any pixel is an artifact")
    lines = verdict_markdown([check], {"fidelity": ["prdc"]}, set())
    fidelity = [line for line in lines if line.startswith("| fidelity")]
    assert fidelity == [
        "| fidelity | not measured | | | measured by prdc; not computed here |",
        "| fidelity | pixel artifacts | 0 | 0 | none |",
    ]
    assert "| fidelity | not measured" not in "\n".join(verdict_markdown([check], {}, {"fidelity"}))


def test_a_rule_shared_by_several_rows_is_printed_once() -> None:
    rows = [VerdictRow("augmentation", f"gain {name}", "", "", "", "the same rule") for name in "ab"]
    assert verdict_markdown(rows, {}, {"augmentation"})[-1] == "- the augmentation rows: the same rule"


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


def test_the_report_leads_with_the_verdict_in_the_order_of_the_questions(tmp_path: Path) -> None:
    labels = np.arange(16) % 2
    real, train, fake = image_set(labels, 1), image_set(labels, 2), image_set(labels, 3)
    options = EvaluationOptions(ssim_pairs=20, diversity_pairs=20)
    report = evaluate(
        real, fake, tmp_path / "r", train=train, options=options, metrics=["memorisation", "tstr", "ssim"]
    )
    text = report.markdown
    assert text.index("## Verdict") < text.index("## Inputs") < text.index("## SSIM")
    aspects = [row["aspect"] for row in report.data["verdict"]]
    assert aspects == ["class separability", "memorisation"]  # SSIM reads no verdict
    table = text[text.index("## Verdict") : text.index("How each reading")]
    assert (
        table.index("| augmentation | not measured |")
        < table.index("| fidelity | not measured |")
        < table.index("| diversity | not measured |")
        < table.index("| class separability |")
        < table.index("| calibration | not measured |")
        < table.index("| memorisation |")
    )
    assert "carries the class difference as real images do" in table
    assert "How each reading is made" in text


def test_fidelity_is_read_from_prdc_never_from_ssim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's case: near-copies of a few images (a collapsed generator) are as alike to real images as
    real ones are by SSIM; fidelity stays unmeasured without prdc, and diversity names the collapse."""
    labels = np.arange(24) % 2
    real = image_set(labels, 1)
    rng = np.random.default_rng(0)
    collapsed_images = np.tile(real.images[:2], (12, 1, 1, 1)) + rng.normal(0, 0.01, (24, 1, 16, 16))
    collapsed = ImageSet(
        np.clip(collapsed_images, -1, 1).astype(np.float32), np.tile([0, 1], 12), "collapsed"
    )
    options = EvaluationOptions(ssim_pairs=30, diversity_pairs=30, prdc_k=3)
    report = evaluate(
        real, collapsed, tmp_path / "a", metrics=["ssim", "diversity", "artifacts"], options=options
    )
    rows = {row["aspect"]: row for row in report.data["verdict"]}
    assert rows["diversity"]["reading"] == "much less diverse than real (mode collapse)"
    assert rows["fidelity"]["measure"] == "pixels of the mean synthetic image outside every real value"
    assert (
        "| fidelity | not measured | | | measured by prdc (needs the InceptionV3 weights)" in report.markdown
    )
    use_pooled_pixel_features(monkeypatch, tmp_path)
    report = evaluate(real, collapsed, tmp_path / "b", metrics=["prdc", "ssim"], options=options)
    fidelity = [row for row in report.data["verdict"] if row["aspect"] == "fidelity"]
    assert [row["measure"] for row in fidelity] == ["precision / density (k=3)"]
    assert "| fidelity | not measured" not in report.markdown


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


def head_data(
    auc: float, interval: tuple[float, float], baselines: dict[str, tuple[float, tuple[float, float]]] | None
) -> dict:
    """The classification section's data as far as its verdict reads it."""
    calibration = {"ece": 0.02, "brier": 0.1, "mean_confidence": 0.9, "accuracy": 0.9, "images": 40}
    return {
        "real": {"auc_macro": auc, "auc_interval": list(interval), "calibration": calibration},
        "synthetic": {"auc_macro": 0.99, "calibration": calibration},
        "confidence": 0.95,
        "baselines": None
        if baselines is None
        else {
            name: {"auc_macro": value, "head_minus_baseline": {"auc_interval": list(difference)}}
            for name, (value, difference) in baselines.items()
        },
    }


def test_the_discriminator_is_read_against_the_baselines_on_the_same_images_and_chance() -> None:
    both = {"logistic_regression": (0.970, (-0.04, -0.005)), "small_cnn": (0.90, (0.01, 0.09))}
    row = classification.verdict(head_data(0.948, (0.9, 0.99), both))[0]
    assert row.reading == "below the pixel logistic regression trained on the same images (0.948 vs 0.970)"
    assert row.reference == "0.970 (pixel logistic regression, same training images)"
    assert "outstanding" not in row.reading + row.rule
    above = {"logistic_regression": (0.80, (0.05, 0.2)), "small_cnn": (0.85, (0.02, 0.15))}
    row = classification.verdict(head_data(0.948, (0.9, 0.99), above))[0]
    assert row.reading == "above the small CNN trained on the same images (0.948 vs 0.850)"
    par = {"logistic_regression": (0.95, (-0.03, 0.02)), "small_cnn": (0.85, (0.02, 0.15))}
    row = classification.verdict(head_data(0.948, (0.9, 0.99), par))[0]
    assert row.reading.startswith("on par with the pixel logistic regression trained on the same images")
    row = classification.verdict(head_data(0.56, (0.45, 0.66), both))[0]
    assert row.reading == "no better than chance (AUC 0.5 lies in its 95% interval)"
    row = classification.verdict(head_data(0.948, (0.9, 0.99), None))[0]
    assert row.reading.startswith("above chance; not compared") and row.reference == "0.5 (chance)"


def test_the_calibration_reading() -> None:
    data = head_data(0.9, (0.8, 0.95), None)
    assert classification.verdict(data)[1].reading == "calibrated on real images"
    data["real"]["calibration"] = {
        "ece": 0.2,
        "brier": 0.4,
        "mean_confidence": 0.97,
        "accuracy": 0.77,
        "images": 40,
    }
    row = classification.verdict(data)[1]
    assert row.aspect == "calibration"
    assert (
        row.reading == "overconfident on real images: mean top-class probability 0.97 against accuracy 0.77"
    )
    assert row.reference == "0.200 (real test images, n=40; Brier 0.400)"
    data["real"]["calibration"]["mean_confidence"] = 0.6
    assert classification.verdict(data)[1].reading.startswith("underconfident on real images")


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
