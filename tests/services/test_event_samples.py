"""The sample event loads on the sample lists, and its requests are proposed from the ranked pairings and scheduled."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from matchmaker.config import Settings
from matchmaker.models.events import EventParticipant
from matchmaker.services.event_samples import load_event_file
from matchmaker.services.samples import load_samples


def test_sample_event_proposes_and_schedules(
    client: TestClient, session: Session, settings: Settings, sample_dir: Path
) -> None:
    load_samples(session, settings)
    session.commit()
    event = load_event_file(session, sample_dir / "event.json")
    session.commit()
    assert (event.status, len(event.slots), event.tables) == ("registration", 8, 6)
    participants = session.query(EventParticipant).filter_by(event_id=event.id).all()
    assert len(participants) == 16
    assert {p.role for p in participants} == {"enterprise", "institution", "investor"}
    eid = event.id
    assert client.post(f"/api/v1/events/{eid}/status", json={"status": "scheduling"}).status_code == 200
    proposed = client.post(f"/api/v1/events/{eid}/requests/propose", json={"per_need": 3}).json()
    assert proposed["proposed"] >= 12  # six needs, up to three institutions each
    requests = client.get(f"/api/v1/events/{eid}/requests").json()["items"]
    # The aluminium-profile need is paired with the aluminium heat-treatment team among its proposals.
    rail = [r for r in requests if r["demand"]["external_id"] == "TJ-P3-D-2025-001"]
    assert "BJ-P3-2024-001" in {r["achievement"]["external_id"] for r in rail}
    assert all(r["explanation"]["sentence"] for r in requests)
    for r in requests:
        for side in ("first", "second"):
            body = {"decision": "accepted", "side": side}
            assert client.post(f"/api/v1/events/{eid}/requests/{r['id']}/response", json=body).status_code == 200
    schedule = client.post(f"/api/v1/events/{eid}/schedule", json={"time_limit_s": 5}).json()
    assert schedule["report"]["placed"] + len(schedule["unplaced"]) == len(requests)
    assert schedule["report"]["placed"] >= schedule["report"]["greedy_placed"]
    busy = set()
    for m in schedule["meetings"]:
        for side in (m["first"]["participant_id"], m["second"]["participant_id"]):
            assert (side, m["slot"]) not in busy
            busy.add((side, m["slot"]))
