"""Stale listings: flagged after the configured time or the deadline, the owner's prompt, confirm and close, the
automatic close after the grace period (never a deletion), and matching runs that skip stale records."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from matchmaker.models import Achievement, AuditEntry, Demand, utcnow
from matchmaker.models.dedup import StaleFlag
from matchmaker.services import staleness
from tests.factories import achievement, demand

POLICY = staleness.StalePolicy()


def _age(session: Session, model: type[Achievement] | type[Demand], record_id: int, days: int) -> None:
    session.execute(update(model).where(model.id == record_id).values(updated_at=utcnow() - timedelta(days=days)))
    session.commit()


def test_flag_prompt_confirm_close_and_automatic_close(
    client: TestClient, session: Session, make_user: Callable[..., str]
) -> None:
    token = make_user("enterprise", "津南医药物流有限公司")
    own = {"Authorization": f"Bearer {token}"}
    old = client.post("/api/v1/demands", json=demand(external_id="D-OLD"), headers=own).json()["id"]
    late = client.post("/api/v1/demands", json=demand(external_id="D-LATE", deadline="2020-01-31"), headers=own).json()[
        "id"
    ]
    fresh = client.post("/api/v1/demands", json=demand(external_id="D-NEW"), headers=own).json()["id"]
    offer = client.post("/api/v1/achievements", json=achievement()).json()["id"]
    _age(session, Demand, old, 200)  # > 6 months
    _age(session, Achievement, offer, 400)  # > 12 months

    first = staleness.refresh(session, POLICY)
    session.commit()
    assert (first["demands"].flagged, first["achievements"].flagged) == (2, 1)
    prompt = client.get("/api/v1/stale", headers=own).json()["items"]
    assert {(i["id"], i["reason"]) for i in prompt} == {(old, "not_updated"), (late, "deadline")}
    assert all(i["closes_at"] > i["flagged_at"] for i in prompt)
    managers = client.get("/api/v1/stale", params={"kind": "achievements"}).json()["items"]
    assert [i["id"] for i in managers] == [offer]
    assert client.get("/api/v1/stale", params={"kind": "achievements"}, headers=own).json()["items"] == []

    confirmed = client.post(f"/api/v1/stale/demands/{old}/confirm", headers=own)
    assert confirmed.status_code == 200
    assert [i["id"] for i in client.get("/api/v1/stale", headers=own).json()["items"]] == [late]
    assert staleness.refresh(session, POLICY)["demands"].flagged == 0  # touched: no longer stale
    session.commit()

    # nobody answers for the achievement: closed (archived) after the grace period, kept in the database
    later = utcnow() + POLICY.grace + timedelta(minutes=1)
    result = staleness.refresh(session, POLICY, now=later)
    session.commit()
    assert result["achievements"].closed == 1
    assert result["demands"].closed == 1  # the need past its deadline, unanswered as well
    session.expire_all()
    assert session.get(Achievement, offer).status == "archived"
    assert session.get(Demand, late).status == "closed"
    assert session.get(Demand, fresh).status == "open"
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "auto_close", AuditEntry.entity_id == offer))
    assert client.get("/api/v1/stale", params={"kind": "achievements"}).json()["items"] == []

    closed = client.post(f"/api/v1/stale/demands/{fresh}/close", headers=own)
    assert closed.json() == {"kind": "demands", "id": fresh, "status": "closed"}
    assert client.get(f"/api/v1/demands/{fresh}", headers=own).json()["status"] == "closed"


def test_job_runs_on_demand_and_in_the_background(client: TestClient, session: Session) -> None:
    need = client.post("/api/v1/demands", json=demand()).json()["id"]
    _age(session, Demand, need, 190)
    checked = client.post("/api/v1/stale/check").json()
    assert checked["demands"] == {"flagged": 1, "cleared": 0, "closed": 0}
    job = staleness.StaleJob(client.app.state.session_factory, POLICY, interval=0.05)  # type: ignore[attr-defined]
    job.start()
    try:
        for _ in range(200):
            if job.passes >= 2:
                break
            job._stop.wait(0.05)
    finally:
        job.stop()
    assert job.passes >= 2
    assert session.scalars(select(StaleFlag)).all()[0].record_id == need


def test_matching_runs_may_skip_stale_records(client: TestClient, session: Session) -> None:
    offer = client.post("/api/v1/achievements", json=achievement()).json()["id"]
    needs = [client.post("/api/v1/demands", json=demand(external_id=f"D-{n}")).json()["id"] for n in range(2)]
    _age(session, Demand, needs[0], 200)
    staleness.refresh(session, POLICY)
    session.commit()
    for skip, expected in ((True, 1), (False, 2)):
        run = client.post("/api/v1/matching-runs", json={"k": 2, "skip_stale": skip}).json()
        for _ in range(300):
            status = client.get(f"/api/v1/matching-runs/{run['id']}").json()
            if status["status"] in ("done", "failed"):
                break
            time.sleep(0.05)
        assert status["status"] == "done", status
        assert status["total"] == expected
    assert client.get(f"/api/v1/achievements/{offer}").json()["status"] == "active"
