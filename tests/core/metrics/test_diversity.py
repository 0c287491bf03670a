import numpy as np
import pytest

from pacgan_cli.core.metrics.diversity import (
    MsSsimScales,
    ms_ssim,
    ms_ssim_scales,
    same_class_pair_ms_ssim,
)


def reference_ms_ssim(a: np.ndarray, b: np.ndarray, scales: MsSsimScales, data_range: float = 2.0) -> float:
    """MS-SSIM of two [C, H, W] images written out in NumPy, with torchmetrics' conventions: reflect padding,
    SSIM averaged over the whole image, contrast-structure over the unpadded part, negatives counted as 0,
    2x2 mean pooling between scales, contrast-structure at every scale but the last, SSIM at the last."""
    half = (scales.window - 1) // 2
    offsets = np.arange(-half, half + 1)
    line = np.exp(-((offsets / scales.sigma) ** 2) / 2)
    kernel = np.outer(line, line) / line.sum() ** 2
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def smooth(image: np.ndarray) -> np.ndarray:
        padded = np.pad(image, half, mode="reflect")
        height, width = image.shape
        return np.array(
            [
                [(padded[i : i + scales.window, j : j + scales.window] * kernel).sum() for j in range(width)]
                for i in range(height)
            ]
        )

    terms = []
    for scale in range(scales.scales):
        ssim_values, cs_values = [], []
        for x, y in zip(a, b, strict=True):
            mean_x, mean_y = smooth(x), smooth(y)
            var_x = np.maximum(smooth(x * x) - mean_x**2, 0)
            var_y = np.maximum(smooth(y * y) - mean_y**2, 0)
            covariance = smooth(x * y) - mean_x * mean_y
            cs_map = (2 * covariance + c2) / (var_x + var_y + c2)
            ssim_map = (2 * mean_x * mean_y + c1) / (mean_x**2 + mean_y**2 + c1) * cs_map
            ssim_values.append(ssim_map)
            cs_values.append(cs_map[half:-half, half:-half] if half else cs_map)
        ssim_value = max(float(np.mean(ssim_values)), 0.0)
        cs_value = max(float(np.mean(cs_values)), 0.0)
        terms.append(ssim_value if scale == scales.scales - 1 else cs_value)
        height, width = a.shape[1] // 2 * 2, a.shape[2] // 2 * 2
        a = a[:, :height, :width].reshape(len(a), height // 2, 2, width // 2, 2).mean(axis=(2, 4))
        b = b[:, :height, :width].reshape(len(b), height // 2, 2, width // 2, 2).mean(axis=(2, 4))
    return float(np.prod([term**weight for term, weight in zip(terms, scales.weights, strict=True)]))


def smooth_images(count: int, size: int, seed: int) -> np.ndarray:
    """Blurred noise in [-1, 1]: images with structure at several scales, so that every scale matters."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(-0.8, 0.8, size=(count, 1, size // 4, size // 4))
    images = np.kron(coarse, np.ones((4, 4))) + rng.normal(0, 0.15, size=(count, 1, size, size))
    return np.clip(images, -1, 1).astype(np.float32)


@pytest.mark.parametrize(
    ("size", "scales", "window"),
    [
        (256, 5, 11),
        (128, 4, 11),
        (99, 4, 11),
        (98, 3, 11),
        (64, 3, 11),
        (32, 2, 11),
        (16, 1, 11),
        (8, 1, 7),
        (4, 1, 3),
    ],
)
def test_scale_count_follows_the_image_size(size: int, scales: int, window: int) -> None:
    chosen = ms_ssim_scales(size)
    assert (chosen.scales, chosen.window) == (scales, window)
    assert sum(chosen.weights) == pytest.approx(1.0)


@pytest.mark.parametrize("size", [32, 16, 8, 4])
def test_ms_ssim_matches_a_numpy_reference(size: int) -> None:
    a, b = smooth_images(3, size, 1), smooth_images(3, size, 2)
    b[0] = np.clip(a[0] + 0.1, -1, 1)  # one closely related pair
    scales = ms_ssim_scales(size)
    ours = ms_ssim(a, b)
    expected = [reference_ms_ssim(a[i].astype(np.float64), b[i].astype(np.float64), scales) for i in range(3)]
    assert ours == pytest.approx(expected, abs=2e-5)
    assert ours[0] > max(ours[1:]) and ms_ssim(a, a) == pytest.approx(np.ones(3), abs=1e-5)


def test_a_generator_repeating_one_image_is_less_diverse_than_real_images() -> None:
    labels = np.arange(12) % 2
    varied = smooth_images(12, 32, 3)
    repeated = np.clip(
        np.repeat(varied[:2], 6, axis=0) + np.random.default_rng(4).normal(0, 0.02, size=varied.shape), -1, 1
    ).astype(np.float32)
    repeated_labels = np.repeat([0, 1], 6)
    diverse = same_class_pair_ms_ssim(varied, labels, 2, pairs_per_class=100)
    collapsed = same_class_pair_ms_ssim(repeated, repeated_labels, 2, pairs_per_class=100)
    assert collapsed.mean > 0.9 and diverse.mean < 0.5
    assert diverse.pairs_per_class == (15, 15)  # 6 images per class: every distinct pair once
    assert same_class_pair_ms_ssim(varied, labels, 2, pairs_per_class=4).pairs_per_class == (4, 4)


def test_a_class_with_one_image_has_no_pairs() -> None:
    result = same_class_pair_ms_ssim(smooth_images(4, 16, 5), np.array([0, 0, 0, 1]), 2)
    assert result.pairs_per_class == (3, 0) and np.isnan(result.mean_per_class[1])
    assert not np.isnan(result.mean)
