import numpy as np

from pacgan_cli.core.metrics.memorisation import memorisation_check, nearest_distances


def random_images(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (count, 1, 8, 8)).astype(np.float32)


def test_nearest_distances_match_brute_force() -> None:
    queries, references = random_images(13, 0), random_images(9, 1)
    distances, nearest = nearest_distances(queries, references, batch_size=4)
    brute = np.sqrt(((queries[:, None] - references[None]) ** 2).mean(axis=(2, 3, 4)))
    np.testing.assert_allclose(distances, brute.min(axis=1), rtol=1e-6)
    np.testing.assert_array_equal(nearest, brute.argmin(axis=1))


def test_leave_one_out_never_returns_the_image_itself() -> None:
    images = random_images(10, 2)
    distances, nearest = nearest_distances(images, images, exclude_same_index=True, batch_size=3)
    assert (nearest != np.arange(10)).all() and (distances > 0.1).all()


def test_planted_copies_are_flagged() -> None:
    training, held_out = random_images(40, 3), random_images(20, 4)
    synthetic = random_images(30, 5)
    planted = [3, 17, 25]
    synthetic[planted] = training[[0, 11, 39]] + np.float32(1e-3)
    report = memorisation_check(synthetic, training, held_out, quantile=0.05)
    assert report.baseline == "held-out"
    assert list(report.copies) == planted
    assert set(planted) <= set(report.flagged)
    assert list(report.closest(3)) == sorted(planted, key=lambda i: report.synthetic_distances[i])
    assert list(report.synthetic_nearest[planted]) == [0, 11, 39]
    data = report.to_data()
    assert data["copies"] == planted and data["flagged_count"] >= 3


def test_new_images_are_not_flagged_as_copies() -> None:
    training = random_images(40, 6)
    report = memorisation_check(random_images(30, 7), training)
    assert report.baseline == "leave-one-out"
    assert len(report.copies) == 0
    assert len(report.flagged) <= 6  # about 5% expected for images as new as real ones
