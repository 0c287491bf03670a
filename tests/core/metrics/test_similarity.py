import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from pacgan_cli.core.metrics import similarity
from pacgan_cli.core.metrics.similarity import distinct_pairs, same_class_pair_ssim, ssim, window_size_for


@pytest.fixture
def pairs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (6, 1, 16, 16))
    return a, np.clip(a + rng.normal(0, 0.3, a.shape), -1, 1)


def test_batched_ssim_matches_skimage_pair_by_pair(pairs) -> None:
    a, b = pairs
    expected = [structural_similarity(a[i, 0], b[i, 0], data_range=2) for i in range(len(a))]
    np.testing.assert_allclose(ssim(a, b), expected, rtol=0, atol=1e-6)  # float32 box sums: ~3e-8 off


def test_rgb_ssim_matches_skimage_with_a_channel_axis() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.uniform(-1, 1, (2, 3, 8, 8)), rng.uniform(-1, 1, (2, 3, 8, 8))
    expected = [structural_similarity(a[i], b[i], data_range=2, channel_axis=0) for i in range(2)]
    np.testing.assert_allclose(ssim(a, b), expected, rtol=0, atol=1e-6)  # float32 box sums: ~3e-8 off


def test_ssim_of_an_image_with_itself_is_one(pairs) -> None:
    a, _ = pairs
    np.testing.assert_allclose(ssim(a, a), 1.0)


def test_small_images_get_a_window_that_fits() -> None:
    assert [window_size_for(s) for s in (4, 8, 16, 5)] == [3, 7, 7, 5]
    rng = np.random.default_rng(2)
    a, b = rng.uniform(-1, 1, (1, 1, 4, 4)), rng.uniform(-1, 1, (1, 1, 4, 4))
    assert ssim(a, b)[0] == pytest.approx(structural_similarity(a[0, 0], b[0, 0], data_range=2, win_size=3))


def test_same_class_pairs_never_pair_an_image_with_itself() -> None:
    rng = np.random.default_rng(3)
    images = rng.uniform(-1, 1, (6, 1, 8, 8))
    labels = np.array([0, 0, 0, 1, 1, 1])
    result = same_class_pair_ssim(images, labels, images, labels, 2, pairs_per_class=200, same_set=True)
    assert result.pairs_per_class == (3, 3)  # 3 images per class make 3 distinct pairs, not 200
    assert max(result.mean_per_class) < 0.5  # random images; a self-pair would score 1
    copies = same_class_pair_ssim(images, labels, images.copy(), labels, 2, pairs_per_class=50, seed=1)
    assert copies.mean < 1  # different-set pairs are drawn independently


def test_pair_ssim_per_class_and_missing_classes() -> None:
    rng = np.random.default_rng(4)
    images = rng.uniform(-1, 1, (4, 1, 8, 8))
    labels = np.array([0, 0, 0, 0])
    result = same_class_pair_ssim(images, labels, images, labels, 2, pairs_per_class=10)
    assert result.pairs_per_class == (10, 0) and np.isnan(result.mean_per_class[1])
    assert result.mean == pytest.approx(result.mean_per_class[0])


@pytest.mark.parametrize("count", [0, 1, 2, 5, 10, 47])
def test_every_distinct_pair_of_one_set_appears_once(count: int) -> None:
    first, second = distinct_pairs(count, count, 10**6, True, np.random.default_rng(0))
    pairs = set(zip(first.tolist(), second.tolist(), strict=True))
    assert len(first) == len(pairs) == count * (count - 1) // 2
    assert all(0 <= j < i < count for i, j in pairs)


def test_sampled_pairs_never_repeat() -> None:
    rng = np.random.default_rng(1)
    first, second = distinct_pairs(400, 400, 5000, True, rng)
    assert len(set(zip(first.tolist(), second.tolist(), strict=True))) == 5000
    assert (first > second).all() and first.max() < 400
    first, second = distinct_pairs(30, 7, 100, False, rng)
    assert len(set(zip(first.tolist(), second.tolist(), strict=True))) == 100
    assert first.max() < 30 and second.max() < 7
    first, _ = distinct_pairs(3, 4, 1000, False, rng)
    assert len(first) == 12


def test_ten_images_per_class_give_45_pairs_whatever_is_asked() -> None:
    rng = np.random.default_rng(5)
    images = rng.uniform(-1, 1, (20, 1, 8, 8))
    labels = np.repeat([0, 1], 10)
    result = same_class_pair_ssim(images, labels, images, labels, 2, pairs_per_class=1000, same_set=True)
    assert result.pairs_per_class == (45, 45)
    first, second = np.tril_indices(10, -1)
    expected = ssim(images[first], images[second]).mean()
    assert result.mean_per_class[0] == pytest.approx(expected)


def test_pairs_sharing_images_score_as_each_pair_alone() -> None:
    """Per-image statistics are computed once per class; every pair must still match skimage."""
    rng = np.random.default_rng(5)
    images = rng.uniform(-1, 1, (4, 1, 12, 12))
    others = np.clip(images[::-1] + rng.normal(0, 0.2, images.shape), -1, 1)
    labels = np.zeros(4, dtype=int)
    result = same_class_pair_ssim(images, labels, others, labels, 1, pairs_per_class=16, batch_size=5)
    expected = [
        structural_similarity(images[i, 0], others[j, 0], data_range=2) for i in range(4) for j in range(4)
    ]
    assert result.pairs_per_class == (16,)
    assert result.mean == pytest.approx(np.mean(expected), abs=1e-6)
    assert result.std == pytest.approx(np.std(expected), abs=1e-6)


@pytest.mark.parametrize("window", [3, 5, 7])
def test_every_window_matches_skimage(window: int) -> None:
    rng = np.random.default_rng(6)
    a = rng.uniform(-1, 1, (3, 1, 20, 20))
    b = np.clip(a + rng.normal(0, 0.5, a.shape), -1, 1)
    expected = [structural_similarity(a[i, 0], b[i, 0], data_range=2, win_size=window) for i in range(3)]
    np.testing.assert_allclose(ssim(a, b, window_size=window), expected, rtol=0, atol=1e-6)


def test_a_constant_background_adds_no_rounding_error() -> None:
    """Where both images are constant (an MRI's background), the covariance cancels exactly, as in float64
    (4e-9 off here; adding the constants to the products before the box sum made it 4e-5)."""
    rng = np.random.default_rng(7)
    a = np.full((4, 1, 64, 64), -1.0, dtype=np.float32)
    a[:, :, 20:44, 20:44] = rng.uniform(-0.5, 0.5, (4, 1, 24, 24))
    b = a.copy()
    b[:, :, 20:44, 20:44] += rng.normal(0, 0.05, (4, 1, 24, 24)).astype(np.float32)
    expected = [structural_similarity(a[i, 0], b[i, 0], data_range=2) for i in range(4)]
    np.testing.assert_allclose(ssim(a, b), expected, rtol=0, atol=1e-7)


def test_chunked_statistics_and_pairs_in_any_order_score_each_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(8)
    a, b = rng.uniform(-1, 1, (5, 1, 16, 16)), rng.uniform(-1, 1, (4, 1, 16, 16))
    first_side, second_side = np.array([4, 0, 2, 4, 1, 3, 0]), np.array([1, 3, 0, 0, 2, 1, 3])
    expected = [
        structural_similarity(a[i, 0], b[j, 0], data_range=2)
        for i, j in zip(first_side, second_side, strict=True)
    ]
    monkeypatch.setattr(similarity, "CHUNK_BYTES", 2 * 16 * 16 * 4)  # two images or pairs at a time
    with torch.inference_mode():
        first = similarity.ImageStatistics.of(torch.tensor(a, dtype=torch.float32), 7, 2.0, first=True)
        second = similarity.ImageStatistics.of(torch.tensor(b, dtype=torch.float32), 7, 2.0, first=False)
        scores = similarity.pair_scores(first, torch.tensor(first_side), second, torch.tensor(second_side))
    np.testing.assert_allclose(scores.numpy(), expected, rtol=0, atol=1e-6)
