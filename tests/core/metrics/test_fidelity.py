from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from pacgan_cli.core.errors import InputError
from pacgan_cli.core.metrics import fidelity


class PooledPixels(nn.Module):
    """A small feature extractor with the Inception interface: uint8 [B, 3, H, W] -> [B, 12] features."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return nn.functional.adaptive_avg_pool2d(images.float() / 255, 2).flatten(1)


def reference_fid(a: np.ndarray, b: np.ndarray) -> float:
    """The textbook formula with SciPy's matrix square root."""
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2 * root))


def reference_kid(a: np.ndarray, b: np.ndarray) -> float:
    """Unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3, written out with loops over the kernel sums."""
    d, m = a.shape[1], len(a)

    def kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (x @ y.T / d + 1) ** 3

    k_aa, k_bb, k_ab = kernel(a, a), kernel(b, b), kernel(a, b)
    within = (k_aa.sum() - np.trace(k_aa) + k_bb.sum() - np.trace(k_bb)) / (m * (m - 1))
    return float(within - 2 * k_ab.sum() / m**2)


@pytest.fixture
def features() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(60, 5))
    b = rng.normal(0.4, 1.3, size=(50, 5)) @ rng.normal(size=(5, 5))
    return a, b


def test_fid_matches_the_scipy_reference(features: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = features
    assert fidelity.frechet_distance(a, b) == pytest.approx(reference_fid(a, b), rel=1e-8)


def test_fid_of_identical_sets_is_zero(features: tuple[np.ndarray, np.ndarray]) -> None:
    a, _ = features
    assert abs(fidelity.frechet_distance(a, a)) < 1e-8


def test_kid_with_one_subset_of_everything_matches_the_numpy_reference(features) -> None:
    a, b = features
    b = b[:60] if len(b) >= 60 else np.concatenate([b, b[:10] + 0.1])
    kid = fidelity.kernel_inception_distance(a, b, subset_size=60, subsets=3)
    assert kid.subset_size == 60
    assert kid.mean == pytest.approx(reference_kid(a, b), rel=1e-9)
    assert kid.std == pytest.approx(0, abs=1e-12)  # every subset is the whole set, reordered


def test_kid_subset_size_is_capped_at_the_smallest_set(features) -> None:
    a, b = features
    kid = fidelity.kernel_inception_distance(a, b[:7], subset_size=1000, subsets=5, seed=1)
    assert kid.subset_size == 7 and np.isfinite(kid.mean)
    assert np.isnan(fidelity.kernel_inception_distance(a, b[:1]).mean)


def test_our_numbers_match_torchmetrics_with_the_same_feature_module() -> None:
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    rng = np.random.default_rng(1)
    real = np.clip(rng.normal(0, 0.5, (40, 1, 8, 8)), -1, 1).astype(np.float32)
    fake = np.clip(rng.normal(0.2, 0.4, (40, 1, 8, 8)), -1, 1).astype(np.float32)
    module = PooledPixels()
    real_features = fidelity.extract_features(real, module, batch_size=7)
    fake_features = fidelity.extract_features(fake, module, batch_size=7)
    assert real_features.shape == (40, 12)

    fid = FrechetInceptionDistance(feature=module)
    fid.update(fidelity.to_inception_input(torch.from_numpy(real)), real=True)
    fid.update(fidelity.to_inception_input(torch.from_numpy(fake)), real=False)
    assert fidelity.frechet_distance(real_features, fake_features) == pytest.approx(
        float(fid.compute()), rel=1e-4
    )

    kid = KernelInceptionDistance(feature=module, subset_size=40, subsets=2)
    kid.update(fidelity.to_inception_input(torch.from_numpy(real)), real=True)
    kid.update(fidelity.to_inception_input(torch.from_numpy(fake)), real=False)
    ours = fidelity.kernel_inception_distance(real_features, fake_features, subset_size=40, subsets=2)
    assert ours.mean == pytest.approx(float(kid.compute()[0]), rel=1e-4)


def test_inception_input_is_uint8_three_channels_in_0_255() -> None:
    images = torch.tensor([[[[-1.0, 0.0], [1.0, 0.5]]]])
    converted = fidelity.to_inception_input(images)
    assert converted.dtype == torch.uint8 and converted.shape == (1, 3, 2, 2)
    assert converted[0, 0].tolist() == [[0, 127], [255, 191]]
    assert torch.equal(converted[0, 0], converted[0, 2])


def test_weights_are_looked_up_explicitly_then_in_the_environment_then_in_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(fidelity.INCEPTION_WEIGHTS_VARIABLE, raising=False)
    assert fidelity.find_inception_weights() is None
    cached = fidelity.inception_cache_path()
    assert cached == tmp_path / "torch" / "hub" / "checkpoints" / fidelity.INCEPTION_FILE_NAME
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    assert fidelity.find_inception_weights() == cached
    other = tmp_path / "other.pth"
    other.write_bytes(b"x")
    monkeypatch.setenv(fidelity.INCEPTION_WEIGHTS_VARIABLE, str(other))
    assert fidelity.find_inception_weights() == other
    assert fidelity.find_inception_weights(cached) == cached
    with pytest.raises(InputError, match="not found"):
        fidelity.find_inception_weights(tmp_path / "missing.pth")


def test_missing_weights_message_is_one_line_saying_where_to_get_and_put_them() -> None:
    message = fidelity.missing_weights_message()
    assert "\n" not in message
    assert fidelity.INCEPTION_URL in message and str(fidelity.inception_cache_path()) in message
    assert (
        "--inception-weights" in message
        and "--skip-unavailable, which computes every other metric" in message
    )


def test_a_file_that_is_not_inception_weights_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.pth"
    torch.save({"weight": torch.zeros(2)}, path)
    with pytest.raises(InputError, match="not the torch-fidelity InceptionV3 weights"):
        fidelity.build_inception_extractor(path)
    path.write_bytes(b"garbage")
    with pytest.raises(InputError, match="not a readable weights file"):
        fidelity.build_inception_extractor(path)


def test_a_tiny_weights_file_claiming_gigabytes_is_refused_before_loading(tmp_path: Path) -> None:
    path = tmp_path / "claims.pth"
    torch.save({"fc.weight": torch.empty(6 * 2**30, dtype=torch.uint8, device="meta")}, path)
    with pytest.raises(InputError, match=r"claims\.pth: its tensors would take 6\.0 GiB of memory, over the"):
        fidelity.build_inception_extractor(path)


def test_the_real_inception_loader_with_a_random_weights_file(random_inception_weights: Path) -> None:
    extractor = fidelity.build_inception_extractor(random_inception_weights, resize="legacy")
    images = np.clip(np.random.default_rng(0).normal(0, 0.5, (3, 1, 16, 16)), -1, 1).astype(np.float32)
    features = fidelity.extract_features(images, extractor, batch_size=2)
    assert features.shape == (3, 2048) and np.isfinite(features).all()
    antialiased = fidelity.extract_features(
        images, fidelity.build_inception_extractor(random_inception_weights)
    )
    assert not np.allclose(
        features, antialiased, rtol=1e-3, atol=0
    )  # the resize setting matters, hence it is reported
