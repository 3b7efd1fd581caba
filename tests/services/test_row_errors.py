"""Import errors in the reader's language, naming the column as written and the value given."""

from __future__ import annotations

from pydantic import ValidationError

from matchmaker.domain import DEMAND_LABELS
from matchmaker.schemas import DemandCreate
from matchmaker.services.row_errors import custom_error, row_errors


def _errors(row: dict[str, object], lang: str = "zh") -> dict[str, str]:
    try:
        DemandCreate.model_validate(row)
    except ValidationError as exc:
        headers = {"min_trl": "成熟度(TRL)", "region": "地区"}
        return {e.field: e.message for e in row_errors(12, exc, headers, DEMAND_LABELS, lang)}  # type: ignore[arg-type]
    raise AssertionError("the row was valid")


def test_chinese_messages_name_the_column_as_written() -> None:
    messages = _errors({"title": "焊缝开裂", "description": "低温", "min_trl": 12, "region": "上海", "field": "新材料"})
    assert messages["min_trl"] == "第 12 行 「成熟度(TRL)」：应为 1 到 9 之间的整数（填写的是 “12”）"
    assert messages["region"] == "第 12 行 「地区」：应为以下之一：北京、天津、河北、其他（填写的是 “上海”）"


def test_a_missing_column_falls_back_to_the_chinese_label_and_english_on_request() -> None:
    assert _errors({"description": "低温", "field": "新材料", "region": "天津"}) == {
        "title": "第 12 行 「需求名称」：必须填写"
    }
    english = _errors(
        {"title": "x", "description": "y", "field": "新材料", "region": "天津", "budget_wan": "很多"}, "en"
    )
    assert english == {"budget_wan": "row 12 「预算(万元)」: must be a number (given '很多')"}


def test_custom_errors_read_the_same() -> None:
    error = custom_error(
        5, "external_id", "编号与第 2 行重复", {"external_id": "需求编号"}, DEMAND_LABELS, "zh", "TJ-1"
    )
    assert (error.row, error.column, error.value) == (5, "需求编号", "TJ-1")
    assert error.message == "第 5 行 「需求编号」：编号与第 2 行重复（填写的是 “TJ-1”）"
