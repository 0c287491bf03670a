"""Generated cohorts for the cohort tests: two groups with a chosen age gap, 1-3 images per subject."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_cohort(
    subjects: int = 200,
    age_gap: float = 4.0,
    seed: int = 0,
    max_images: int = 3,
    female_share: tuple[float, float] = (0.45, 0.55),
) -> pd.DataFrame:
    """One row per image: Image_Index, Subject_ID, Group (AD/CN alternating), Age, Sex.

    AD subjects are on average `age_gap` years older; a subject's later scans are a year apart.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for subject in range(subjects):
        patient = subject % 2 == 0
        age = rng.normal(75 + (age_gap / 2 if patient else -age_gap / 2), 6)
        sex = "F" if rng.random() < female_share[0 if patient else 1] else "M"
        for visit in range(int(rng.integers(1, max_images + 1))):
            rows.append(
                {
                    "Image_Index": len(rows),
                    "Subject_ID": f"S{subject:04d}",
                    "Group": "AD" if patient else "CN",
                    "Age": round(age + visit, 1),
                    "Sex": sex,
                }
            )
    return pd.DataFrame(rows)


def make_images(count: int, size: int = 8, seed: int = 0) -> np.ndarray:
    """Non-negative `[count, 1, size, size]` float32 images with different maxima, like raw MRI slices."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 1, (count, 1, size, size)) * rng.uniform(50, 500, (count, 1, 1, 1))
    return images.astype(np.float32)
