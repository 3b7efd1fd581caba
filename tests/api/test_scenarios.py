"""Application scenarios (应用场景): a need kind that is imported, filtered, matched, explained and counted."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from matchmaker.models import Match
from tests.factories import achievement, demand

PORT = demand(
    external_id="SC-PORT-1",
    title="天津港自动化码头集装箱冷链监测场景",
    description="天津港开放冷藏集装箱堆场作为应用场景，可试用无源保温、温度监测等新技术，需保持2～8℃。",
    keywords=["冷链", "场景"],
    enterprise="天津港集团",
    need_kind="应用场景",
)


def test_kind_defaults_validates_and_filters(client: TestClient) -> None:
    problem = client.post("/api/v1/demands", json=demand()).json()
    assert problem["need_kind"] == "技术需求"
    scenario = client.post("/api/v1/demands", json=PORT)
    assert (scenario.status_code, scenario.json()["need_kind"]) == (201, "应用场景")
    bad = client.post("/api/v1/demands", json=demand(external_id="X-1", need_kind="悬赏"))
    assert bad.status_code == 422
    assert bad.json()["fields"][0]["field"] == "need_kind"
    listed = client.get("/api/v1/demands", params={"need_kind": "应用场景"}).json()
    assert [d["external_id"] for d in listed["items"]] == ["SC-PORT-1"]
    assert client.get("/api/v1/demands", params={"need_kind": "技术需求"}).json()["total"] == 1
    assert client.get("/api/v1/demands", params={"need_kind": "悬赏"}).status_code == 422
    assert client.get("/api/v1/achievements", params={"need_kind": "应用场景"}).status_code == 422
    changed = client.patch(f"/api/v1/demands/{problem['id']}", json={"need_kind": "应用场景"}).json()
    assert changed["need_kind"] == "应用场景"


def test_import_and_export_with_the_chinese_header(client: TestClient) -> None:
    csv = (
        "需求编号,需求名称,需求描述,需求类型\n"
        "S-1,医院手术机器人示范场景,三甲医院开放手术室试用国产手术机器人,应用场景\n"
        "S-2,焊缝开裂,焊缝在低温下开裂,\n"
        "S-3,园区无人配送场景,天开园开放道路试用无人配送车,场景\n"
        "S-4,坏类型,描述,悬赏\n"
    ).encode()
    report = client.post("/api/v1/imports/demands", files={"file": ("d.csv", io.BytesIO(csv))}).json()
    assert (report["created"], report["failed"]) == (3, 1)
    assert (report["errors"][0]["row"], report["errors"][0]["field"]) == (5, "need_kind")
    kinds = {d["external_id"]: d["need_kind"] for d in client.get("/api/v1/demands").json()["items"]}
    assert kinds == {"S-1": "应用场景", "S-2": "技术需求", "S-3": "应用场景"}
    exported = client.get("/api/v1/demands/export", params={"format": "csv", "headers": "zh"}).text
    header = exported.lstrip("\ufeff").splitlines()[0].split(",")
    assert "需求类型" in header
    again = client.post("/api/v1/imports/demands", files={"file": ("d.csv", io.BytesIO(exported.encode()))}).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)


def test_scenarios_are_matched_with_their_own_wording_and_counted(client: TestClient, session: Session) -> None:
    cold = client.post("/api/v1/achievements", json=achievement(external_id="COLD", region="北京")).json()["id"]
    scenario = client.post("/api/v1/demands", json=PORT).json()["id"]
    problem = client.post("/api/v1/demands", json=demand()).json()["id"]
    ranked = client.get(f"/api/v1/demands/{scenario}/matches", params={"k": 1}).json()["items"][0]
    sentence = ranked["explanation"]["sentence"]
    assert sentence.startswith("应用场景：与场景内容相符(")
    assert "北京成果→天津场景" in sentence
    assert sentence.endswith("可在该场景试用或示范部署")
    plain = client.get(f"/api/v1/demands/{problem}/matches", params={"k": 1}).json()["items"][0]
    assert plain["explanation"]["sentence"].startswith("语义相近(")
    for_achievement = client.get(f"/api/v1/achievements/{cold}/matches", params={"k": 5}).json()["items"]
    assert {i["demand"]["need_kind"] for i in for_achievement} == {"应用场景", "技术需求"}
    session.add_all(
        [
            Match(demand_id=scenario, achievement_id=cold, rank=1, score=0.8, status="landed", explanation={}),
            Match(demand_id=problem, achievement_id=cold, rank=1, score=0.7, status="proposed", explanation={}),
        ]
    )
    session.commit()
    pairings = client.get("/api/v1/matches", params={"need_kind": "应用场景"}).json()
    assert [p["demand"]["id"] for p in pairings["items"]] == [scenario]
    assert client.get("/api/v1/matches", params={"need_kind": "悬赏"}).status_code == 422
    stats = client.get("/api/v1/stats").json()
    assert stats["by_need_kind"] == {"应用场景": 1, "技术需求": 1}
    assert stats["landed_by_need_kind"] == {"应用场景": 1}
