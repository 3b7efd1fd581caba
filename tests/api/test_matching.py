"""Matching end to end: both directions, free-text search, bad input, matching runs and their export."""

from __future__ import annotations

import io
import time
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from matchmaker.api.downloads import dated
from matchmaker.models import Match
from tests.factories import achievement, demand
from tests.sheets import assert_chinese_download, assert_office_xlsx

A = "/api/v1/achievements"
D = "/api/v1/demands"

OFFERS = [
    achievement(
        external_id="COLD",
        title="相变蓄冷材料及冷链运输箱温控技术",
        summary="相变蓄冷材料潜热≥220 J/g，无源保温箱在35℃环境下保持2～8℃达120小时，适用于疫苗冷链配送。",
        keywords=["相变蓄冷", "冷链", "保温箱"],
        field="生物医药",
        region="北京",
        trl=7,
        transfer_modes=["许可"],
        price_wan=150,
    ),
    achievement(
        external_id="COLD-EN",
        title="Passive cold-chain shipper with phase-change panels",
        summary="Phase-change panels keep vaccines at 2-8 °C for 96 hours without power during last-mile "
        "delivery in summer heat.",
        keywords=["cold chain", "vaccine"],
        field="生物医药",
        region="河北",
        trl=4,
        transfer_modes=["转让"],
        price_wan=90,
    ),
    achievement(
        external_id="WELD",
        title="高韧性焊丝及窄间隙焊接工艺",
        summary="低温-40℃冲击功≥60J的高韧性焊丝，配合窄间隙焊接，焊缝裂纹率降至0.2%。",
        keywords=["焊丝", "焊接"],
        field="高端装备",
        region="天津",
        trl=8,
        transfer_modes=["许可"],
        price_wan=80,
    ),
    achievement(
        external_id="FERM",
        title="发酵罐在位灭菌死角识别与验证技术",
        summary="识别发酵罐管路灭菌死角，染菌率由5%降至0.3%。",
        keywords=["发酵", "灭菌"],
        field="生物医药",
        region="北京",
        trl=7,
        transfer_modes=["技术服务"],
        price_wan=60,
    ),
]
NEED = demand(
    external_id="NEED-COLD",
    title="疫苗配送途中箱内温度超标",
    description="夏季末端配送时保温箱内温度常超过8℃，疫苗报废严重，需要无电源也能保持2～8℃的方案。",
    keywords=["冷链"],
    field="生物医药",
    region="天津",
    min_trl=6,
    preferred_modes=["许可"],
    budget_wan=200,
)


@pytest.fixture
def seeded(client: TestClient) -> dict[str, int]:
    ids = {}
    for body in OFFERS:
        response = client.post(A, json=body)
        assert response.status_code == 201
        ids[str(body["external_id"])] = response.json()["id"]
    ids["NEED-COLD"] = client.post(D, json=NEED).json()["id"]
    ids["NEED-WELD"] = client.post(
        D,
        json=demand(
            external_id="NEED-WELD",
            title="低温环境下焊缝开裂",
            description="储罐焊缝在-40℃冲击试验不合格，返修率高。",
            keywords=["焊缝"],
            field="高端装备",
            region="天津",
            min_trl=None,
            preferred_modes=[],
            budget_wan=None,
        ),
    ).json()["id"]
    return ids


def test_need_to_achievements_ranked_and_explained(client: TestClient, seeded: dict[str, int]) -> None:
    response = client.get(f"{D}/{seeded['NEED-COLD']}/matches", params={"k": 3})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["rank"] for i in items] == [1, 2, 3]
    first = items[0]
    assert first["achievement"]["external_id"] == "COLD"
    explanation = first["explanation"]
    assert explanation["sentence"].startswith("语义相近(")
    assert "成熟度7≥要求6" in explanation["sentence"]
    assert "北京成果→天津需求" in explanation["sentence"]
    assert set(explanation["components"]) >= {"semantic", "lexical", "chain", "trl", "mode", "price", "region"}
    assert explanation["total"] == first["score"]
    # The English shipper solves the same problem but is immature and offers the wrong mode: ranked down, flagged.
    english = next(i for i in items if i["achievement"]["external_id"] == "COLD-EN")
    assert set(english["explanation"]["violations"]) == {"trl", "modes"}
    strict = client.get(f"{D}/{seeded['NEED-COLD']}/matches", params={"k": 3, "constraints": "strict"}).json()
    assert "COLD-EN" not in [i["achievement"]["external_id"] for i in strict["items"]]


def test_achievement_to_needs(client: TestClient, seeded: dict[str, int]) -> None:
    response = client.get(f"{A}/{seeded['WELD']}/matches", params={"k": 2})
    assert response.status_code == 200
    items = response.json()["items"]
    assert items[0]["demand"]["external_id"] == "NEED-WELD"
    assert "explanation" in items[0]


def test_filters_apply_to_the_ranked_list(client: TestClient, seeded: dict[str, int]) -> None:
    items = client.get(f"{D}/{seeded['NEED-COLD']}/matches", params={"region": "河北"}).json()["items"]
    assert [i["achievement"]["external_id"] for i in items] == ["COLD-EN"]
    items = client.get(f"{D}/{seeded['NEED-COLD']}/matches", params={"trl_min": 8}).json()["items"]
    assert [i["achievement"]["external_id"] for i in items] == ["WELD"]
    items = client.get(f"{D}/{seeded['NEED-COLD']}/matches", params={"modes": "技術服務"}).json()["items"]
    assert [i["achievement"]["external_id"] for i in items] == ["FERM"]


def test_record_is_searchable_when_the_call_returns(client: TestClient, seeded: dict[str, int]) -> None:
    created = client.post(
        A,
        json=achievement(
            external_id="NEW",
            title="疫苗冷链温控保温箱新型相变材料",
            summary="新一代相变保温箱，2～8℃保持150小时。",
            field="生物医药",
            region="河北",
            trl=8,
            transfer_modes=["许可"],
            price_wan=100,
        ),
    ).json()
    items = client.get(f"{D}/{seeded['NEED-COLD']}/matches", params={"k": 5}).json()["items"]
    assert created["id"] in [i["achievement"]["id"] for i in items]
    client.delete(f"{A}/{created['id']}")
    items = client.get(f"{D}/{seeded['NEED-COLD']}/matches", params={"k": 5}).json()["items"]
    assert created["id"] not in [i["achievement"]["id"] for i in items]
    client.patch(f"{A}/{seeded['FERM']}", json={"status": "archived"})
    items = client.get(f"{D}/{seeded['NEED-COLD']}/matches", params={"k": 5}).json()["items"]
    assert seeded["FERM"] not in [i["achievement"]["id"] for i in items]


def test_cross_language_search(client: TestClient, seeded: dict[str, int]) -> None:
    body = {"text": "welds crack in low-temperature impact tests", "target": "achievements", "k": 1}
    response = client.post("/api/v1/search", json=body)
    assert response.status_code == 200
    assert response.json()["items"][0]["achievement"]["external_id"] == "WELD"
    needs = client.post("/api/v1/search", json={"text": "發酵罐染菌", "target": "demands", "k": 2}).json()
    assert len(needs["items"]) == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"k": 0}, "k"),
        ({"k": 101}, "k"),
        ({"colour": "red"}, "colour"),
        ({"constraints": "maybe"}, "constraints"),
        ({"region": "火星"}, "region"),
    ],
)
def test_bad_match_parameters_are_422(
    client: TestClient, seeded: dict[str, int], params: dict[str, Any], field: str
) -> None:
    response = client.get(f"{D}/{seeded['NEED-COLD']}/matches", params=params)
    assert response.status_code == 422
    assert field in [f["field"] for f in response.json()["fields"]]


def test_bad_search_bodies(client: TestClient, seeded: dict[str, int]) -> None:
    assert client.post("/api/v1/search", json={"text": ""}).status_code == 422
    assert client.post("/api/v1/search", json={"text": "   "}).status_code == 422
    assert client.post("/api/v1/search", json={"text": "x", "filters": {"colour": 1}}).status_code == 422
    huge = client.post("/api/v1/search", json={"text": "冷" * 20_001})
    assert huge.status_code == 413
    assert huge.json()["limit"] == 20_000
    assert client.get(f"{D}/999999/matches").status_code == 404


def test_record_not_yet_embedded_is_409(
    client: TestClient, seeded: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    search = client.app.state.search  # type: ignore[attr-defined]
    # As if another worker wrote it and this one has not caught up (neither its follower nor the request's own apply):
    monkeypatch.setattr(search, "sync", lambda: None)
    monkeypatch.setattr(search, "apply_written", lambda written: None)
    created = client.post(D, json=demand(external_id="LATE")).json()
    response = client.get(f"{D}/{created['id']}/matches")
    assert response.status_code == 409
    assert "not embedded yet" in response.json()["detail"]


def _wait_for_run(client: TestClient, run_id: int) -> dict[str, Any]:
    for _ in range(200):
        run = client.get(f"/api/v1/matching-runs/{run_id}").json()
        if run["status"] in ("done", "failed"):
            return run
        time.sleep(0.05)
    raise AssertionError("run did not finish")


def test_matching_run_keeps_decisions_and_exports(client: TestClient, seeded: dict[str, int], session: Session) -> None:
    started = client.post("/api/v1/matching-runs", json={"k": 2})
    assert started.status_code == 202
    run = _wait_for_run(client, started.json()["id"])
    assert (run["status"], run["total"], run["done"], run["proposed"]) == ("done", 2, 2, 4)
    # A manager shortlists one pairing and rejects another; a new run must keep both decisions.
    need = seeded["NEED-COLD"]
    session.execute(
        update(Match)
        .where(Match.demand_id == need, Match.achievement_id == seeded["COLD"])
        .values(status="shortlisted")
    )
    rejected = session.query(Match).filter(Match.demand_id == need, Match.status == "proposed").one()
    session.execute(
        update(Match).where(Match.id == rejected.id).values(status="rejected", reject_reason="not_relevant")
    )
    session.commit()
    second = _wait_for_run(client, client.post("/api/v1/matching-runs", json={"k": 2}).json()["id"])
    assert second["kept_decided"] == 2
    session.expire_all()
    pairs = {(m.achievement_id, m.status) for m in session.query(Match).filter(Match.demand_id == need)}
    assert (seeded["COLD"], "shortlisted") in pairs
    assert (rejected.achievement_id, "rejected") in pairs
    assert sum(1 for _, s in pairs if s == "proposed") == 2  # two new proposals, the rejected one not among them

    exported = client.get(f"/api/v1/matching-runs/{second['id']}/export", params={"format": "xlsx"})
    assert exported.status_code == 200
    assert_office_xlsx(exported.content)
    assert_chinese_download(exported, dated(f"供需对接清单-{second['id']}", "xlsx"))
    sheet = openpyxl.load_workbook(io.BytesIO(exported.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("需求编号", "需求名称", "需求单位", "需求地区", "排名")
    body = rows[1:]
    assert [(r[0], r[4]) for r in body] == sorted((r[0], r[4]) for r in body)
    assert {r[0] for r in body} == {"NEED-COLD", "NEED-WELD"}
    csv_export = client.get(f"/api/v1/matching-runs/{second['id']}/export", params={"format": "csv"})
    assert csv_export.content.decode("utf-8-sig").startswith("需求编号,需求名称")
    assert client.get("/api/v1/matching-runs/999/export").status_code == 404
    assert client.post("/api/v1/matching-runs", json={"k": 500}).status_code == 422
