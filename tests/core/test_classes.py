import pytest

from pacgan_cli.core.classes import (
    check_class_names,
    class_legend,
    class_titles,
    is_adni_like,
    resolve_class_names,
    stored_class_names,
)
from pacgan_cli.core.config import build_config
from pacgan_cli.core.errors import ConfigError


def test_names_are_one_per_class_different_and_not_blank() -> None:
    assert check_class_names([" CN", "AD "], 2) == ("CN", "AD")
    assert check_class_names([], 3) == ()
    with pytest.raises(ConfigError, match=r"1 name\(s\) \(CN\) for 2 classes"):
        check_class_names(["CN"], 2)
    with pytest.raises(ConfigError, match="must differ"):
        check_class_names(["CN", "CN"], 2)
    with pytest.raises(ConfigError, match="empty"):
        check_class_names(["CN", " "], 2)


def test_a_huge_list_of_names_is_cut_in_the_error_line_which_names_both_counts() -> None:
    names = ", ".join(f"name{i:05d}" for i in range(40000))  # 440 KB, as a config's string
    with pytest.raises(ConfigError) as caught:
        build_config({"class_names": names})
    line = str(caught.value)
    assert len(line) < 300 and "\n" not in line
    assert "40000 name(s) (name00000, name00001" in line and "... (40000 names)) for 2 classes" in line


def test_a_huge_or_multi_line_name_is_cut_in_the_error_line() -> None:
    with pytest.raises(ConfigError) as caught:
        check_class_names(["x" * 400_000, "line\nbreak", "line\nbreak"], 3)
    line = str(caught.value)
    assert len(line) < 300 and "\n" not in line and "(3 names)" in line


def test_titles_and_legend_fall_back_to_the_label_numbers() -> None:
    assert class_titles(("CN", "AD"), 2) == ["CN", "AD"]
    assert class_titles((), 3) == ["class 0", "class 1", "class 2"]
    assert class_legend(("CN", "MCI", "AD")) == "0 = CN, 1 = MCI, 2 = AD"
    assert class_legend(()) == ""


def test_given_names_win_over_those_stored_with_the_model() -> None:
    stored = {"class_names": ["CN", "AD"]}
    assert resolve_class_names(["HC", "AD"], stored, 2) == ("HC", "AD")
    assert resolve_class_names(None, stored, 2) == ("CN", "AD")
    assert resolve_class_names([], None, 2) == ()
    assert stored_class_names({"class_names": ["A", "B", "C"]}, 2) == ()  # another model's names
    assert stored_class_names({"class_names": []}, 2) == ()
    with pytest.raises(ConfigError, match="--class-names"):
        resolve_class_names(["CN"], stored, 2)


def test_the_published_result_is_context_only_for_cn_vs_ad_at_256() -> None:
    assert is_adni_like(("CN", "AD"), 256) and is_adni_like(("cn", "ad"), 256)
    assert not is_adni_like(("CN", "AD"), 32)  # the demo's size
    assert not is_adni_like((), 256) and not is_adni_like(("AD", "CN"), 256)


@pytest.mark.parametrize(
    "value", [["CN", "AD"], "CN, AD", "CN AD", "['CN', 'AD']"], ids=["list", "commas", "spaces", "expression"]
)
def test_config_reads_class_names_as_users_write_them(value: object) -> None:
    assert build_config({"class_names": value}).class_names == ("CN", "AD")


def test_config_class_names_default_to_none_and_are_checked_against_class_size() -> None:
    assert build_config({}).class_names == ()
    assert build_config({"class_size": 3, "class_names": ["CN", "MCI", "AD"]}).class_names[1] == "MCI"
    with pytest.raises(ConfigError, match=r"`class_names`: 3 name\(s\)"):
        build_config({"class_names": ["CN", "MCI", "AD"]})
    with pytest.raises(ConfigError, match="`class_names`: expected text"):
        build_config({"class_names": [0, 1]})
