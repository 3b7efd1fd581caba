"""Item 9: a record set back to draft leaves the other organisation's pairings, as it leaves their lists."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from matchmaker.models import Match
from tests.factories import achievement, demand


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_draft_achievement_leaves_the_enterprises_pairings(
    client: TestClient, session: Session, make_user: Callable[..., str]
) -> None:
    institute = _auth(make_user("institution", "北方理工大学"))
    enterprise = _auth(make_user("enterprise", "津南医药物流有限公司"))
    a = client.post("/api/v1/achievements", json=achievement(), headers=institute).json()["id"]
    d = client.post("/api/v1/demands", json=demand(), headers=enterprise).json()["id"]
    match = Match(demand_id=d, achievement_id=a, rank=1, score=0.8, status="proposed", explanation={})
    session.add(match)
    session.commit()
    assert client.get(f"/api/v1/matches/{match.id}", headers=enterprise).status_code == 200

    changed = client.patch(
        f"/api/v1/achievements/{a}", json={"status": "draft", "title": "未公开的新名称"}, headers=institute
    )
    assert changed.status_code == 200
    assert client.get(f"/api/v1/achievements/{a}", headers=enterprise).status_code == 404
    assert client.get(f"/api/v1/matches/{match.id}", headers=enterprise).status_code == 404
    listed = client.get("/api/v1/matches", params={"need": d}, headers=enterprise).json()
    assert listed["total"] == 0
    assert "未公开的新名称" not in str(listed)
    # the owner and the staff still see the pairing
    assert client.get(f"/api/v1/matches/{match.id}", headers=institute).status_code == 200
    assert client.get(f"/api/v1/matches/{match.id}").json()["achievement"]["title"] == "未公开的新名称"


def test_a_closed_need_leaves_the_institutions_pairings(
    client: TestClient, session: Session, make_user: Callable[..., str]
) -> None:
    institute = _auth(make_user("institution", "北方理工大学"))
    enterprise = _auth(make_user("enterprise", "津南医药物流有限公司"))
    a = client.post("/api/v1/achievements", json=achievement(), headers=institute).json()["id"]
    d = client.post("/api/v1/demands", json=demand(), headers=enterprise).json()["id"]
    match = Match(demand_id=d, achievement_id=a, rank=1, score=0.8, status="proposed", explanation={})
    session.add(match)
    session.commit()
    assert client.get(f"/api/v1/matches/{match.id}", headers=institute).status_code == 200
    assert client.patch(f"/api/v1/demands/{d}", json={"status": "draft"}, headers=enterprise).status_code == 200
    assert client.get(f"/api/v1/matches/{match.id}", headers=institute).status_code == 404
    assert client.get("/api/v1/matches", headers=institute).json()["total"] == 0
