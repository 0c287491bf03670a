"""`make demo`: the whole pipeline on a dataset built at run time from the MNI152 template nilearn ships.

Classes (see docs/demo.md): every subject is the same template brain (4 mm voxels), individually
deformed (random affine + smooth elastic field) with individual intensity gain, bias field and noise.
"AD" subjects additionally get a simulated ventricular enlargement: a smooth radial expansion centred
on the lateral ventricles, of random strength; "CN" subjects get a much weaker one. Ages and sexes are
drawn independently of the class, so the cohort is matched by construction.

The pipeline runs through the real command line, one `pacgan` process per step, and ends with the path
of the evaluation report. Run `python -m pacgan_cli.demo --help` for the options.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy.ndimage import gaussian_filter, map_coordinates
from skimage.transform import downscale_local_mean

from pacgan_cli.core.io.nifti import read_volume, write_volume
from pacgan_cli.core.stages import stage_file_name

TEMPLATE = "datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
VOXEL_MM = 4
CUBE_SIZE = 64
VENTRICLE_CENTRE_MM = (1.0, -8.0, 16.0)  # MNI coordinates of the lateral ventricles' bodies
VENTRICLE_WIDTH_MM = (14.0, 24.0, 12.0)  # x, y, z extent of the expansion (Gaussian sigma)
EXPANSION = {"CN": (0.0, 0.08), "AD": (0.45, 0.8)}  # uniform range of the ventricular expansion
MARKER = ".pacgan-demo"  # written into the output folder: the demo may replace only folders it made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pacgan_cli.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("demo_output"), help="Folder for everything.")
    parser.add_argument("--subjects", type=int, default=240, help="Subjects (half AD, half CN).")
    parser.add_argument(
        "--epochs", type=int, nargs="+", default=[20, 20, 40, 80], help="Epochs per stage 4..32."
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--device", default="auto", help="auto (a GPU when there is one, else the CPU), cpu, cuda or cuda:N."
    )
    parser.add_argument(
        "--force", action="store_true", help="Replace the output folder even if the demo did not make it."
    )
    arguments = parser.parse_args(argv)
    output = arguments.output
    prepare_output(output, arguments.force)
    timings: dict[str, float] = {}

    started = time.monotonic()
    cohort = build_dataset(output / "volumes", output / "cohort.csv", arguments.subjects, arguments.seed)
    timings["build dataset"] = time.monotonic() - started
    print(
        f"built {len(cohort)} synthetic subjects from the MNI152 template in {output / 'volumes'}", flush=True
    )

    data = output / "data"
    run = output / "run"
    max_size = 4 * 2 ** (len(arguments.epochs) - 1)
    config = write_demo_config(
        output / "pacgan-demo.yaml", data, arguments.epochs, arguments.seed, arguments.device
    )
    generator = run / f"PACGAN_{max_size}x{max_size}" / "generator_last.pt"
    discriminator = run / f"PACGAN_{max_size}x{max_size}" / "discriminator_last.pt"
    test_stack = data / "test" / stage_file_name(max_size)
    synthetic = output / "synthetic" / "synthetic.nii.gz"
    steps = {
        "slices": ["slices", output / "volumes", "-o", data / "all_slices.nii.gz",
                   "--cube-size", CUBE_SIZE, "--slice", ventricle_slice_index()],
        "split": ["split", data / "all_slices.nii.gz", output / "cohort.csv", "-o", data, "--seed", arguments.seed],
        "train": ["train", "-c", config, "-o", run],
        "generate": ["generate", "-m", generator, "--per-class", "100", "100", "-o", synthetic,
                     "--seed", arguments.seed, "--preview", output / "synthetic" / "preview.png",
                     "--device", arguments.device],
        "classify": ["classify", test_stack, "-m", discriminator, "--labels", data / "test" / "labels.csv",
                     "-o", output / "classify" / "predictions.csv", "--device", arguments.device],
        "evaluate": ["evaluate", "--real", data / "test", "--fake", synthetic, "--train", data / "train",
                     "-d", discriminator, "-o", output / "report", "--skip-unavailable", "--seed", arguments.seed,
                     "--device", arguments.device],
    }  # fmt: skip
    for name, command in steps.items():
        timings[f"pacgan {name}"] = run_step([str(part) for part in command])
    (output / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    print("\ntimings (seconds):")
    for name, seconds in timings.items():
        print(f"  {name:<16} {seconds:7.1f}")
    print(f"  {'total':<16} {sum(timings.values()):7.1f}")
    print(f"\nreport: {output / 'report' / 'report.md'}")
    return 0


def prepare_output(output: Path, force: bool) -> None:
    """Start from an empty folder. An existing one is deleted only if an earlier demo made it (it holds
    `MARKER`) or with `force`: the demo must never destroy someone's data."""
    if output.exists() and not output.is_dir():
        raise SystemExit(f"error: {output} is a file; choose another --output")
    if output.exists() and any(output.iterdir()):
        if not (output / MARKER).is_file() and not force:
            raise SystemExit(
                f"error: {output} exists and was not made by the demo; choose another --output, "
                "or add --force to delete it and everything in it"
            )
        shutil.rmtree(output)
    output.mkdir(parents=True, exist_ok=True)
    (output / MARKER).write_text(
        "made by `python -m pacgan_cli.demo`; a later demo run may replace this folder\n"
    )


def run_step(arguments: list[str]) -> float:
    """Run one `pacgan` command as its own process; stop the demo if it fails."""
    print(f"\n$ pacgan {' '.join(arguments)}", flush=True)
    started = time.monotonic()
    completed = subprocess.run([sys.executable, "-m", "pacgan_cli", *arguments, "--quiet"], check=False)
    if completed.returncode != 0:
        raise SystemExit(f"demo stopped: `pacgan {arguments[0]}` exited with {completed.returncode}")
    return time.monotonic() - started


def template_path() -> Path:
    """The MNI152 2009a T1 template (1 mm) bundled with nilearn; found without importing nilearn."""
    spec = importlib.util.find_spec("nilearn")
    if spec is None or spec.origin is None:
        raise SystemExit("the demo needs nilearn (it ships the MNI152 template): pip install nilearn")
    return Path(spec.origin).parent / TEMPLATE


def load_template() -> tuple[np.ndarray, np.ndarray]:
    """The template averaged over 4x4x4 blocks (4 mm voxels) and its affine."""
    data, affine = read_volume(template_path())
    small = downscale_local_mean(data, (VOXEL_MM,) * 3).astype(np.float32)
    scaled = affine.copy()
    scaled[:3, :3] *= VOXEL_MM
    scaled[:3, 3] += (VOXEL_MM - 1) / 2 * np.diag(affine)[:3]  # block centres
    return small, scaled


def build_dataset(folder: Path, table_path: Path, subjects: int, seed: int) -> pd.DataFrame:
    """Write one deformed copy of the template per subject and the cohort table `pacgan split` reads."""
    template, affine = load_template()
    centre = np.linalg.solve(affine, [*VENTRICLE_CENTRE_MM, 1.0])[:3]
    width = np.array(VENTRICLE_WIDTH_MM) / VOXEL_MM
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(subjects):
        group = "AD" if index % 2 else "CN"
        expansion = rng.uniform(*EXPANSION[group])
        volume = simulate_subject(template, centre, width, expansion, rng)
        write_volume(folder / f"sub-{index:04d}.nii.gz", volume, affine)
        rows.append(
            {
                "Image_Index": index,
                "Subject_ID": f"sub-{index:04d}",
                "Group": group,
                "Age": round(float(rng.normal(74, 6)), 1),
                "Sex": "F" if rng.random() < 0.5 else "M",
                "Ventricular_Expansion": round(float(expansion), 3),
            }
        )
    table = pd.DataFrame(rows)
    table.to_csv(table_path, index=False)
    return table


def simulate_subject(
    template: np.ndarray, centre: np.ndarray, width: np.ndarray, expansion: float, rng: np.random.Generator
) -> np.ndarray:
    """One subject: ventricular expansion, random pose and elastic deformation, gain, bias field and noise.

    The expansion samples each voxel p from c + (p - c) / (1 + e * g(p)), g a Gaussian bump on the
    ventricles: the dark ventricles grow and the tissue around them is pushed outwards.
    """
    shape = np.array(template.shape)
    grid = np.stack(np.meshgrid(*[np.arange(n, dtype=np.float32) for n in shape], indexing="ij"))
    offset = grid - centre[:, None, None, None]
    bump = np.exp(-0.5 * np.sum((offset / width[:, None, None, None]) ** 2, axis=0))
    source = centre[:, None, None, None] + offset / (1 + expansion * bump)
    angle = np.deg2rad(rng.uniform(-4, 4))
    scale = rng.uniform(0.96, 1.04)
    rotation = (
        np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]) / scale
    )
    middle = (shape - 1) / 2
    source = (
        np.einsum("ij,j...->i...", rotation, source - middle[:, None, None, None])
        + middle[:, None, None, None]
    )
    source += rng.uniform(-1, 1, 3)[:, None, None, None]
    for axis in range(3):
        source[axis] += 0.7 * smooth_noise(rng, template.shape, 3)  # elastic, ~3 mm
    volume = map_coordinates(template, source, order=1, mode="constant", cval=0.0)
    bias = 1 + 0.05 * smooth_noise(rng, template.shape, 8)
    volume = volume * rng.uniform(0.9, 1.1) * bias
    volume += rng.normal(0, 0.015 * template.max(), template.shape) * (volume > 1)
    return np.clip(volume, 0, None).astype(np.float32)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Gaussian-smoothed white noise scaled to unit standard deviation."""
    field = gaussian_filter(rng.normal(0, 1, shape), sigma)
    return field / field.std()


def ventricle_slice_index() -> int:
    """The axial index in the demo's cube that passes through the ventricles (pacgan slices centres the volume)."""
    template, affine = load_template()
    depth = template.shape[2]
    z = round(float(np.linalg.solve(affine, [*VENTRICLE_CENTRE_MM, 1.0])[2]))
    return z + (CUBE_SIZE - depth) // 2


def tiny_network_settings(data: Path, epochs: int | list[int], seed: int, device: str) -> dict[str, Any]:
    """A tiny network (32 base channels, latent 32, batch 16) in test mode on a split data folder (train/ and
    test/), without validation or image writing: a few minutes on 2 CPU cores. The demo and the studies in
    experiments/ train with it."""
    return {
        "data_train_directory": str(data / "train"),
        "label_train_directory": str(data / "train" / "labels.csv"),
        "data_test_directory": str(data / "test"),
        "label_test_directory": str(data / "test" / "labels.csv"),
        "in_channels": 32,
        "z_dim": 32,
        "batch_sizes": 16,
        "critic_iterations": 1,
        "progressive_epochs": epochs,
        "validate": False,
        "testing": True,
        "test_using_best_model": False,
        "generate": False,
        "disp_every_n_epochs": max(epochs) if isinstance(epochs, list) else epochs,
        "device": device,
        "seed": seed,
    }


def write_demo_config(path: Path, data: Path, epochs: list[int], seed: int, device: str = "auto") -> Path:
    """A small network and a short schedule that train on 2 CPU cores in a few minutes."""
    config = {
        **tiny_network_settings(data, epochs, seed, device),
        "embedding_dim": 3,
        "factors": [1.0, 1.0, 1.0, 0.5, 0.25][: len(epochs)],
        "class_names": ["CN", "AD"],  # `pacgan split` labels the controls 0 and the patients 1
        "generator_padding": "replicate",  # with zeros (published) a corner pixel stays bright
        "preset": "small-data",  # a class's images less alike on small sets (docs/small-data.md)
    }
    path.write_text(
        "# Demo configuration written by `python -m pacgan_cli.demo`: a tiny network, a short schedule.\n"
        + yaml.safe_dump(config, sort_keys=False)
    )
    return path


if __name__ == "__main__":
    sys.exit(main())
