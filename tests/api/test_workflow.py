"""Review workflow: legal and illegal moves, rejection reasons, assignment, notes, history, audit, statistics."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.models import AuditEntry, Match, User
from tests.factories import achievement, demand


@pytest.fixture
def pairing(client: TestClient, session: Session) -> int:
    a = client.post("/api/v1/achievements", json=achievement(region="北京")).json()["id"]
    d = client.post("/api/v1/demands", json=demand(region="天津", field="新材料")).json()["id"]
    match = Match(
        demand_id=d,
        achievement_id=a,
        rank=1,
        score=0.82,
        status="proposed",
        explanation={"sentence": "语义相近(0.82)", "checks": []},
    )
    session.add(match)
    session.commit()
    return match.id


def _move(client: TestClient, match_id: int, **body: object) -> tuple[int, dict[str, object]]:
    response = client.patch(f"/api/v1/matches/{match_id}", json=body)
    return response.status_code, response.json()


def test_full_life_cycle_with_history(client: TestClient, pairing: int, session: Session) -> None:
    manager_id = session.scalar(select(User.id).where(User.role == "admin"))
    status, body = _move(client, pairing, status="shortlisted", assignee_id=manager_id, note="企业确认需求仍有效")
    assert status == 200
    assert body["status"] == "shortlisted"
    assert body["assignee_id"] == manager_id
    assert body["allowed_moves"] == ["contacted", "rejected"]
    assert body["notes"][0]["text"] == "企业确认需求仍有效"
    for stage in ("contacted", "meeting", "signed"):
        assert _move(client, pairing, status=stage)[0] == 200
    contract = {
        "contract_type": "技术许可",
        "title": "许可合同",
        "signed_on": "2026-01-05",
        "total_wan": 10,
        "tech_wan": 8,
    }
    assert client.post(f"/api/v1/matches/{pairing}/contracts", json=contract).status_code == 201
    landing = {"carrier_kind": "园区", "carrier_name": "天开高教科创园", "landed_on": "2026-02-01"}
    assert client.post(f"/api/v1/matches/{pairing}/landing", json=landing).status_code == 201
    history = client.get(f"/api/v1/matches/{pairing}/history").json()["items"]
    assert [(h["from"], h["to"]) for h in history] == [
        ("proposed", "shortlisted"),
        ("shortlisted", "contacted"),
        ("contacted", "meeting"),
        ("meeting", "signed"),
        ("signed", "landed"),
    ]
    assert all(h["actor_id"] == manager_id and h["at"] for h in history)
    status, body = _move(client, pairing, status="rejected", reject_reason="other")
    assert status == 409
    assert body["allowed"] == []


def test_illegal_move_answers_409_with_the_allowed_ones(client: TestClient, pairing: int) -> None:
    status, body = _move(client, pairing, status="signed")
    assert status == 409
    assert body["allowed"] == ["shortlisted", "rejected"]
    assert "allowed: shortlisted, rejected" in str(body["detail"])
    assert client.get(f"/api/v1/matches/{pairing}").json()["status"] == "proposed"


def test_rejection_needs_a_known_reason(client: TestClient, pairing: int) -> None:
    assert _move(client, pairing, status="rejected")[0] == 422
    assert _move(client, pairing, status="rejected", reject_reason="boring")[0] == 422
    status, body = _move(client, pairing, status="rejected", reject_reason="immature", note="中试未完成")
    assert status == 200
    assert (body["status"], body["reject_reason"]) == ("rejected", "immature")
    assert body["allowed_moves"] == []


def test_assignee_must_be_a_manager(
    client: TestClient, pairing: int, make_user: Callable[..., str], session: Session
) -> None:
    make_user("enterprise", "某企业")
    member = session.scalar(select(User.id).where(User.role == "enterprise"))
    assert _move(client, pairing, assignee_id=member)[0] == 422
    assert _move(client, pairing, assignee_id=999_999)[0] == 422


def test_list_filters(client: TestClient, pairing: int) -> None:
    assert client.get("/api/v1/matches", params={"status": "proposed"}).json()["total"] == 1
    assert client.get("/api/v1/matches", params={"status": "landed"}).json()["total"] == 0
    assert client.get("/api/v1/matches", params={"field": "新材料", "region": "天津"}).json()["total"] == 1
    assert client.get("/api/v1/matches", params={"field": "新能源"}).json()["total"] == 0
    assert client.get("/api/v1/matches", params={"status": "maybe"}).status_code == 422
    assert client.get("/api/v1/matches", params={"colour": "red"}).status_code == 422
    item = client.get("/api/v1/matches").json()["items"][0]
    assert client.get("/api/v1/matches", params={"need": item["demand"]["id"]}).json()["total"] == 1
    assert client.get("/api/v1/matches", params={"achievement": item["achievement"]["id"] + 1000}).json()["total"] == 0
    assert client.get("/api/v1/matches/999999").status_code == 404


def test_audit_log_records_who_changed_what(client: TestClient, pairing: int, session: Session) -> None:
    achievement_id = client.get("/api/v1/achievements").json()["items"][0]["id"]
    client.patch(f"/api/v1/achievements/{achievement_id}", json={"trl": 9})
    _move(client, pairing, status="shortlisted")
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    admin_id = session.scalar(select(User.id).where(User.role == "admin"))
    update = next(e for e in entries if e.entity == "achievement" and e.action == "update")
    assert update.changes == {"trl": [7, 9]}
    assert update.actor_id == admin_id
    move = next(e for e in entries if e.entity == "match")
    assert move.changes["status"] == ["proposed", "shortlisted"]
    assert {e.action for e in entries if e.entity == "achievement"} == {"create", "update"}


def test_stats(client: TestClient, pairing: int, session: Session) -> None:
    _move(
        client, pairing, status="shortlisted", assignee_id=session.scalar(select(User.id).where(User.role == "admin"))
    )
    _move(client, pairing, status="contacted")
    stats = client.get("/api/v1/stats").json()
    assert stats["total"] == 1
    assert stats["by_status"]["contacted"] == 1
    funnel = {f["stage"]: f for f in stats["funnel"]}
    assert funnel["proposed"]["count"] == 1
    assert funnel["contacted"]["count"] == 1
    assert funnel["contacted"]["conversion_from_previous"] == 1.0
    assert funnel["meeting"]["count"] == 0
    assert set(stats["time_in_stage"]) == {"proposed", "shortlisted"}
    assert stats["region_flows"] == {"北京→天津": 1}
    assert stats["by_chain"] == {"新材料": 1}
    assert stats["per_manager"][0]["by_status"] == {"contacted": 1}
    assert stats["decisions_by_score_band"][0]["accepted"] == 1
    assert client.get("/api/v1/stats", params={"since": "2999-01-01T00:00:00Z"}).json()["total"] == 0
