"""Are two groups balanced for age and sex? The tests of the published preprocessing, plus a fast
what-if version that the matching search calls thousands of times.

Reported numbers always come from SciPy: Welch's t-test and the Mann-Whitney U test (two-sided, SciPy's
default method) on age, Pearson's chi-square on the sex x group table (Yates-corrected for 2x2, as
`scipy.stats.chi2_contingency` does by default).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class GroupTests:
    """p-values of the balance tests between two groups; large means no detectable difference."""

    welch_t_p: float
    mann_whitney_p: float
    chi_square_p: float

    @property
    def worst(self) -> float:
        return min(self.welch_t_p, self.mann_whitney_p, self.chi_square_p)

    def passes(self, threshold: float) -> bool:
        """All tests at or above `threshold`."""
        return self.worst >= threshold

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def describe(self) -> str:
        return (
            f"age Welch t p={self.welch_t_p:.4f}, age Mann-Whitney U p={self.mann_whitney_p:.4f}, "
            f"sex chi-square p={self.chi_square_p:.4f}"
        )


def compare_groups(
    ages_a: np.ndarray, ages_b: np.ndarray, sexes_a: np.ndarray, sexes_b: np.ndarray
) -> GroupTests:
    """Age and sex tests between groups a and b (one entry per image or per subject).

    Each group needs at least two ages. Degenerate cases get the p-value their data plainly imply: equal
    constant ages give 1, different constant ages 0, and a single sex in both groups gives 1.
    """
    ages_a, ages_b = np.asarray(ages_a, dtype=np.float64), np.asarray(ages_b, dtype=np.float64)
    if len(ages_a) < 2 or len(ages_b) < 2:
        raise ValueError("each group needs at least two ages for the balance tests")
    return GroupTests(
        welch_t_p=_welch_p(ages_a, ages_b),
        mann_whitney_p=float(stats.mannwhitneyu(ages_a, ages_b).pvalue),
        chi_square_p=_chi_square_p(np.asarray(sexes_a), np.asarray(sexes_b)),
    )


def worst_p_after_toggle(
    ages: np.ndarray,
    in_b: np.ndarray,
    sex_codes: np.ndarray,
    unit_subject: np.ndarray,
    subject_count: int,
    kept: np.ndarray,
) -> np.ndarray:
    """For every subject, the smallest of the three p-values if that subject alone changed side.

    A kept subject is taken out, a removed one put back. Arrays are per unit (image or subject): age,
    whether it is in group b, sex code 0..S-1 and subject code 0..subject_count-1; `kept` is per subject.
    Welch's t and chi-square are exact; Mann-Whitney uses the tie-corrected normal approximation with
    continuity correction, which is what SciPy does for all but tiny tie-free groups.
    Returns `[subject_count]`; NaN where a change would leave a group with fewer than two units.
    """
    active = kept[unit_subject]
    sign = np.where(kept, -1.0, 1.0)
    subject_in_b = np.zeros(subject_count, dtype=bool)
    subject_in_b[unit_subject[in_b]] = True
    centred = ages - ages[active].mean()

    def per_subject(values: np.ndarray) -> np.ndarray:
        return np.bincount(unit_subject, weights=values, minlength=subject_count)

    counts = per_subject(np.ones_like(centred))
    sums = per_subject(centred)
    squares = per_subject(centred**2)

    moments = []
    for group_b in (False, True):
        mask = active & (in_b == group_b)
        change = np.where(subject_in_b == group_b, sign, 0.0)
        moments.append(
            (
                mask.sum() + change * counts,
                centred[mask].sum() + change * sums,
                (centred[mask] ** 2).sum() + change * squares,
            )
        )
    (n_a, sum_a, sq_a), (n_b, sum_b, sq_b) = moments
    valid = (n_a >= 2) & (n_b >= 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        welch = _welch_p_from_moments(n_a, sum_a, sq_a, n_b, sum_b, sq_b)
        rank = _mann_whitney_p_after_toggle(
            centred, in_b, active, unit_subject, subject_count, sign, n_a, n_b
        )
        sex = _chi_square_p_after_toggle(sex_codes, in_b, active, unit_subject, subject_count, sign)
    worst = np.minimum(np.minimum(welch, rank), sex)
    return np.where(valid, worst, np.nan)


def _welch_p(ages_a: np.ndarray, ages_b: np.ndarray) -> float:
    if np.ptp(ages_a) == 0 and np.ptp(ages_b) == 0:
        return 1.0 if ages_a[0] == ages_b[0] else 0.0
    return float(stats.ttest_ind(ages_a, ages_b, equal_var=False).pvalue)


def _chi_square_p(sexes_a: np.ndarray, sexes_b: np.ndarray) -> float:
    categories = np.unique(np.concatenate([sexes_a, sexes_b]))
    if len(categories) < 2:
        return 1.0
    table = np.array([[np.sum(sexes_a == c), np.sum(sexes_b == c)] for c in categories])
    return float(stats.chi2_contingency(table).pvalue)


def _welch_p_from_moments(
    n_a: np.ndarray, sum_a: np.ndarray, sq_a: np.ndarray, n_b: np.ndarray, sum_b: np.ndarray, sq_b: np.ndarray
) -> np.ndarray:
    mean_a, mean_b = sum_a / n_a, sum_b / n_b
    var_a = np.maximum(sq_a - n_a * mean_a**2, 0) / (n_a - 1)
    var_b = np.maximum(sq_b - n_b * mean_b**2, 0) / (n_b - 1)
    part_a, part_b = var_a / n_a, var_b / n_b
    error = part_a + part_b
    t = (mean_a - mean_b) / np.sqrt(error)
    dof = error**2 / (part_a**2 / (n_a - 1) + part_b**2 / (n_b - 1))
    p = 2 * stats.t.sf(np.abs(t), dof)
    constant = error <= 1e-12 * (1 + np.abs(mean_a) + np.abs(mean_b))
    return np.where(constant, np.where(np.isclose(mean_a, mean_b), 1.0, 0.0), p)


def _mann_whitney_p_after_toggle(
    centred: np.ndarray,
    in_b: np.ndarray,
    active: np.ndarray,
    unit_subject: np.ndarray,
    subject_count: int,
    sign: np.ndarray,
    n_a: np.ndarray,
    n_b: np.ndarray,
) -> np.ndarray:
    ages_a = np.sort(centred[active & ~in_b])
    ages_b = np.sort(centred[active & in_b])
    # Each unit's share of U_a: pairs (a, b) with a > b count 1, ties 1/2, against the current other group.
    below_b = np.searchsorted(ages_b, centred, "left") + 0.5 * (
        np.searchsorted(ages_b, centred, "right") - np.searchsorted(ages_b, centred, "left")
    )
    above_a = (len(ages_a) - np.searchsorted(ages_a, centred, "right")) + 0.5 * (
        np.searchsorted(ages_a, centred, "right") - np.searchsorted(ages_a, centred, "left")
    )
    share = np.where(in_b, above_a, below_b)
    u_now = share[active & ~in_b].sum()
    u_a = u_now + sign * np.bincount(unit_subject, weights=share, minlength=subject_count)
    tie_term = _tie_term_after_toggle(centred, active, unit_subject, subject_count, sign)
    n = n_a + n_b
    spread = np.sqrt(n_a * n_b / 12 * ((n + 1) - tie_term / (n * (n - 1))))
    u = np.maximum(u_a, n_a * n_b - u_a)
    z = (u - n_a * n_b / 2 - 0.5) / spread
    return np.clip(2 * stats.norm.sf(z), 0, 1)


def _tie_term_after_toggle(
    values: np.ndarray, active: np.ndarray, unit_subject: np.ndarray, subject_count: int, sign: np.ndarray
) -> np.ndarray:
    """Sum of t^3 - t over groups of equal values (the Mann-Whitney tie correction) after each toggle."""
    _, value_code = np.unique(values, return_inverse=True)
    value_count = int(value_code.max()) + 1
    totals = np.bincount(value_code[active], minlength=value_count).astype(float)
    pairs, per_pair = np.unique(unit_subject * value_count + value_code, return_counts=True)
    pair_subject, pair_value = pairs // value_count, pairs % value_count
    before = totals[pair_value]
    after = before + sign[pair_subject] * per_pair
    change = np.bincount(
        pair_subject, weights=(after**3 - after) - (before**3 - before), minlength=subject_count
    )
    return float((totals**3 - totals).sum()) + change


def _chi_square_p_after_toggle(
    sex_codes: np.ndarray,
    in_b: np.ndarray,
    active: np.ndarray,
    unit_subject: np.ndarray,
    subject_count: int,
    sign: np.ndarray,
) -> np.ndarray:
    sex_count = int(sex_codes.max()) + 1
    column = in_b.astype(int)
    cell = sex_codes * 2 + column
    table = np.bincount(cell[active], minlength=sex_count * 2).reshape(sex_count, 2).astype(float)
    per_subject = np.zeros((subject_count, sex_count * 2))
    np.add.at(per_subject, (unit_subject, cell), 1.0)
    observed = table[None] + sign[:, None, None] * per_subject.reshape(subject_count, sex_count, 2)
    rows = observed.sum(axis=2, keepdims=True)
    columns = observed.sum(axis=1, keepdims=True)
    expected = rows * columns / observed.sum(axis=(1, 2), keepdims=True)
    dof = (rows[:, :, 0] > 0).sum(axis=1) - 1
    yates = (dof == 1)[:, None, None]
    difference = expected - observed
    observed = np.where(yates, observed + np.sign(difference) * np.minimum(0.5, np.abs(difference)), observed)
    statistic = np.where(expected > 0, (observed - expected) ** 2 / expected, 0.0).sum(axis=(1, 2))
    p = stats.chi2.sf(statistic, np.maximum(dof, 1))
    return np.where(dof >= 1, p, 1.0)
