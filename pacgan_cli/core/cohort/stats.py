"""Are the groups balanced for age and sex? The tests of the published preprocessing, their versions for more
than two groups, plus a fast what-if version of the two-group tests that the matching search calls thousands
of times.

Reported numbers always come from SciPy. Two groups: Welch's t-test and the Mann-Whitney U test (two-sided,
SciPy's default method) on age. More groups: the one-way ANOVA and the Kruskal-Wallis H test on age. Sex:
Pearson's chi-square on the sex x group table (Yates-corrected for 2x2, as `scipy.stats.chi2_contingency`
does by default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

# Every balance test, in report order, with what a person reads for it.
TEST_LABELS = {
    "welch_t_p": "age Welch t",
    "mann_whitney_p": "age Mann-Whitney U",
    "anova_p": "age one-way ANOVA",
    "kruskal_wallis_p": "age Kruskal-Wallis H",
    "chi_square_p": "sex chi-square",
}
SEX_TEST = "chi_square_p"


def age_tests(group_count: int) -> tuple[str, str]:
    """The age tests for `group_count` groups: Welch t and Mann-Whitney U for two, else their K-group kin."""
    return ("welch_t_p", "mann_whitney_p") if group_count == 2 else ("anova_p", "kruskal_wallis_p")


@dataclass(frozen=True)
class GroupTests:
    """p-values of the balance tests between the groups; large means no detectable difference.

    None marks a test that did not run (its column is missing, matching is off, or it is not the test for
    this number of groups); the tests that ran decide.
    """

    welch_t_p: float | None = None
    mann_whitney_p: float | None = None
    chi_square_p: float | None = None
    anova_p: float | None = None
    kruskal_wallis_p: float | None = None

    @property
    def worst(self) -> float:
        """The smallest p-value of the tests that ran; 1 when none ran."""
        return min(self.as_dict().values(), default=1.0)

    def passes(self, threshold: float) -> bool:
        """All tests that ran at or above `threshold`."""
        return self.worst >= threshold

    def as_dict(self) -> dict[str, float]:
        """The tests that ran, in report order."""
        values = {name: getattr(self, name) for name in TEST_LABELS}
        return {name: value for name, value in values.items() if value is not None}

    def describe(self) -> str:
        described = [f"{TEST_LABELS[name]} p={value:.4f}" for name, value in self.as_dict().items()]
        return ", ".join(described) or "no balance tests"


def compare_groups(
    ages_a: np.ndarray, ages_b: np.ndarray, sexes_a: np.ndarray, sexes_b: np.ndarray
) -> GroupTests:
    """Age and sex tests between groups a and b (one entry per image or per subject).

    Each group needs at least two ages. Degenerate cases get the p-value their data plainly imply: equal
    constant ages give 1, different constant ages 0, and a single sex in both groups gives 1.
    """
    return compare_classes([ages_a, ages_b], [sexes_a, sexes_b])


def compare_classes(ages: Sequence[np.ndarray] | None, sexes: Sequence[np.ndarray] | None) -> GroupTests:
    """Balance tests between two or more groups, one array per group (one entry per image or per subject).

    `ages` None skips the age tests, `sexes` None the sex test. Each group needs at least two ages. As in
    `compare_groups`, constant ages give 1 when all groups share the value and 0 when they do not.
    """
    p_values: dict[str, float] = {}
    if ages is not None:
        ages = [np.asarray(group, dtype=np.float64) for group in ages]
        if len(ages) < 2 or min(len(group) for group in ages) < 2:
            raise ValueError("each group needs at least two ages for the balance tests")
        if len(ages) == 2:
            p_values["welch_t_p"] = _welch_p(*ages)
            p_values["mann_whitney_p"] = float(stats.mannwhitneyu(*ages).pvalue)
        else:
            p_values["anova_p"] = _anova_p(ages)
            p_values["kruskal_wallis_p"] = _kruskal_wallis_p(ages)
    if sexes is not None:
        p_values[SEX_TEST] = _chi_square_p([np.asarray(group) for group in sexes])
    return GroupTests(**p_values)


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


def _anova_p(ages: list[np.ndarray]) -> float:
    if all(np.ptp(group) == 0 for group in ages):
        return 1.0 if len({group[0] for group in ages}) == 1 else 0.0
    return float(stats.f_oneway(*ages).pvalue)


def _kruskal_wallis_p(ages: list[np.ndarray]) -> float:
    if np.ptp(np.concatenate(ages)) == 0:
        return 1.0
    return float(stats.kruskal(*ages).pvalue)


def _chi_square_p(sexes: list[np.ndarray]) -> float:
    """Chi-square on the sex x group table; a single sex overall gives 1."""
    categories = np.unique(np.concatenate(sexes))
    if len(categories) < 2:
        return 1.0
    table = np.array([[np.sum(group == c) for group in sexes] for c in categories])
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
