"""Which groups become classes and in which order, and which balance tests a table allows."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from pacgan_cli.core.cohort.table import CohortColumns, class_order, group_values, plan_balance_tests
from pacgan_cli.core.errors import ConfigError, InputError

COLUMNS = CohortColumns()


def groups_table(groups: list, **columns: list) -> pd.DataFrame:
    return pd.DataFrame({"Subject_ID": [f"S{i}" for i in range(len(groups))], "Group": groups, **columns})


def test_the_published_pair_is_controls_0_and_patients_1_and_other_groups_stay_out() -> None:
    order = class_order(groups_table(["AD", "MCI", "CN", "AD"]), COLUMNS)
    assert order.names == ("CN", "AD")
    assert "as published" in order.rule


def test_other_groups_become_classes_in_sorted_order() -> None:
    order = class_order(groups_table(["nonface", "face", "nonface", "blur"]), COLUMNS)
    assert order.names == ("blur", "face", "nonface")
    assert "sorted" in order.rule and "--classes" in order.rule


def test_number_groups_sort_by_value_and_lose_a_float_dot() -> None:
    table = pd.read_csv(io.StringIO("Subject_ID,Group\nA,10\nB,2\nC,\nD,0\n"))
    assert table.Group.dtype == np.float64  # the empty cell makes the whole column floats
    assert list(group_values(table, COLUMNS)) == ["10", "2", "", "0"]
    assert class_order(table, COLUMNS).names == ("0", "2", "10")


def test_classes_given_set_the_order_and_must_exist() -> None:
    table = groups_table(["AD", "MCI", "CN"])
    assert class_order(table, COLUMNS, ("MCI", "AD")).names == ("MCI", "AD")
    with pytest.raises(InputError, match=r"no rows have Group = 'HC' \(values found: AD, CN, MCI\)"):
        class_order(table, COLUMNS, ("HC", "AD"))
    with pytest.raises(ConfigError, match="at least two"):
        class_order(table, COLUMNS, ("AD",))
    with pytest.raises(ConfigError, match="different classes"):
        class_order(table, COLUMNS, ("AD", "AD"))


def test_a_table_with_one_group_cannot_be_split() -> None:
    with pytest.raises(InputError, match=r"Group holds 1 class\(es\) \(face\); a split needs at least two"):
        class_order(groups_table(["face", "face"]), COLUMNS)


def test_the_label_column_of_an_imported_table_sets_the_order() -> None:
    table = groups_table(["nonface", "face", "face"], Label=[0, 1, 1])
    order = class_order(table, COLUMNS)
    assert order.names == ("nonface", "face") and "Label column" in order.rule
    muddled = groups_table(["nonface", "face", "face"], Label=[0, 1, 0])
    order = class_order(muddled, COLUMNS)
    assert order.names == ("face", "nonface")
    assert "Label column does not give each group its own label 0..1" in order.rule


def test_the_published_pair_wins_over_the_label_column_and_says_so() -> None:
    table = groups_table(["AD", "CN"], Label=[0, 1])
    order = class_order(table, COLUMNS)
    assert order.names == ("CN", "AD")
    assert "numbers them otherwise (--classes AD,CN keeps it)" in order.rule
    agreeing = class_order(groups_table(["AD", "CN"], Label=[1, 0]), COLUMNS)
    assert agreeing.rule == "controls 0, patients 1, as published"


def test_the_plan_tests_the_columns_there_are() -> None:
    both = plan_balance_tests(groups_table(["AD"], Age=[70], Sex=["F"]), COLUMNS)
    assert (both.age, both.sex, both.skipped) == (True, True, {})
    assert both.tests(2) == ("welch_t_p", "mann_whitney_p", "chi_square_p")
    assert both.tests(3) == ("anova_p", "kruskal_wallis_p", "chi_square_p")
    sex_only = plan_balance_tests(groups_table(["AD"], Sex=["F"]), COLUMNS)
    assert sex_only.tests(2) == ("chi_square_p",)
    assert (
        sex_only.describe(2)
        == "balance tests: sex chi-square (age tests skipped: the table has no column 'Age')"
    )
    off = plan_balance_tests(groups_table(["AD"], Age=[70], Sex=["F"]), COLUMNS, matching=False)
    assert off.tests(2) == ()
    assert off.describe(2) == "balance tests: none (age and sex tests skipped: --no-match)"
