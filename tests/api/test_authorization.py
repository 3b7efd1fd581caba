"""Authorization matrix: every route × role × own / other / confidential record, and confidentiality leaks."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from matchmaker.models import ApiToken, Match
from matchmaker.models.landing import Landing, TechContract
from tests.factories import achievement, demand

SECRET_ENTERPRISE = "津门保密装备有限公司"
ROLES = ("admin", "manager", "ent_a", "ent_b", "uni_a", "uni_b")


@dataclass
class World:
    tokens: dict[str, str]
    ids: dict[str, int]


@pytest.fixture
def world(client: TestClient, make_user: Callable[..., str], session: Session) -> World:
    suffix = uuid.uuid4().hex[:6]
    orgs = {
        "ent_a": SECRET_ENTERPRISE,
        "ent_b": f"渤海化工-{suffix}",
        "uni_a": f"北方理工大学-{suffix}",
        "uni_b": f"燕山大学-{suffix}",
    }
    tokens = {
        "admin": client.headers["Authorization"].removeprefix("Bearer "),
        "manager": make_user("manager", "天津中心成果转化组"),
        "ent_a": make_user("enterprise", orgs["ent_a"]),
        "ent_b": make_user("enterprise", orgs["ent_b"]),
        "uni_a": make_user("institution", orgs["uni_a"]),
        "uni_b": make_user("institution", orgs["uni_b"]),
    }

    def post(role: str, url: str, body: dict[str, Any]) -> int:
        response = client.post(url, json=body, headers=_auth(tokens[role]))
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    cold = {
        "title": "相变蓄冷保温箱温控技术",
        "summary": "相变蓄冷材料使保温箱在35℃环境保持2～8℃达120小时。",
        "field": "生物医药",
        "keywords": ["冷链"],
        "trl": 7,
        "transfer_modes": ["许可"],
    }
    ids = {
        "ach_a": post("uni_a", "/api/v1/achievements", achievement(external_id=f"A-{suffix}", **cold)),
        "ach_a_draft": post(
            "uni_a",
            "/api/v1/achievements",
            achievement(external_id=f"AD-{suffix}", status="draft", title="未公开的草稿成果"),
        ),
        "ach_b": post("uni_b", "/api/v1/achievements", achievement(external_id=f"B-{suffix}", title="钠离子电池正极")),
        # Published: a pairing whose achievement is a draft leaves the enterprise's view (reliability item 9).
        "ach_a_landed": post(
            "uni_a", "/api/v1/achievements", achievement(external_id=f"AL-{suffix}", title="疫苗冷链保温箱温控技术")
        ),
        "dem_a": post(
            "ent_a",
            "/api/v1/demands",
            demand(
                external_id=f"DA-{suffix}",
                confidential=True,
                enterprise=SECRET_ENTERPRISE,
                field="生物医药",
                title="疫苗配送箱内温度超标",
                description="夏季配送时保温箱内温度超过8℃，需保持2～8℃。",
            ),
        ),
        "dem_b": post("ent_b", "/api/v1/demands", demand(external_id=f"DB-{suffix}", enterprise=orgs["ent_b"])),
    }
    match = Match(
        demand_id=ids["dem_a"],
        achievement_id=ids["ach_a"],
        rank=1,
        score=0.9,
        status="proposed",
        explanation={"sentence": "语义相近(0.90)", "checks": []},
    )
    session.add(match)
    session.commit()
    ids["match"] = match.id
    # An event open for registration: ent_b with its need and uni_a with its achievement, one request between them.
    event = client.post("/api/v1/events", json=_event_body(), headers=_auth(tokens["admin"])).json()
    ids["event"] = event["id"]
    move = client.post(f"/api/v1/events/{event['id']}/status", json={"status": "registration"})
    assert move.status_code == 200, move.text
    ids["part_ent_b"] = post("ent_b", f"/api/v1/events/{event['id']}/participants", {"demand_ids": [ids["dem_b"]]})
    ids["part_uni_a"] = post("uni_a", f"/api/v1/events/{event['id']}/participants", {"achievement_ids": [ids["ach_a"]]})
    ids["request"] = post(
        "admin",
        f"/api/v1/events/{event['id']}/requests",
        {"first_participant_id": ids["part_ent_b"], "second_participant_id": ids["part_uni_a"]},
    )
    ids["user_manager"] = client.get("/api/v1/auth/me", headers=_auth(tokens["manager"])).json()["id"]
    ids.update(_landed_pairing(client, session, ids))
    return World(tokens=tokens, ids=ids)


def _event_body() -> dict[str, Any]:
    return {
        "kind": "项目推介",
        "title": "天津科技进河北·项目推介会",
        "starts_on": "2026-12-15",
        "meeting_minutes": 30,
        "day_start": "14:00",
        "day_end": "17:00",
        "tables": 4,
    }


def _landed_pairing(client: TestClient, session: Session, ids: dict[str, int]) -> dict[str, int]:
    """A landed pairing of the confidential need and uni_a's published achievement, its contract, its landing."""
    landed = Match(demand_id=ids["dem_a"], achievement_id=ids["ach_a_landed"], rank=2, score=0.7, status="landed")
    session.add(landed)
    session.flush()
    contract = TechContract(
        match_id=landed.id,
        contract_type="技术许可",
        title="专利实施许可合同",
        parties=[
            {"role": "供方", "name": "北方理工大学", "region": "北京", "kind": "高校"},
            {"role": "需方", "name": SECRET_ENTERPRISE, "region": "天津", "kind": "企业"},
        ],
        signed_on=date(2026, 3, 1),
        total_wan=Decimal(100),
        tech_wan=Decimal(80),
    )
    session.add(contract)
    session.add(
        Landing(
            match_id=landed.id,
            carrier_kind="园区",
            carrier_name="天开高教科创园",
            region="天津",
            landed_on=date(2026, 4, 1),
            funding=[],
        )
    )
    session.commit()
    pdf = ("c.pdf", io.BytesIO(b"%PDF-1.4\n%test contract\n"), "application/pdf")
    assert client.put(f"/api/v1/contracts/{contract.id}/file", files={"file": pdf}).status_code == 200
    fund = {"name": "天开园创业种子基金", "kind": "基金", "fund_stage": "种子期", "description": "投资早期成果转化项目"}
    resource = client.post("/api/v1/resources", json=fund)
    assert resource.status_code == 201, resource.text
    return {"landed": landed.id, "contract": contract.id, "resource": resource.json()["id"]}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# (method, path, body, expected status per role in ROLES order)
MATRIX: list[tuple[str, str, dict[str, Any] | None, tuple[int, ...]]] = [
    ("GET", "/api/v1/achievements/{ach_a}", None, (200, 200, 200, 200, 200, 200)),
    ("GET", "/api/v1/achievements/{ach_a_draft}", None, (200, 200, 404, 404, 200, 404)),
    ("PATCH", "/api/v1/achievements/{ach_a}", {"trl": 8}, (200, 200, 403, 403, 200, 404)),
    ("PATCH", "/api/v1/achievements/{ach_a_draft}", {"trl": 3}, (200, 200, 403, 403, 200, 404)),
    ("GET", "/api/v1/demands/{dem_a}", None, (200, 200, 200, 404, 200, 200)),
    ("GET", "/api/v1/demands/{dem_b}", None, (200, 200, 404, 200, 200, 200)),
    ("PATCH", "/api/v1/demands/{dem_a}", {"budget_wan": 220}, (200, 200, 200, 404, 403, 403)),
    ("DELETE", "/api/v1/demands/{dem_b}", None, (None, None, 404, None, 403, 403)),
    ("DELETE", "/api/v1/achievements/{ach_b}", None, (None, None, 403, 403, 404, None)),
    ("POST", "/api/v1/achievements", "new_achievement", (201, 201, 403, 403, 201, 201)),
    ("POST", "/api/v1/demands", "new_demand", (201, 201, 201, 201, 403, 403)),
    ("GET", "/api/v1/demands/{dem_a}/matches", None, (200, 200, 200, 404, 403, 403)),
    ("GET", "/api/v1/achievements/{ach_a}/matches", None, (200, 200, 403, 403, 200, 404)),
    ("GET", "/api/v1/achievements/{ach_a_draft}/matches", None, (200, 200, 403, 403, 200, 404)),
    ("POST", "/api/v1/search", {"text": "冷链温控", "target": "achievements"}, (200, 200, 200, 200, 200, 200)),
    ("POST", "/api/v1/search", {"text": "冷链温控", "target": "demands"}, (200, 200, 403, 403, 200, 200)),
    ("POST", "/api/v1/matching-runs", {"k": 2}, (202, 202, 403, 403, 403, 403)),
    ("GET", "/api/v1/matches", None, (200, 200, 200, 200, 200, 200)),
    ("GET", "/api/v1/matches/{match}", None, (200, 200, 200, 404, 200, 404)),
    ("GET", "/api/v1/matches/{match}/history", None, (200, 200, 200, 404, 200, 404)),
    ("PATCH", "/api/v1/matches/{match}", {"note": "已联系"}, (200, 200, 403, 403, 403, 403)),
    ("GET", "/api/v1/stats", None, (200, 200, 403, 403, 403, 403)),
    ("GET", "/api/v1/users", None, (200, 403, 403, 403, 403, 403)),
    ("POST", "/api/v1/users", "new_user", (201, 403, 403, 403, 403, 403)),
    ("GET", "/api/v1/auth/me", None, (200, 200, 200, 200, 200, 200)),
    ("PATCH", "/api/v1/users/{user_manager}", {"active": True}, (200, 403, 403, 403, 403, 403)),
    ("GET", "/api/v1/tokens", None, (200, 200, 200, 200, 200, 200)),
    ("POST", "/api/v1/auth/logout", None, (None, 204, 204, 204, 204, 204)),  # not the admin: the suite's token
    ("POST", "/api/v1/tokens", {"name": "script"}, (201, 201, 201, 201, 201, 201)),
    ("GET", "/api/v1/achievements/export?format=json", None, (200, 200, 200, 200, 200, 200)),
    ("GET", "/api/v1/demands/export?format=csv", None, (200, 200, 200, 200, 200, 200)),
    ("POST", "/api/v1/imports/achievements", "upload", (200, 200, 403, 403, 200, 200)),
    ("POST", "/api/v1/imports/demands", "upload", (200, 200, 200, 200, 403, 403)),
    ("GET", "/api/v1/events/stats", None, (200, 200, 403, 403, 403, 403)),
    ("POST", "/api/v1/events", "new_event", (201, 201, 403, 403, 403, 403)),
    ("GET", "/api/v1/events", None, (200, 200, 200, 200, 200, 200)),
    ("GET", "/api/v1/events/{event}", None, (200, 200, 200, 200, 200, 200)),
    ("PATCH", "/api/v1/events/{event}", {"venue": "雄安新区会议中心"}, (200, 200, 403, 403, 403, 403)),
    ("POST", "/api/v1/events/{event}/status", {"status": "published"}, (409, 409, 403, 403, 403, 403)),
    ("GET", "/api/v1/events/{event}/participants", None, (200, 200, 200, 200, 200, 200)),
    ("POST", "/api/v1/events/{event}/participants", {}, (422, 422, 201, 409, 409, 201)),
    ("PATCH", "/api/v1/events/{event}/participants/{part_ent_b}", {"cap": 2}, (200, 200, 404, 200, 404, 404)),
    ("DELETE", "/api/v1/events/{event}/participants/{part_ent_b}", None, (204, None, 403, 403, 403, 403)),
    ("GET", "/api/v1/events/{event}/requests", None, (200, 200, 200, 200, 200, 200)),
    ("POST", "/api/v1/events/{event}/requests/propose", {}, (200, 200, 403, 403, 403, 403)),
    (
        "POST",
        "/api/v1/events/{event}/requests/{request}/response",
        {"decision": "accepted"},
        (422, 422, 404, 200, 200, 404),
    ),
    ("DELETE", "/api/v1/events/{event}/requests/{request}", None, (204, None, 403, 403, 403, 403)),
    ("POST", "/api/v1/events/{event}/schedule", {}, (409, 409, 403, 403, 403, 403)),
    ("GET", "/api/v1/events/{event}/schedule", None, (200, 200, 403, 403, 403, 403)),
    ("PATCH", "/api/v1/events/{event}/meetings/999999", {"pinned": True}, (409, 409, 403, 403, 403, 403)),
    ("POST", "/api/v1/events/{event}/meetings/999999/check-in", {"attendance": "met"}, (409, 409, 403, 403, 403, 403)),
    ("GET", "/api/v1/events/{event}/participants/{part_ent_b}/agenda", None, (200, 200, 404, 409, 404, 404)),
    ("GET", "/api/v1/events/{event}/table-plan?format=html", None, (200, 200, 403, 403, 403, 403)),
    ("GET", "/api/v1/events/{event}/results", None, (200, 200, 403, 403, 403, 403)),
    ("GET", "/api/v1/matches/{landed}/contracts", None, (200, 200, 200, 404, 200, 404)),
    ("POST", "/api/v1/matches/{landed}/contracts", "new_contract", (201, 201, 403, 403, 403, 403)),
    ("POST", "/api/v1/matches/{match}/contracts", "new_contract", (409, 409, 403, 403, 403, 403)),
    ("GET", "/api/v1/contracts/{contract}", None, (200, 200, 200, 404, 200, 404)),
    ("PATCH", "/api/v1/contracts/{contract}", {"registration_no": "2026120000300001"}, (200, 200, 403, 403, 403, 403)),
    ("DELETE", "/api/v1/contracts/{contract}", None, (409, 409, 403, 403, 403, 403)),
    ("PUT", "/api/v1/contracts/{contract}/file", "pdf", (200, 200, 403, 403, 403, 403)),
    ("GET", "/api/v1/contracts/{contract}/file", None, (200, 200, 200, 404, 404, 404)),
    ("GET", "/api/v1/matches/{landed}/landing", None, (200, 200, 200, 404, 200, 404)),
    ("POST", "/api/v1/matches/{landed}/landing", "new_landing", (409, 409, 403, 403, 403, 403)),
    ("PATCH", "/api/v1/matches/{landed}/landing", {"carrier_name": "天开园核心区"}, (200, 200, 403, 403, 403, 403)),
    ("POST", "/api/v1/resources", "new_resource", (201, 201, 403, 403, 403, 403)),
    ("GET", "/api/v1/resources", None, (200, 200, 200, 200, 200, 200)),
    ("GET", "/api/v1/resources/export?format=csv", None, (200, 200, 200, 200, 200, 200)),
    ("GET", "/api/v1/resources/{resource}", None, (200, 200, 200, 200, 200, 200)),
    ("PATCH", "/api/v1/resources/{resource}", {"capacity": "单笔 50–300 万元"}, (200, 200, 403, 403, 403, 403)),
    ("DELETE", "/api/v1/resources/{resource}", None, (None, 204, 403, 403, 403, 403)),
    ("POST", "/api/v1/imports/resources", "resource_upload", (200, 200, 403, 403, 403, 403)),
    ("GET", "/api/v1/achievements/{ach_a}/resources", None, (200, 200, 200, 200, 200, 200)),
    ("GET", "/api/v1/achievements/{ach_a_draft}/resources", None, (200, 200, 404, 404, 200, 404)),
    ("GET", "/api/v1/matches/{landed}/resources", None, (200, 200, 200, 404, 200, 404)),
    ("GET", "/api/v1/stats/targets", None, (200, 200, 403, 403, 403, 403)),
    ("PUT", "/api/v1/stats/targets", {"year": 2026, "targets": {"events": 12}}, (200, 200, 403, 403, 403, 403)),
    ("GET", "/api/v1/stats/report?since=2026-01-01&until=2026-12-31", None, (200, 200, 403, 403, 403, 403)),
    ("GET", "/api/v1/duplicates", None, (200, 200, 403, 403, 403, 403)),
    ("POST", "/api/v1/duplicates/scan", {"kind": "demands"}, (200, 200, 403, 403, 403, 403)),
    (
        "POST",
        "/api/v1/duplicates/merge",
        {"kind": "achievements", "survivor_id": 999999, "record_ids": [999998]},
        (404, 404, 403, 403, 403, 403),
    ),
    ("GET", "/api/v1/duplicates/merges", None, (200, 200, 403, 403, 403, 403)),
    ("POST", "/api/v1/duplicates/merges/999999/undo", None, (404, 404, 403, 403, 403, 403)),
    (
        "POST",
        "/api/v1/duplicates/not-duplicates",
        {"kind": "achievements", "record_ids": [999998, 999999]},
        (404, 404, 403, 403, 403, 403),
    ),
    ("GET", "/api/v1/stale", None, (200, 200, 200, 200, 200, 200)),
    ("GET", "/api/v1/stale?kind=achievements", None, (200, 200, 200, 200, 200, 200)),
    ("POST", "/api/v1/stale/demands/{dem_a}/confirm", None, (200, 200, 200, 404, 403, 403)),
    ("POST", "/api/v1/stale/achievements/{ach_b}/close", None, (200, 200, 403, 403, 404, 200)),
    ("POST", "/api/v1/stale/check", None, (200, 200, 403, 403, 403, 403)),
]


def _body(kind: str | dict[str, Any] | None) -> dict[str, Any] | None:
    unique = uuid.uuid4().hex[:8]
    if kind == "new_achievement":
        return achievement(external_id=f"N-{unique}")
    if kind == "new_demand":
        return demand(external_id=f"ND-{unique}")
    if kind == "new_event":
        return _event_body()
    if kind == "new_user":
        return {"email": f"u-{unique}@test.example", "role": "manager", "password": "long enough pw"}
    if kind == "new_contract":
        return {
            "contract_type": "技术开发",
            "title": "联合开发合同",
            "signed_on": "2026-05-01",
            "total_wan": 50,
            "tech_wan": 50,
        }
    if kind == "new_resource":
        return {"name": f"中试平台-{unique}", "kind": "中试平台", "description": "中试放大与检测"}
    if kind == "new_landing":
        return {"carrier_kind": "园区", "carrier_name": "天开高教科创园", "landed_on": "2026-06-01"}
    return kind if isinstance(kind, dict) else None


def _call(client: TestClient, token: str, method: str, path: str, body: Any) -> Any:
    headers = _auth(token)
    if body == "upload":
        body_column = "description" if path.endswith("demands") else "summary"
        csv = f"title,{body_column},external_id\n上传的记录,简介,U-{uuid.uuid4().hex[:8]}\n".encode()
        return client.post(path, files={"file": ("x.csv", io.BytesIO(csv))}, headers=headers)
    if body == "resource_upload":
        csv = f"资源编号,资源名称,资源类型,资源简介\nR-{uuid.uuid4().hex[:8]},孵化器,孵化器,场地与服务\n".encode()
        return client.post(path, files={"file": ("r.csv", io.BytesIO(csv))}, headers=headers)
    if body == "pdf":
        return client.put(path, files={"file": ("c.pdf", io.BytesIO(b"%PDF-1.4\n%again\n"))}, headers=headers)
    return client.request(method, path, json=_body(body), headers=headers)


def _wait_for_run(client: TestClient, token: str, run_id: int) -> None:
    deadline = time.monotonic() + 60
    while client.get(f"/api/v1/matching-runs/{run_id}", headers=_auth(token)).json()["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"matching run {run_id} still running after 60 s"
        time.sleep(0.1)


@pytest.mark.parametrize(("method", "template", "body", "expected"), MATRIX, ids=[f"{m} {t}" for m, t, _, _ in MATRIX])
def test_authorization_matrix(
    client: TestClient, world: World, method: str, template: str, body: Any, expected: tuple[int | None, ...]
) -> None:
    path = template.format(**world.ids)
    for role, status in zip(ROLES, expected, strict=True):
        if status is None:
            continue
        response = _call(client, world.tokens[role], method, path, body)
        assert response.status_code == status, f"{role} {method} {path}: {response.status_code} {response.text}"
        if status == 202 and path == "/api/v1/matching-runs":  # one run at a time: the next role's waits for it
            _wait_for_run(client, world.tokens[role], response.json()["id"])
        if status in (401, 403, 404):
            assert set(response.json()) >= {"error", "detail", "fields"}
        # The confidential need's enterprise never reaches an institution, whatever the route.
        if role.startswith("uni"):
            assert SECRET_ENTERPRISE not in response.text, f"{role} {method} {path} leaked the enterprise"
        # An enterprise never sees the other enterprise's records.
        if role == "ent_b":
            assert "疫苗配送箱内温度超标" not in response.text


def test_owners_can_delete_their_own_records(client: TestClient, world: World) -> None:
    assert (
        client.delete(f"/api/v1/demands/{world.ids['dem_b']}", headers=_auth(world.tokens["ent_b"])).status_code == 204
    )
    response = client.delete(f"/api/v1/achievements/{world.ids['ach_b']}", headers=_auth(world.tokens["uni_b"]))
    assert response.status_code == 204


def test_lists_are_scoped(client: TestClient, world: World) -> None:
    def ext_ids(role: str, url: str) -> set[str]:
        items = client.get(url, headers=_auth(world.tokens[role])).json()["items"]
        return {i["external_id"] for i in items}

    ent_a = ext_ids("ent_a", "/api/v1/demands")
    assert len(ent_a) == 1
    assert next(iter(ent_a)).startswith("DA-")
    assert all(e.startswith("DB-") for e in ext_ids("ent_b", "/api/v1/demands"))
    assert not any(e.startswith("AD-") for e in ext_ids("uni_b", "/api/v1/achievements"))
    assert any(e.startswith("AD-") for e in ext_ids("uni_a", "/api/v1/achievements"))
    assert not any(e.startswith("AD-") for e in ext_ids("ent_a", "/api/v1/achievements"))
    assert client.get("/api/v1/matches", headers=_auth(world.tokens["ent_b"])).json()["total"] == 0
    assert client.get("/api/v1/matches", headers=_auth(world.tokens["uni_b"])).json()["total"] == 0
    assert client.get("/api/v1/matches", headers=_auth(world.tokens["ent_a"])).json()["total"] == 2  # with the landed


def test_confidential_need_is_hidden_until_disclosed_for_that_pairing(client: TestClient, world: World) -> None:
    uni_a, uni_b = _auth(world.tokens["uni_a"]), _auth(world.tokens["uni_b"])
    need = client.get(f"/api/v1/demands/{world.ids['dem_a']}", headers=uni_a).json()
    assert need["enterprise"] is None
    assert need["enterprise_hidden"] is True
    assert need["description"].startswith("夏季配送")  # the text itself is shown
    pairing = client.get(f"/api/v1/matches/{world.ids['match']}", headers=uni_a).json()
    assert pairing["demand"]["enterprise"] is None
    # The enterprise and staff see it.
    assert (
        client.get(f"/api/v1/demands/{world.ids['dem_a']}", headers=_auth(world.tokens["ent_a"])).json()["enterprise"]
        == SECRET_ENTERPRISE
    )
    # A manager discloses it for this one pairing: the institution of that pairing now sees it, the other does not.
    manager = _auth(world.tokens["manager"])
    assert (
        client.patch(f"/api/v1/matches/{world.ids['match']}", json={"disclosed": True}, headers=manager).status_code
        == 200
    )
    assert client.get(f"/api/v1/demands/{world.ids['dem_a']}", headers=uni_a).json()["enterprise"] == SECRET_ENTERPRISE
    assert SECRET_ENTERPRISE in client.get(f"/api/v1/matches/{world.ids['match']}", headers=uni_a).text
    assert SECRET_ENTERPRISE not in client.get(f"/api/v1/demands/{world.ids['dem_a']}", headers=uni_b).text
    assert SECRET_ENTERPRISE not in client.get("/api/v1/demands/export?format=json", headers=uni_b).text


def test_tokens_missing_wrong_expired_and_revoked_answer_401(
    client: TestClient, world: World, session: Session
) -> None:
    url = "/api/v1/achievements"
    assert client.get("/healthz", headers={"Authorization": ""}).status_code == 200
    no_token = client.get(url, headers={"Authorization": ""})
    assert no_token.status_code == 401
    assert no_token.json()["error"] == "unauthorized"
    assert client.get(url, headers=_auth("mm_not-a-token")).status_code == 401
    created = client.post("/api/v1/tokens", json={"name": "short"}, headers=_auth(world.tokens["manager"])).json()
    assert client.get(url, headers=_auth(created["token"])).status_code == 200
    session.execute(
        update(ApiToken).where(ApiToken.id == created["id"]).values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
    )
    session.commit()
    expired = client.get(url, headers=_auth(created["token"]))
    assert (expired.status_code, expired.json()["detail"]) == (401, "the token has expired")
    another = client.post("/api/v1/tokens", json={"name": "revoke me"}, headers=_auth(world.tokens["manager"])).json()
    assert client.delete(f"/api/v1/tokens/{another['id']}", headers=_auth(world.tokens["manager"])).status_code == 204
    assert client.get(url, headers=_auth(another["token"])).status_code == 401
    # Someone else's token cannot be revoked (and its existence is not confirmed).
    assert client.delete(f"/api/v1/tokens/{created['id']}", headers=_auth(world.tokens["uni_a"])).status_code == 404
    listed = client.get("/api/v1/tokens", headers=_auth(world.tokens["manager"])).json()["items"]
    assert all("token" not in t for t in listed)
    stored = session.scalar(select(ApiToken.token_hash).where(ApiToken.id == another["id"]))
    assert stored is not None
    assert another["token"] not in stored


def test_login_with_password(client: TestClient, make_user: Callable[..., str]) -> None:
    token = make_user("manager", None, password="a long passphrase")
    me = client.get("/api/v1/auth/me", headers=_auth(token)).json()
    login = client.post(
        "/api/v1/auth/login",
        json={"email": me["email"], "password": "a long passphrase"},
        headers={"Authorization": ""},
    )
    assert login.status_code == 200
    assert client.get("/api/v1/auth/me", headers=_auth(login.json()["access_token"])).json()["id"] == me["id"]
    wrong = client.post(
        "/api/v1/auth/login", json={"email": me["email"], "password": "nope"}, headers={"Authorization": ""}
    )
    assert (wrong.status_code, wrong.json()["detail"]) == (401, "wrong email or password")


def test_thesaurus_routes_by_role(client: TestClient, world: World) -> None:
    """Every signed-in user reads the thesaurus; only managers and admins change it."""
    for role in ROLES:
        assert client.get("/api/v1/concepts", headers=_auth(world.tokens[role])).status_code == 200
        expected = 201 if role in ("admin", "manager") else 403
        body = {"source": f"冷却时间长-{role}", "relation": "symptom", "target": "随形冷却"}
        created = client.post("/api/v1/concepts", json=body, headers=_auth(world.tokens[role]))
        assert created.status_code == expected, role
    link = client.get("/api/v1/concepts", headers=_auth(world.tokens["manager"])).json()["items"][0]["id"]
    for role, expected in zip(ROLES, (200, 200, 403, 403, 403, 403), strict=True):
        response = client.patch(f"/api/v1/concepts/{link}", json={"weight": 0.8}, headers=_auth(world.tokens[role]))
        assert response.status_code == expected, role
    for role in ("ent_a", "uni_a"):
        assert client.post("/api/v1/concepts/learn", headers=_auth(world.tokens[role])).status_code == 403
        assert client.delete(f"/api/v1/concepts/{link}", headers=_auth(world.tokens[role])).status_code == 403
    assert client.post("/api/v1/concepts/learn", headers=_auth(world.tokens["manager"])).status_code == 200
    assert client.delete(f"/api/v1/concepts/{link}", headers=_auth(world.tokens["manager"])).status_code == 204
    assert client.get("/api/v1/matching-runs/1/unmatched", headers=_auth(world.tokens["ent_a"])).status_code == 403


# ---------------------------------------------------------------------------------------------------- 揭榜挂帅
CHALLENGE_ROLES = (*ROLES, "expert", "expert_b")


@pytest.fixture
def challenge_world(client: TestClient, world: World, make_user: Callable[..., str]) -> World:
    """The world plus a confidential challenge issued by ent_a, published, with uni_a's proposal and expert assigned."""
    from tests.challenge_factories import challenge, proposal

    tokens = {
        **world.tokens,
        "expert": make_user("expert", "天津中心专家库"),
        "expert_b": make_user("expert", "外聘专家"),
    }
    ids = dict(world.ids)
    expert_id = client.get("/api/v1/auth/me", headers=_auth(tokens["expert"])).json()["id"]
    body = challenge(confidential=True, title="保密榜单：疫苗冷链温控", eligibility={})
    created = client.post("/api/v1/challenges", json=body, headers=_auth(tokens["ent_a"])).json()
    ids["challenge"] = created["id"]
    ids["draft_challenge"] = client.post("/api/v1/challenges", json=body, headers=_auth(tokens["ent_a"])).json()["id"]
    manager = _auth(tokens["manager"])
    url = f"/api/v1/challenges/{created['id']}"
    assert client.post(f"{url}/moves", json={"to": "vetting"}, headers=manager).status_code == 200
    assert client.post(f"{url}/experts", json={"user_id": expert_id}, headers=manager).status_code == 201
    assert (
        client.put(f"{url}/experts/me", json={"vetting_ok": True}, headers=_auth(tokens["expert"])).status_code == 204
    )
    assert client.post(f"{url}/moves", json={"to": "published"}, headers=manager).status_code == 200
    indicators = [i["id"] for i in created["indicators"]]
    response = client.post(f"{url}/proposals", json=proposal(indicators), headers=_auth(tokens["uni_a"]))
    assert response.status_code == 201, response.text
    ids["proposal"] = response.json()["id"]
    return World(tokens=tokens, ids=ids)


# roles: admin, manager, ent_a (issuer), ent_b, uni_a (applicant), uni_b, expert (assigned), expert_b (not assigned)
CHALLENGE_MATRIX: list[tuple[str, str, dict[str, Any] | None, tuple[int | None, ...]]] = [
    ("GET", "/api/v1/challenges", None, (200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET", "/api/v1/challenges/stats", None, (200, 200, 403, 403, 403, 403, 403, 403)),
    ("GET", "/api/v1/challenges/{challenge}", None, (200, 200, 200, 404, 200, 200, 200, 404)),
    ("GET", "/api/v1/challenges/{draft_challenge}", None, (200, 200, 200, 404, 404, 404, 404, 404)),
    (
        "PATCH",
        "/api/v1/challenges/{draft_challenge}",
        {"research_months": 12},
        (200, 200, 200, 404, 403, 403, 403, 403),
    ),
    ("PATCH", "/api/v1/challenges/{challenge}", {"research_months": 12}, (409, 409, 409, 404, 403, 403, 403, 403)),
    ("POST", "/api/v1/challenges", "new_challenge", (201, 201, 201, 201, 403, 403, 403, 403)),
    ("POST", "/api/v1/challenges/{challenge}/moves", {"to": "draft"}, (409, 409, 403, 403, 403, 403, 403, 403)),
    ("GET", "/api/v1/challenges/{challenge}/history", None, (200, 200, 200, 404, 200, 200, 200, 404)),
    (
        "PUT",
        "/api/v1/challenges/{challenge}/rubric",
        [{"name": "方案", "weight": 1}],
        (200, 200, 403, 403, 403, 403, 403, 403),
    ),
    ("GET", "/api/v1/challenges/{challenge}/experts", None, (200, 200, 403, 403, 403, 403, 403, 403)),
    ("POST", "/api/v1/challenges/{challenge}/experts", {"user_id": 1}, (422, 422, 403, 403, 403, 403, 403, 403)),
    (
        "PUT",
        "/api/v1/challenges/{challenge}/experts/me",
        {"conflicts": ["某公司"]},
        (403, 403, 403, 403, 403, 403, 204, 404),
    ),
    ("GET", "/api/v1/challenges/{challenge}/proposals", None, (200, 200, 403, 404, 200, 200, 403, 404)),
    ("POST", "/api/v1/challenges/{challenge}/proposals", "new_proposal", (403, 403, 403, 403, 409, 201, 403, 403)),
    ("GET", "/api/v1/challenges/{challenge}/proposals/{proposal}", None, (200, 200, 403, 404, 200, 404, 403, 404)),
    (
        "PATCH",
        "/api/v1/challenges/{challenge}/proposals/{proposal}",
        {"budget_wan": 200},
        (403, 403, 403, 403, 200, 404, 403, 403),
    ),
    (
        "PUT",
        "/api/v1/challenges/{challenge}/proposals/{proposal}/review",
        {"scores": {}},
        (403, 403, 403, 403, 403, 403, 409, 404),
    ),
    (
        "GET",
        "/api/v1/challenges/{challenge}/proposals/{proposal}/review",
        None,
        (403, 403, 403, 403, 403, 403, 404, 404),
    ),
    ("GET", "/api/v1/challenges/{challenge}/ranking", None, (200, 200, 403, 403, 403, 403, 403, 403)),
    ("GET", "/api/v1/challenges/{challenge}/suggestions", None, (200, 200, 403, 403, 403, 403, 403, 403)),
    ("GET", "/api/v1/challenges/{challenge}/consortia", None, (200, 200, 403, 403, 403, 403, 403, 403)),
    ("DELETE", "/api/v1/challenges/{challenge}/proposals/{proposal}", None, (403, 403, 403, 403, None, 404, 403, 403)),
]


def _challenge_body(kind: Any, world: World) -> Any:
    from tests.challenge_factories import challenge, proposal

    if kind == "new_challenge":
        return challenge(external_id=f"C-{uuid.uuid4().hex[:8]}")
    if kind == "new_proposal":
        return proposal([], promises=[], lead_region="北京") | {"promises": _promises(world)}
    return kind


def _promises(world: World) -> list[dict[str, Any]]:
    return [{"indicator_id": i, "value": 99} for i in world.ids["indicator_ids"]]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("method", "template", "body", "expected"), CHALLENGE_MATRIX, ids=[f"{m} {t}" for m, t, _, _ in CHALLENGE_MATRIX]
)
def test_challenge_authorization_matrix(
    client: TestClient,
    challenge_world: World,
    method: str,
    template: str,
    body: Any,
    expected: tuple[int | None, ...],
) -> None:
    world = challenge_world
    path = template.format(**world.ids)
    challenge_json = client.get(f"/api/v1/challenges/{world.ids['challenge']}").json()
    world.ids["indicator_ids"] = [i["id"] for i in challenge_json["indicators"]]  # type: ignore[assignment]
    for role, status in zip(CHALLENGE_ROLES, expected, strict=True):
        if status is None:
            continue
        response = client.request(method, path, json=_challenge_body(body, world), headers=_auth(world.tokens[role]))
        assert response.status_code == status, f"{role} {method} {path}: {response.status_code} {response.text}"
        if status in (401, 403, 404, 409, 422):
            assert set(response.json()) >= {"error", "detail", "fields"}
        # The confidential challenge's issuer never reaches an institution or an expert.
        if role.startswith(("uni", "expert")):
            assert SECRET_ENTERPRISE not in response.text, f"{role} {method} {path} leaked the issuer"
        # Another enterprise never sees it.
        if role == "ent_b":
            assert "保密榜单" not in response.text
