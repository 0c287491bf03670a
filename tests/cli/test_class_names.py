"""`class_names` / `--class-names`: names in grids, plots and reports; numbers in every file."""

from pathlib import Path
from typing import Any

import pytest
import torch

from helpers import run_cli, tiny_config, write_config, write_data_folder
from pacgan_cli.cli.options import class_name_list, spread_option_values
from pacgan_cli.core import figures
from pacgan_cli.core.classes import class_titles
from pacgan_cli.core.io.tables import read_csv
from pacgan_cli.core.models.checkpoint import (
    DISCRIMINATOR,
    GENERATOR,
    NetworkArchitecture,
    load_checkpoint,
    save_checkpoint,
)

ARCHITECTURE = NetworkArchitecture(8, (1.0, 1.0, 1.0), 1, 2, 6, 2)


@pytest.fixture
def row_titles(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The row titles of every image grid that `save_image_rows` draws."""
    seen: list[list[str]] = []
    original = figures.save_image_rows

    def spy(path: Any, rows: Any, titles: Any, **options: Any) -> Path:
        seen.append(list(titles))
        return original(path, rows, titles, **options)

    monkeypatch.setattr(figures, "save_image_rows", spy)
    return seen


@pytest.fixture
def tick_labels(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The class tick labels of every confusion matrix drawn."""
    seen: list[list[str]] = []
    original = figures.save_confusion_matrix

    def spy(path: Any, counts: Any, normalised: Any, title: str, class_names: Any = ()) -> Path:
        seen.append(class_titles(class_names, len(counts)))
        return original(path, counts, normalised, title, class_names)

    monkeypatch.setattr(figures, "save_confusion_matrix", spy)
    return seen


def test_values_after_a_multi_value_option_are_spread_one_by_one() -> None:
    assert spread_option_values(["generate", "--class-names", "CN", "AD", "-o", "x"]) == [
        "generate",
        "--class-names",
        "CN",
        "--class-names",
        "AD",
        "-o",
        "x",
    ]
    assert spread_option_values(["classify", "s.nii.gz", "--class-names", "CN,AD"]) == [
        "classify",
        "s.nii.gz",
        "--class-names",
        "CN,AD",
    ]
    assert spread_option_values(["x", "--class-names"]) == ["x", "--class-names"]  # click reports it
    assert spread_option_values(["x", "--class-names", "--force"]) == ["x", "--class-names", "--force"]
    assert spread_option_values(["x", "--", "--class-names", "A"]) == ["x", "--", "--class-names", "A"]
    assert class_name_list(["CN,AD"]) == class_name_list(["CN", "AD"]) == ("CN", "AD")
    assert class_name_list(None) == ()


def test_generate_names_the_preview_rows(tmp_path: Path, capsys, row_titles) -> None:
    torch.manual_seed(0)
    model = save_checkpoint(
        tmp_path / "G.pt", ARCHITECTURE.build(GENERATOR), ARCHITECTURE, epoch=1, stage=2, alpha=1
    )
    out = tmp_path / "synth.nii.gz"
    args = ["generate", "-m", str(model), "--per-class", "2", "3", "-o", str(out), "-q"]
    code, _, stderr = run_cli(
        [*args, "--class-names", "CN", "AD", "--preview", str(tmp_path / "p.png")], capsys
    )
    assert code == 0, stderr
    assert row_titles == [["CN", "AD"]]
    assert list(read_csv(tmp_path / "synth_labels.csv")["Label"]) == [0, 0, 1, 1, 1]
    code, _, stderr = run_cli(
        [*args, "--force", "--class-names", "CN", "--preview", str(tmp_path / "q.png")], capsys
    )
    assert code == 2 and stderr.count("\n") == 1
    assert stderr.startswith("error: --class-names: 1 name(s) (CN) for 2 classes")


def test_classify_names_the_scores_and_figures_but_keeps_the_published_columns(
    tmp_path: Path, capsys, tick_labels
) -> None:
    torch.manual_seed(0)
    model = save_checkpoint(
        tmp_path / "D.pt",
        ARCHITECTURE.build(DISCRIMINATOR),
        ARCHITECTURE,
        epoch=1,
        stage=2,
        alpha=1,
        batch_statistic=0.4,
    )
    folder = write_data_folder(tmp_path / "test", 10, 16)
    out = tmp_path / "pred.csv"
    code, stdout, stderr = run_cli(
        [
            "classify",
            str(folder / "Real16x16.nii.gz"),
            "-m",
            str(model),
            "--labels",
            str(folder / "labels.csv"),
            "-o",
            str(out),
            "--class-names",
            "CN",
            "AD",
            "-q",
        ],
        capsys,
    )
    assert code == 0, stderr
    assert "per class [CN " in stdout and ", AD " in stdout
    assert list(read_csv(out).columns)[-2:] == ["Class 0", "Class 1"]
    assert '"class_names": [\n    "CN",\n    "AD"\n  ]' in (tmp_path / "pred_metrics.json").read_text()
    assert tick_labels == [["CN", "AD"]]


def test_a_training_config_names_grids_and_plots_and_its_models_carry_the_names(
    tiny_data: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, tick_labels, row_titles
) -> None:
    grid_rows: list[list[str]] = []
    original = figures._save

    def spy(figure: Any, path: Path) -> None:
        grid_rows.extend([label.get_text() for label in axis.get_yticklabels()] for axis in figure.axes)
        original(figure, path)

    monkeypatch.setattr(figures, "_save", spy)
    config = tiny_config(tiny_data, testing=True, test_using_best_model=False, class_names=["CN", "AD"])
    run = tmp_path / "run"
    code, _, stderr = run_cli(
        ["train", "-c", str(write_config(tmp_path / "c.yaml", config)), "-o", str(run), "-q"], capsys
    )
    assert code == 0, stderr
    assert ["CN", "AD"] in grid_rows  # sample grids
    assert tick_labels and all(
        labels == ["CN", "AD"] for labels in tick_labels
    )  # test-set confusion matrices
    generator = run / "PACGAN_16x16" / "generator_last.pt"
    assert load_checkpoint(generator).config["class_names"] == ["CN", "AD"]
    out = tmp_path / "s.nii.gz"
    args = [
        "generate",
        "-m",
        str(generator),
        "--total",
        "4",
        "-o",
        str(out),
        "--preview",
        str(tmp_path / "p.png"),
    ]
    assert run_cli([*args, "-q"], capsys)[0] == 0
    assert row_titles[-1] == ["CN", "AD"]  # no --class-names: the names the model was trained with


def test_evaluate_names_the_report(tmp_path: Path, capsys) -> None:
    real = write_data_folder(tmp_path / "test", 12, 16)
    fake = write_data_folder(tmp_path / "fake", 10, 16, seed=4)
    out = tmp_path / "report"
    code, _, stderr = run_cli(
        [
            "evaluate",
            "--real",
            str(real),
            "--fake",
            str(fake / "Real16x16.nii.gz"),
            "-o",
            str(out),
            "--metrics",
            "ssim",
            "--class-names",
            "CN",
            "AD",
            "-q",
        ],
        capsys,
    )
    assert code == 0, stderr
    text = (out / "report.md").read_text()
    assert "- Classes: 0 = CN, 1 = AD" in text and "| all classes | CN | AD |" in text


def test_names_that_matplotlib_would_parse_as_mathtext_are_drawn_in_every_figure(
    tiny_data: Path, tmp_path: Path, capsys
) -> None:
    names = ["$\\frac{1}$", "$\\unknown$ a$b"]  # each a mathtext parse error
    config = tiny_config(
        tiny_data,
        testing=True,
        test_using_best_model=False,
        generate=True,
        n_images_generated=[6],
        class_names=names,
    )
    run = tmp_path / "run"
    code, _, stderr = run_cli(
        ["train", "-c", str(write_config(tmp_path / "c.yaml", config)), "-o", str(run), "-q"], capsys
    )
    assert code == 0, stderr
    written = {path.name for path in run.rglob("*.png")}
    assert {"samples_epoch_0001.png", "test_confusion.png", "test_roc.png"} <= written  # training's figures
    assert {"samples.png", "confusion_real.png", "roc_real.png", "reliability.png"} <= written  # evaluation's
    preview = tmp_path / "p.png"
    generator = run / "PACGAN_16x16" / "generator_best.pt"
    args = ["generate", "-m", str(generator), "--total", "4", "-o", str(tmp_path / "s.nii.gz")]
    code, _, stderr = run_cli([*args, "--class-names", "\\", "$$", "--preview", str(preview), "-q"], capsys)
    assert code == 0, stderr
    assert preview.stat().st_size > 0
