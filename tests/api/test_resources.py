"""Landing resources: the list (CRUD, filters, import / export with Chinese headers) and the fit for an achievement."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from matchmaker.api.downloads import dated
from matchmaker.models import Match
from tests.factories import achievement, demand
from tests.sheets import assert_chinese_download, assert_office_xlsx


def resource(**overrides: Any) -> dict[str, Any]:
    """A valid resource body; override any field."""
    body: dict[str, Any] = {
        "external_id": "ZY-T-001",
        "name": "天开园生物医药概念验证中心",
        "kind": "概念验证中心",
        "region": "天津",
        "chains": ["生物医药", "中医药"],
        "description": "为高校院所的药物、医疗器械成果提供原理验证、样机试制与商业化评估。",
        "capacity": "每年验证项目 30 项",
        "contact": "022-0000-0001",
    }
    body.update(overrides)
    return body


SET = [
    resource(),
    resource(
        external_id="ZY-T-002",
        name="滨海新材料中试基地",
        kind="中试平台",
        chains=["新材料"],
        description="材料放大中试线，吨级试制，配套检测。",
    ),
    resource(
        external_id="ZY-T-003",
        name="天开园创业种子基金",
        kind="基金",
        chains=[],
        fund_stage="种子期",
        ticket_min_wan=50,
        ticket_max_wan=300,
        description="投资早期科技成果转化项目。",
    ),
    resource(
        external_id="ZY-B-004",
        name="中关村医疗器械孵化器",
        kind="孵化器",
        region="北京",
        chains=["生物医药"],
        description="医疗器械初创企业孵化，提供洁净车间。",
    ),
]


def _fields(response: Any) -> set[str]:
    return {f["field"] for f in response.json()["fields"]}


@pytest.fixture
def resources(client: TestClient) -> list[int]:
    ids = []
    for body in SET:
        response = client.post("/api/v1/resources", json=body)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def test_crud_and_validation(client: TestClient, resources: list[int]) -> None:
    fund = client.get(f"/api/v1/resources/{resources[2]}").json()
    assert (fund["fund_stage"], fund["ticket_min_wan"], fund["ticket_max_wan"]) == ("种子期", 50.0, 300.0)
    patched = client.patch(f"/api/v1/resources/{resources[0]}", json={"trl_min": 3, "trl_max": 5, "chains": "生物醫藥"})
    assert (patched.status_code, patched.json()["chains"]) == (200, ["生物医药"])
    bad = client.patch(f"/api/v1/resources/{resources[0]}", json={"trl_min": 6})
    assert (bad.status_code, _fields(bad)) == (422, {"trl_max"})
    cases = [
        (resource(external_id=None, kind="实验室"), "kind"),
        (resource(external_id=None, chains=["量子"]), "chains"),
        (resource(external_id=None, trl_min=7, trl_max=5), "trl_max"),
        (resource(external_id=None, fund_stage="种子期"), "fund_stage"),
        (resource(external_id=None, kind="基金", ticket_min_wan=500, ticket_max_wan=100), "ticket_max_wan"),
        (resource(external_id=None, kind="基金", ticket_min_wan=-1), "ticket_min_wan"),
        (resource(external_id=None, description=""), "description"),
    ]
    for body, field in cases:
        response = client.post("/api/v1/resources", json=body)
        assert (response.status_code, field in _fields(response)) == (422, True), (field, response.text)
    assert client.post("/api/v1/resources", json=resource()).status_code == 409
    assert client.delete(f"/api/v1/resources/{resources[3]}").status_code == 204
    assert client.get(f"/api/v1/resources/{resources[3]}").status_code == 404


def test_filters(client: TestClient, resources: list[int]) -> None:
    def names(**params: Any) -> list[str]:
        response = client.get("/api/v1/resources", params=params)
        assert response.status_code == 200, response.text
        return [r["external_id"] for r in response.json()["items"]]

    assert names(kind="基金") == ["ZY-T-003"]
    assert names(region="北京市") == ["ZY-B-004"]
    assert names(chain="生物医药") == ["ZY-T-001", "ZY-T-003", "ZY-B-004"]  # a fund without chains takes every one
    assert names(trl=6) == ["ZY-T-002", "ZY-B-004"]  # 中试 5–7 and 孵化器 4–7 by default
    assert names(q="中试") == ["ZY-T-002"]
    assert client.get("/api/v1/resources", params={"kind": "实验室"}).status_code == 422
    assert client.get("/api/v1/resources", params={"colour": "red"}).status_code == 422


def test_export_and_import_round_trip_with_chinese_headers(client: TestClient, resources: list[int]) -> None:
    exported = client.get("/api/v1/resources/export", params={"format": "xlsx"})
    assert exported.status_code == 200
    assert_office_xlsx(exported.content)
    assert_chinese_download(exported, dated("载体与资源清单", "xlsx"))
    sheet = openpyxl.load_workbook(io.BytesIO(exported.content)).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["资源编号", "资源名称", "资源类型"]
    assert "单笔投资下限(万元)" in header
    assert sheet.freeze_panes == "A2"
    fund_row = next(r for r in sheet.iter_rows(min_row=2, values_only=True) if r[0] == "ZY-T-003")
    assert fund_row[header.index("单笔投资上限(万元)")] == 300
    again = client.post(
        "/api/v1/imports/resources", files={"file": ("resources.xlsx", io.BytesIO(exported.content))}
    ).json()
    assert (again["created"], again["updated"], again["unchanged"], again["failed"]) == (0, 0, 4, 0)
    csv = (
        "资源编号,资源名称,资源类型,所在地区,服务产业链,资源简介,投资阶段,单笔投资下限（万元）\n"
        "ZY-H-010,雄安成果转化基金,基金,河北省,新能源、新材料,投资成果转化项目,天使期,100\n"
        "ZY-H-011,坏的一行,实验室,河北,新能源,简介,,\n"
        "ZY-T-002,滨海新材料中试基地,中试平台,天津,新材料,材料放大中试线，百吨级试制。,,\n"
    ).encode()
    report = client.post("/api/v1/imports/resources", files={"file": ("r.csv", io.BytesIO(csv))}).json()
    assert (report["created"], report["updated"], report["failed"]) == (1, 1, 1)
    assert report["errors"][0]["row"] == 3
    assert report["errors"][0]["field"] == "kind"
    new = client.get("/api/v1/resources", params={"q": "雄安"}).json()["items"][0]
    assert (new["region"], new["chains"], new["ticket_min_wan"]) == ("河北", ["新能源", "新材料"], 100.0)
    atomic = client.post(
        "/api/v1/imports/resources", params={"atomic": "true"}, files={"file": ("r.csv", io.BytesIO(csv))}
    )
    assert atomic.status_code == 422


def test_resources_that_fit_an_achievement_and_a_pairing(
    client: TestClient, resources: list[int], session: Session
) -> None:
    body = achievement(
        external_id="BJ-R-1",
        title="新型抗肿瘤小分子化合物",
        summary="完成细胞与动物实验，药效验证中，需原理样机验证与成药性评估。",
        field="生物医药",
        region="北京",
        trl=4,
    )
    achievement_id = client.post("/api/v1/achievements", json=body).json()["id"]
    response = client.get(f"/api/v1/achievements/{achievement_id}/resources")
    assert response.status_code == 200, response.text
    ranked = response.json()
    assert ranked["target_region"] == "天津"
    first = ranked["items"][0]
    assert first["resource"]["external_id"] == "ZY-T-001"
    assert "成熟度4在概念验证中心适用范围3–5内" in first["sentence"]
    assert "服务生物医药产业链" in first["sentence"]
    assert [i["rank"] for i in ranked["items"]] == [1, 2, 3, 4]
    scores = [i["score"] for i in ranked["items"]]
    assert scores == sorted(scores, reverse=True)
    assert all(abs(sum(i["components"].values()) - i["score"]) < 1e-3 for i in ranked["items"])
    pilot = next(i for i in ranked["items"] if i["resource"]["external_id"] == "ZY-T-002")
    assert pilot["checks"][1] == {
        "name": "chain",
        "ok": False,
        "resource_value": ["新材料"],
        "achievement_value": "生物医药",
        "message": "不服务生物医药产业链（服务新材料）",
    }
    # For a pairing with a Beijing need, resources in Beijing are where it lands.
    need = client.post("/api/v1/demands", json=demand(region="北京", external_id="BJ-D-R")).json()["id"]
    match = Match(demand_id=need, achievement_id=achievement_id, rank=1, score=0.8, status="signed", explanation={})
    session.add(match)
    session.commit()
    for_pairing = client.get(f"/api/v1/matches/{match.id}/resources", params={"limit": 2}).json()
    assert (for_pairing["target_region"], len(for_pairing["items"])) == ("北京", 2)
    incubator = client.get(f"/api/v1/matches/{match.id}/resources").json()["items"]
    assert next(i for i in incubator if i["resource"]["region"] == "北京")["components"]["region"] == 0.1
    assert client.get("/api/v1/achievements/999999/resources").status_code == 404


def test_import_errors_name_the_column_as_written(client: TestClient) -> None:
    content = "资源名称,资源类型,资源简介,單筆投資下限（萬元）\n滨海基金,基金,投资成果转化,一百\n".encode()
    report = client.post("/api/v1/imports/resources", files={"file": ("r.csv", io.BytesIO(content))}).json()
    assert [e["message"] for e in report["errors"]] == ["第 2 行 「單筆投資下限（萬元）」：应为数字（填写的是 “一百”）"]
    assert report["errors"][0]["field"] == "ticket_min_wan"
