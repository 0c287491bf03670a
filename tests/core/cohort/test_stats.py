"""The balance tests agree with SciPy, and the fast what-if scores agree with recomputing from scratch."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from pacgan_cli.core.cohort.stats import compare_classes, compare_groups, worst_p_after_toggle


def test_compare_groups_is_welch_mann_whitney_and_yates_chi_square() -> None:
    rng = np.random.default_rng(0)
    ages_a, ages_b = rng.normal(74, 5, 40), rng.normal(71, 8, 55)
    sexes_a = np.array(["F"] * 15 + ["M"] * 25)
    sexes_b = np.array(["F"] * 30 + ["M"] * 25)
    tests = compare_groups(ages_a, ages_b, sexes_a, sexes_b)
    assert tests.welch_t_p == pytest.approx(stats.ttest_ind(ages_a, ages_b, equal_var=False).pvalue)
    assert tests.mann_whitney_p == pytest.approx(stats.mannwhitneyu(ages_a, ages_b).pvalue)
    table = np.array([[15, 30], [25, 25]])
    assert tests.chi_square_p == pytest.approx(stats.chi2_contingency(table, correction=True).pvalue)
    assert tests.worst == min(tests.welch_t_p, tests.mann_whitney_p, tests.chi_square_p)


def test_compare_groups_degenerate_cases() -> None:
    same = compare_groups(
        np.array([70.0, 70.0]), np.array([70.0, 70.0]), np.array(["F", "F"]), np.array(["F", "F"])
    )
    assert same.welch_t_p == 1.0
    assert same.chi_square_p == 1.0
    apart = compare_groups(
        np.array([60.0, 60.0]), np.array([80.0, 80.0]), np.array(["F", "M"]), np.array(["F", "M"])
    )
    assert apart.welch_t_p == 0.0
    with pytest.raises(ValueError, match="two ages"):
        compare_groups(np.array([60.0]), np.array([80.0, 81.0]), np.array(["F"]), np.array(["F", "M"]))


@pytest.mark.parametrize("sex_categories", [2, 3])
def test_toggle_scores_equal_recomputed_tests(sex_categories: int) -> None:
    rng = np.random.default_rng(sex_categories)
    subjects = 50
    subject_in_b = rng.random(subjects) < 0.5
    unit_subject = np.repeat(np.arange(subjects), rng.integers(1, 4, subjects))
    in_b = subject_in_b[unit_subject]
    ages = np.round(rng.normal(72, 6, len(unit_subject)) + 3 * in_b)  # whole years: many ties
    sex_codes = rng.integers(0, sex_categories, subjects)[unit_subject]
    kept = rng.random(subjects) < 0.8
    scores = worst_p_after_toggle(ages, in_b, sex_codes, unit_subject, subjects, kept)
    for subject in range(subjects):
        changed = kept.copy()
        changed[subject] = not changed[subject]
        active = changed[unit_subject]
        a, b = active & ~in_b, active & in_b
        expected = compare_groups(ages[a], ages[b], sex_codes[a], sex_codes[b])
        assert scores[subject] == pytest.approx(expected.worst, rel=1e-9, abs=1e-12)


def test_toggle_scores_are_nan_where_a_group_would_shrink_below_two() -> None:
    ages = np.array([70.0, 71.0, 80.0, 81.0, 82.0])
    in_b = np.array([False, False, True, True, True])
    scores = worst_p_after_toggle(ages, in_b, np.zeros(5, dtype=int), np.arange(5), 5, np.ones(5, dtype=bool))
    assert np.isnan(scores[:2]).all()
    assert not np.isnan(scores[2:]).any()


def test_compare_classes_of_three_groups_is_anova_kruskal_wallis_and_chi_square() -> None:
    rng = np.random.default_rng(1)
    ages = [rng.normal(74, 5, 30), rng.normal(72, 8, 25), rng.normal(76, 6, 20)]
    sexes = [np.array(["F"] * 10 + ["M"] * 20), np.array(["F"] * 15 + ["M"] * 10), np.array(["F", "M"] * 10)]
    tests = compare_classes(ages, sexes)
    assert tests.anova_p == pytest.approx(stats.f_oneway(*ages).pvalue)
    assert tests.kruskal_wallis_p == pytest.approx(stats.kruskal(*ages).pvalue)
    table = np.array([[10, 15, 10], [20, 10, 10]])
    assert tests.chi_square_p == pytest.approx(stats.chi2_contingency(table).pvalue)
    assert tests.welch_t_p is None and tests.mann_whitney_p is None
    assert list(tests.as_dict()) == ["anova_p", "kruskal_wallis_p", "chi_square_p"]
    assert tests.describe().startswith("age one-way ANOVA p=")


def test_compare_classes_of_two_groups_is_compare_groups() -> None:
    rng = np.random.default_rng(2)
    ages, sexes = (
        [rng.normal(70, 5, 12), rng.normal(71, 5, 9)],
        [rng.choice(["F", "M"], 12), rng.choice(["F", "M"], 9)],
    )
    assert compare_classes(ages, sexes) == compare_groups(ages[0], ages[1], sexes[0], sexes[1])


def test_tests_without_a_column_do_not_run_and_do_not_count() -> None:
    ages = [np.array([60.0, 61.0]), np.array([80.0, 81.0]), np.array([70.0, 72.0])]
    sexes = [np.array(["F", "M"])] * 3
    sex_only = compare_classes(None, sexes)
    assert sex_only.as_dict() == {"chi_square_p": 1.0}
    assert sex_only.describe() == "sex chi-square p=1.0000"
    age_only = compare_classes(ages, None)
    assert age_only.chi_square_p is None and age_only.worst == min(
        age_only.anova_p, age_only.kruskal_wallis_p
    )
    nothing = compare_classes(None, None)
    assert nothing.worst == 1.0 and nothing.passes(0.05) and nothing.describe() == "no balance tests"


def test_compare_classes_degenerate_ages() -> None:
    same = [np.array([70.0, 70.0])] * 3
    assert compare_classes(same, None).as_dict() == {"anova_p": 1.0, "kruskal_wallis_p": 1.0}
    apart = [np.array([60.0, 60.0]), np.array([70.0, 70.0]), np.array([80.0, 80.0])]
    assert compare_classes(apart, None).anova_p == 0.0
    with pytest.raises(ValueError, match="two ages"):
        compare_classes([np.array([60.0, 61.0]), np.array([70.0]), np.array([80.0, 81.0])], None)
