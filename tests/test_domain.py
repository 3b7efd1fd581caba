"""Enumerations and column headers."""

from __future__ import annotations

import pytest

from matchmaker.domain import (
    ACHIEVEMENT_LABELS,
    DEMAND_LABELS,
    canonical_header,
    header_map,
    normalize_chain,
    normalize_mode,
    normalize_region,
)


def test_traditional_and_variant_spellings_normalise() -> None:
    assert normalize_chain("生物醫藥") == "生物医药"
    assert normalize_chain("汽車及新能源汽車") == "汽车及新能源汽车"
    assert normalize_region("北京市") == "北京"
    assert normalize_mode("作價投資") == "作价投资"


def test_unknown_values_name_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match="region must be one of 北京、天津、河北、其他"):
        normalize_region("上海")


def test_headers_in_english_chinese_and_traditional() -> None:
    mapping = header_map(ACHIEVEMENT_LABELS)
    assert canonical_header("成果名称", mapping) == "title"
    assert canonical_header("成果名稱", mapping) == "title"
    assert canonical_header(" Price_Wan ", mapping) == "price_wan"
    assert canonical_header("所属产业链/领域", mapping) == "field"
    assert canonical_header("参考价格（万元）", mapping) == "price_wan"
    assert canonical_header("colour", mapping) is None
    demand_map = header_map(DEMAND_LABELS)
    assert canonical_header("合作方式", demand_map) == "preferred_modes"
    assert canonical_header("最低成熟度要求", demand_map) == "min_trl"
