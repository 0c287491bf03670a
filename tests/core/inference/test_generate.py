"""`generate` and `generate_images`: seeded, batch-independent images, the stack and its labels, checked outputs."""

from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import THREE_CLASSES, Recorder, published_checkpoint, saved_checkpoint
from pacgan_cli.core.errors import ConfigError, InputError, OutputExistsError
from pacgan_cli.core.inference import (
    GenerationRequest,
    InferenceSettings,
    counts_per_class,
    generate,
    generate_images,
    save_generation,
)
from pacgan_cli.core.io.nifti import read_stack
from pacgan_cli.core.io.tables import read_csv
from pacgan_cli.core.models.checkpoint import GENERATOR, load_checkpoint


def test_counts_total_splits_evenly_with_remainder_on_the_last_class() -> None:
    assert counts_per_class([10], 3) == [3, 3, 4]
    assert counts_per_class([1, 2, 3], 3) == [1, 2, 3]
    with pytest.raises(ConfigError, match="3 per-class counts"):
        counts_per_class([1, 2], 3)
    with pytest.raises(ConfigError, match="negative"):
        counts_per_class([-1], 3)


def test_published_and_our_generator_files_give_identical_images(tmp_path: Path) -> None:
    ours = load_checkpoint(saved_checkpoint(tmp_path, GENERATOR, "G.pt"))
    theirs = load_checkpoint(published_checkpoint(tmp_path, GENERATOR, "G_published.pt"))
    assert theirs.published_format and theirs.architecture == THREE_CLASSES
    a = generate_images(ours, [2, 2, 2], seed=1)
    b = generate_images(theirs, [2, 2, 2], seed=1)
    np.testing.assert_array_equal(a.images, b.images)


def test_generation_is_deterministic_for_a_seed_and_independent_of_batch_size(generator) -> None:
    first = generate_images(generator, [7, 5, 9], seed=11, batch_size=4)
    again = generate_images(generator, [7, 5, 9], seed=11, batch_size=4)
    other_batches = generate_images(generator, [7, 5, 9], seed=11, batch_size=300)
    other_seed = generate_images(generator, [7, 5, 9], seed=12, batch_size=4)
    np.testing.assert_array_equal(first.images, again.images)
    # Batch size changes the convolutions' float32 summation order (oneDNN picks kernels per shape): about 1e-5.
    np.testing.assert_allclose(first.images, other_batches.images, atol=1e-4)
    assert not np.allclose(first.images, other_seed.images)
    assert first.images.shape == (21, 1, 16, 16) and first.images.dtype == np.float32
    assert list(first.labels) == [0] * 7 + [1] * 5 + [2] * 9
    assert np.abs(first.images).max() <= 1


def test_more_images_extend_the_same_sequence(generator) -> None:
    few = generate_images(generator, [300], seed=2, batch_size=64)
    many = generate_images(generator, [600], seed=2, batch_size=64)
    # Class 0 of the larger run starts with the same latent vectors as class 0 of the smaller run.
    np.testing.assert_allclose(few.images[:100], many.images[:100], atol=1e-5)


def test_save_generation_writes_stack_labels_and_preview_and_refuses_overwrite(
    generator, tmp_path: Path
) -> None:
    result = generate_images(generator, [2, 3, 1], seed=0)
    stack = tmp_path / "out" / "synth.nii.gz"
    save_generation(result, stack, preview=tmp_path / "out" / "grid.png")
    np.testing.assert_array_equal(read_stack(stack), result.images)
    labels = read_csv(tmp_path / "out" / "synth_labels.csv")
    assert list(labels.columns) == ["ID", "Label"]
    assert list(labels["Label"]) == [0, 0, 1, 1, 1, 2]
    assert (tmp_path / "out" / "grid.png").stat().st_size > 0
    with pytest.raises(OutputExistsError):
        save_generation(result, stack)
    save_generation(result, tmp_path / "out" / "other.nii.gz", labels=tmp_path / "out" / "labels_syn.csv")
    assert read_csv(tmp_path / "out" / "labels_syn.csv").equals(labels)
    save_generation(result, stack, force=True)


def test_generate_streams_the_same_images_into_the_stack(tmp_path: Path) -> None:
    checkpoint = load_checkpoint(saved_checkpoint(tmp_path, GENERATOR, "G.pt"))
    in_memory = generate_images(checkpoint, [5, 4, 2], seed=3, batch_size=4)
    request = GenerationRequest(
        checkpoint, tmp_path / "out" / "s.nii.gz", per_class=(5, 4, 2), preview=tmp_path / "p.png", seed=3
    )
    outcome = generate(request, InferenceSettings(batch_size=3, threads=torch.get_num_threads()))
    files = outcome.files
    np.testing.assert_array_equal(read_stack(files[0]), in_memory.images)
    assert read_csv(files[1])["Label"].tolist() == in_memory.labels.tolist() == outcome.plan.labels.tolist()
    assert files[2].stat().st_size > 0 and outcome.counts == (5, 4, 2)


def test_a_generator_with_nan_weights_is_an_error_and_writes_nothing(tmp_path: Path) -> None:
    checkpoint = load_checkpoint(saved_checkpoint(tmp_path, GENERATOR, "G.pt"))
    with torch.no_grad():
        next(checkpoint.model.parameters()).fill_(float("nan"))
    with pytest.raises(InputError, match="NaN or infinite"):
        generate(GenerationRequest(checkpoint, tmp_path / "out" / "s.nii.gz", total=9))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize(
    ("preview", "labels", "message"),
    [
        ("synth.nii.gz", None, r"--preview synth\.nii\.gz is the same file as --output; give each output"),
        ("./synth_labels.csv", None, r"--preview synth_labels\.csv is the same file as the labels file .*"),
        (
            None,
            "out/../synth.nii.gz",
            r"--labels-output out/\.\./synth\.nii\.gz is the same file as --output",
        ),
        ("G.pt", None, r"--preview G\.pt is the input --model; writing it would destroy what is read"),
    ],
)
def test_a_second_output_may_not_be_the_main_output_its_labels_or_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, preview: str | None, labels: str | None, message: str
) -> None:
    checkpoint = load_checkpoint(saved_checkpoint(tmp_path, GENERATOR, "G.pt"))
    model_bytes = (tmp_path / "G.pt").read_bytes()
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path)  # relative and absolute names of one file are one file
    with pytest.raises(ConfigError, match=message):
        generate(
            GenerationRequest(
                checkpoint,
                tmp_path / "synth.nii.gz",
                total=3,
                preview=preview,
                labels_output=labels,
                force=True,
            )
        )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["G.pt", "out"]
    assert (tmp_path / "G.pt").read_bytes() == model_bytes


def test_generate_from_a_run_folder_says_which_model_and_device_then_writes(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "PACGAN_16x16").mkdir(parents=True)
    saved_checkpoint(run / "PACGAN_16x16", GENERATOR, "generator_best.pt")
    reporter = Recorder()
    request = GenerationRequest(run, tmp_path / "s.nii.gz", total=5, seed=4, class_names=("a", "b", "c"))
    outcome = generate(request, InferenceSettings(batch_size=2, threads=1), reporter)
    assert reporter.events == [
        f"using {run / 'PACGAN_16x16' / 'generator_best.pt'}, the best generator of the largest stage (16x16)",
        "generating on cpu with 1 CPU thread",
        "stage generate 16x16",
    ]
    assert outcome.files == [tmp_path / "s.nii.gz", tmp_path / "s_labels.csv"]
    assert outcome.summary_lines() == ["5 images 16x16 (per class [1, 1, 3]), seed 4"]
    expected = generate_images(load_checkpoint(run / "PACGAN_16x16" / "generator_best.pt"), [5], seed=4)
    np.testing.assert_allclose(read_stack(outcome.files[0]), expected.images, atol=1e-5)


def test_a_generation_request_needs_one_kind_of_count_and_per_class_needs_every_class(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="either --per-class or --total"):
        GenerationRequest("G.pt", "s.nii.gz", total=3, per_class=(1, 1, 1))
    with pytest.raises(ConfigError, match="how many images"):
        GenerationRequest("G.pt", "s.nii.gz")
    model = saved_checkpoint(tmp_path, GENERATOR, "G.pt")
    with pytest.raises(InputError, match=r"3 classes, so --per-class needs 3 counts; got 1 \(use --total"):
        generate(GenerationRequest(model, tmp_path / "s.nii.gz", per_class=(6,)))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["G.pt"]


def test_generate_checks_its_outputs_before_it_reads_the_model(tmp_path: Path) -> None:
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "s.nii.gz").write_bytes(b"kept")
    with pytest.raises(OutputExistsError, match="--force"):
        generate(GenerationRequest(tmp_path / "junk.pt", tmp_path / "s.nii.gz", total=2))
    assert (tmp_path / "s.nii.gz").read_bytes() == b"kept"


def test_without_an_output_a_fresh_synthetic_name_in_the_runs_generated_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pacgan_cli.core.inference import default_generation_path
    from pacgan_cli.core.io.run_layout import RunLayout, record_last_run

    run = tmp_path / "run"
    saved_checkpoint(run / "PACGAN_16x16", GENERATOR, "generator_best.pt")
    monkeypatch.chdir(tmp_path)
    record_last_run(RunLayout(Path("run"), Path("images")))
    settings = InferenceSettings(threads=1)
    reporter = Recorder()
    first = generate(GenerationRequest(total=3), settings, reporter)  # the last run, its images' folder
    assert first.files[:2] == [
        Path("images/generated/synthetic_1.nii.gz"),
        Path("images/generated/synthetic_1_labels.csv"),
    ]
    assert reporter.events[0] == (
        f"using {Path('run/PACGAN_16x16/generator_best.pt')}, the best generator of the largest stage (16x16) "
        "of the run last trained from this folder (.pacgan/last_run.json; --model picks another)"
    )
    assert generate(GenerationRequest(total=3), settings).files[0].name == "synthetic_2.nii.gz"
    Path("images/generated/synthetic_1.nii.gz").unlink()  # its labels file still holds the name
    assert default_generation_path(None) == Path("images/generated/synthetic_3.nii.gz")
    assert default_generation_path("run") == Path("run/generated/synthetic_1.nii.gz")
    assert default_generation_path(run / "PACGAN_16x16" / "generator_best.pt") == Path("synthetic_1.nii.gz")
    assert len(read_stack(Path("images/generated/synthetic_2.nii.gz"))) == 3
