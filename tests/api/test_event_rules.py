"""Event rules the end-to-end test does not walk through: validation, registration window, auto-accept, audit."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.models import AuditEntry
from tests.factories import achievement, demand

BASE: dict[str, Any] = {
    "kind": "融资路演",
    "title": "天开园融资路演",
    "starts_on": "2026-12-20",
    "meeting_minutes": 30,
    "day_start": "14:00",
    "day_end": "16:00",
    "tables": 3,
}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_bad_shapes_name_the_field(client: TestClient) -> None:
    cases = [
        ({"ends_on": "2026-12-19"}, "ends_on"),
        ({"day_end": "13:00"}, "day_end"),
        ({"breaks": [{"start": "16:30", "end": "17:00"}]}, "breaks.0"),
        ({"meeting_minutes": 200, "day_end": "15:00"}, "meeting_minutes"),
        ({"organiser_ids": [999999]}, "organiser_ids"),
    ]
    for override, field in cases:
        response = client.post("/api/v1/events", json={**BASE, **override})
        assert response.status_code == 422, (override, response.text)
        assert response.json()["fields"][0]["field"] == field
    unknown = client.post("/api/v1/events", json={**BASE, "chains": ["不存在的链"]})
    assert unknown.status_code == 422
    assert client.get("/api/v1/events").json()["total"] == 0  # nothing half-written
    typo = client.get("/api/v1/events?stauts=draft")
    assert typo.status_code == 422
    assert "stauts" in typo.text


def test_registration_window_and_auto_accept(
    client: TestClient, make_user: Callable[..., str], session: Session
) -> None:
    suffix = uuid.uuid4().hex[:6]
    ent = make_user("enterprise", f"津南制药-{suffix}")
    uni = make_user("institution", f"天津滨海理工大学-{suffix}")
    need = client.post("/api/v1/demands", json=demand(external_id=f"R-{suffix}"), headers=_auth(ent)).json()["id"]
    offer = client.post(
        "/api/v1/achievements", json=achievement(external_id=f"R-A-{suffix}"), headers=_auth(uni)
    ).json()["id"]
    closed = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    event = client.post("/api/v1/events", json={**BASE, "auto_accept": True, "registration_closes_at": closed}).json()
    eid = event["id"]
    assert client.post(f"/api/v1/events/{eid}/status", json={"status": "registration"}).status_code == 200
    late = client.post(f"/api/v1/events/{eid}/participants", json={"demand_ids": [need]}, headers=_auth(ent))
    assert (late.status_code, late.json()["error"]) == (409, "conflict")
    reopened = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert client.patch(f"/api/v1/events/{eid}", json={"registration_closes_at": reopened}).status_code == 200
    pe = client.post(f"/api/v1/events/{eid}/participants", json={"demand_ids": [need]}, headers=_auth(ent))
    assert pe.status_code == 201, pe.text
    pu = client.post(f"/api/v1/events/{eid}/participants", json={"achievement_ids": [offer]}, headers=_auth(uni))
    assert pu.status_code == 201, pu.text
    # Auto-accept: a proposed meeting is accepted by both sides at once and can be scheduled.
    assert client.post(f"/api/v1/events/{eid}/status", json={"status": "scheduling"}).status_code == 200
    assert client.post(f"/api/v1/events/{eid}/requests/propose", json={}).json()["proposed"] == 1
    [request] = client.get(f"/api/v1/events/{eid}/requests").json()["items"]
    assert (request["status"], request["origin"]) == ("accepted", "proposed")
    schedule = client.post(f"/api/v1/events/{eid}/schedule", json={"time_limit_s": 2}).json()
    assert len(schedule["meetings"]) == 1
    # Declining afterwards removes the meeting.
    declined = client.post(
        f"/api/v1/events/{eid}/requests/{request['id']}/response", json={"decision": "declined"}, headers=_auth(uni)
    )
    assert declined.json()["status"] == "declined"
    assert client.get(f"/api/v1/events/{eid}/schedule").json()["meetings"] == []
    moves = session.scalars(
        select(AuditEntry.changes).where(
            AuditEntry.entity == "event", AuditEntry.entity_id == eid, AuditEntry.action == "status"
        )
    ).all()
    assert [m["status"] for m in moves] == [["draft", "registration"], ["registration", "scheduling"]]
