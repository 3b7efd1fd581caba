"""The form helpers: nested field names, repeated rows, errors placed where the form shows them, refusals by role."""

from __future__ import annotations

import pytest
from starlette.datastructures import FormData

from matchmaker.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from matchmaker.schemas.challenges import ProposalCreate
from matchmaker.web.forms import field_name, form_errors, placed, rows, validate
from matchmaker.web.i18n import Translator


def test_field_names_follow_the_location() -> None:
    assert field_name(("partners", 0, "name")) == "partners[0].name"
    assert field_name(("scores", "17")) == "scores[17]"  # a dict keyed by id
    assert field_name(("budget_wan",)) == "budget_wan"
    assert field_name(()) == "form"


def test_rows_keep_those_typed_into_in_order() -> None:
    form = FormData(
        [
            ("partners[0].name", "燕山大学"), ("partners[0].kind", "高校"), ("partners[0].region", "河北"),
            ("partners[1].name", " "), ("partners[1].kind", "企业"), ("partners[1].region", "北京"),
            ("partners[2].name", "天津大学"), ("partners[2].kind", "高校"), ("partners[2].region", "天津"),
        ]
    )  # fmt: skip
    found = rows(form, "partners", ("name", "kind", "region"), ("name",), 5)
    assert [r["name"] for r in found] == ["燕山大学", "天津大学"]  # the row with only its selects set is left out


def test_nested_validation_names_each_field_in_chinese_and_english() -> None:
    body = {"lead_region": "北京", "team": "", "approach": "x", "budget_wan": "二百", "promises": [], "schedule": []}
    body["partners"] = [{"name": "燕山大学", "kind": "高校", "region": "上海"}]
    _, errors = validate(ProposalCreate, body, Translator("zh-CN"), nested=True)
    assert errors["team"] == "必填"
    assert errors["budget_wan"] == "请填写数字（万元）"
    assert "partners[0].region" in errors
    assert errors["promises"] == "必填"  # an empty list where one item is needed
    _, english = validate(ProposalCreate, body, Translator("en"), nested=True)
    assert english["team"] == "required"


def test_unshown_errors_go_to_the_form_and_a_field_keeps_every_problem() -> None:
    problems = [field_error("status", "没有技术合同"), field_error("status", "没有落地记录")]
    exc = ValidationFailed("不能标记为落地", fields=[*problems, field_error("title", "太长")])
    t = Translator("zh-CN")
    assert form_errors(exc, t, {"status", "title"}) == {"status": "没有技术合同；没有落地记录", "title": "太长"}
    # A problem of a field the form does not show: the service's own sentence above the form.
    assert form_errors(exc, t, {"title"}) == {"title": "太长", "form": "不能标记为落地"}
    member = ValidationFailed("x", fields=[field_error("members[1].kind", "不允许")])
    assert form_errors(member, t, {"kind"}, lambda name: name.split(".")[-1]) == {"kind": "不允许"}
    assert form_errors(Conflict("已截止"), t, set()) == {"form": "已截止"}
    assert placed({"title": "太长", "status": "没有技术合同"}, {"title"}) == {"title": "太长", "form": "没有技术合同"}


@pytest.mark.parametrize("refusal", [Forbidden("institution members do"), NotFound("proposal 3 not found")])
def test_a_refusal_of_who_asks_is_not_a_form_error(refusal: Exception) -> None:
    with pytest.raises(type(refusal)):
        form_errors(refusal, Translator("zh-CN"), {"title"})  # type: ignore[arg-type]
