"""The subject-grouped validation fold: the one validation-mode training holds out, and the one
`classify --fit-temperature` finds again from a run's config to fit its temperature on."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from pacgan_cli.core.errors import InputError


def validation_split(labels: pd.DataFrame, folds: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Subject-grouped, label-stratified split: rows of the training part and of the held-out fold.

    As published: StratifiedGroupKFold(folds, shuffle=True, random_state=seed), the last fold held out.
    """
    subjects = labels["Subject_ID"].nunique()
    if subjects < folds:
        raise InputError(
            f"validation needs at least {folds} subjects to hold one fold out; the labels have {subjects}. "
            "Set validate: false or lower validation_folds"
        )
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    *_, (train_rows, validation_rows) = splitter.split(labels["ID"], labels["Label"], labels["Subject_ID"])
    if len(validation_rows) < 2:
        raise InputError("the validation fold holds fewer than 2 images; add subjects or set validate: false")
    return np.asarray(train_rows), np.asarray(validation_rows)
