from pathlib import Path

import numpy as np
import pytest
import yaml

from pacgan_cli import demo
from pacgan_cli.core.io.nifti import read_volume


def test_demo_dataset_is_deterministic_and_balanced(tmp_path: Path) -> None:
    table = demo.build_dataset(tmp_path / "a", tmp_path / "a.csv", subjects=4, seed=1)
    again = demo.build_dataset(tmp_path / "b", tmp_path / "b.csv", subjects=4, seed=1)
    assert again.equals(table)
    assert list(table.columns) == [
        "Image_Index",
        "Subject_ID",
        "Group",
        "Age",
        "Sex",
        "Ventricular_Expansion",
    ]
    assert list(table["Group"]) == ["CN", "AD", "CN", "AD"]
    low, high = demo.EXPANSION["AD"]
    assert all(low <= e <= high for e in table.loc[table["Group"] == "AD", "Ventricular_Expansion"])
    first, affine = read_volume(tmp_path / "a" / "sub-0000.nii.gz")
    np.testing.assert_array_equal(first, read_volume(tmp_path / "b" / "sub-0000.nii.gz")[0])
    assert affine[0, 0] == demo.VOXEL_MM and first.min() >= 0


def test_ventricular_expansion_darkens_the_ventricle_region() -> None:
    template, affine = demo.load_template()
    centre = np.linalg.solve(affine, [*demo.VENTRICLE_CENTRE_MM, 1.0])[:3]
    width = np.array(demo.VENTRICLE_WIDTH_MM) / demo.VOXEL_MM
    x, y, z = np.round(centre).astype(int)
    region = (slice(x - 3, x + 4), slice(y - 5, y + 6), z)

    def subject(expansion: float) -> np.ndarray:
        return demo.simulate_subject(template, centre, width, expansion, np.random.default_rng(0))

    assert subject(0.7)[region].mean() < 0.95 * subject(0.0)[region].mean()


def test_the_slice_passes_through_the_ventricles_and_the_config_is_small(tmp_path: Path) -> None:
    assert demo.ventricle_slice_index() == 30
    config = yaml.safe_load(demo.write_demo_config(tmp_path / "c.yaml", tmp_path, [1, 1, 2], 0).read_text())
    assert config["factors"] == [1.0, 1.0, 1.0] and config["progressive_epochs"] == [1, 1, 2]
    assert config["testing"] and not config["validate"]
    assert config["class_names"] == ["CN", "AD"]  # grids, plots and the report say CN/AD, not 0/1
    assert config["generator_padding"] == "replicate"  # no bright corner pixel (docs/demo.md)


def test_the_demo_replaces_only_folders_it_made(tmp_path: Path) -> None:
    data = tmp_path / "my_data"
    data.mkdir()
    (data / "scan.nii.gz").write_text("precious")
    with pytest.raises(SystemExit, match="was not made by the demo; choose another --output, or add --force"):
        demo.prepare_output(data, force=False)
    assert (data / "scan.nii.gz").read_text() == "precious"
    made = tmp_path / "demo_output"
    demo.prepare_output(made, force=False)
    (made / "old_result.txt").write_text("from an earlier demo")
    demo.prepare_output(made, force=False)
    assert [path.name for path in made.iterdir()] == [demo.MARKER]
    demo.prepare_output(data, force=True)
    assert not (data / "scan.nii.gz").exists() and (data / demo.MARKER).is_file()
