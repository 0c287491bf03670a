"""The design card's command lines (SPEC §1) as a user types them, one after another in one folder: after
`pacgan train --config pacgan.yaml`, `generate` and `classify` need no --model and no -o."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from helpers import make_cohort, make_images, run_cli, tiny_config, write_config
from pacgan_cli.core.io.nifti import read_stack, write_stack
from pacgan_cli.core.io.tables import read_csv


def test_the_design_cards_lines_work_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cohort = make_cohort(subjects=40, age_gap=3.0, seed=8, max_images=1)
    cohort.to_csv("cohort.csv", index=False)
    write_stack(Path("data/all_slices.nii.gz"), make_images(len(cohort), 8))
    write_config(Path("pacgan.yaml"), tiny_config(Path("data"), factors=[1, 1]))

    def pacgan(line: str) -> tuple[str, str]:
        code, out, err = run_cli(line.split(), capsys)
        assert code == 0, f"{line}: {err}"
        return out, err

    pacgan("match cohort.csv -o data/matched.csv")
    pacgan("split data/all_slices.nii.gz data/matched.csv -o data/")
    pacgan("train --config pacgan.yaml")
    generator = Path("saved_models/PACGAN/PACGAN_8x8/generator_best.pt")
    assert generator.is_file() and Path(".pacgan/last_run.json").is_file()

    out, err = pacgan("generate --per-class 100 100")
    assert err.splitlines()[0] == (
        f"using {generator}, the best generator of the largest stage (8x8) of the run last trained from this "
        "folder (.pacgan/last_run.json; --model picks another)"
    )
    synthetic = Path("saved_images/PACGAN/generated/synthetic_1.nii.gz")
    assert f"wrote {synthetic}" in out.splitlines()
    assert read_stack(synthetic).shape == (200, 1, 8, 8)
    labels = pd.read_csv(synthetic.with_name("synthetic_1_labels.csv"))
    assert labels.Label.value_counts().to_dict() == {0: 100, 1: 100}
    out, _ = pacgan("generate --per-class 100 100")  # again: a new file, the first one kept
    assert "wrote saved_images/PACGAN/generated/synthetic_2.nii.gz" in out.splitlines()

    shutil.copy("data/test/Real8x8.nii.gz", "scans.nii.gz")
    out, err = pacgan("classify scans.nii.gz")
    assert err.splitlines()[0].startswith(
        "using saved_models/PACGAN/PACGAN_8x8/discriminator_best.pt, the best discriminator"
    )
    assert "wrote scans_predictions.csv" in out.splitlines()
    predictions = read_csv(Path("scans_predictions.csv"))
    assert len(predictions) == len(read_stack(Path("scans.nii.gz")))
    assert list(predictions.columns)[1:] == ["Predictions for scans.nii.gz", "Class 0", "Class 1"]
