"""Merge and undo keep every pairing, every history line and every audit entry; "not duplicates" is never proposed
again; scans and groups."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from matchmaker.errors import Conflict, Forbidden, NotFound, ValidationFailed
from matchmaker.models import Achievement, AuditEntry, Match, MatchEvent
from matchmaker.models.dedup import DuplicateCandidate, MergedRecord
from matchmaker.search.text import to_traditional
from matchmaker.services import duplicates, merging
from matchmaker.services.access import Principal
from tests.factories import achievement, demand


def _snapshot(session: Session) -> dict[str, Any]:
    session.expire_all()

    def rows(model: Any) -> list[tuple[Any, ...]]:
        cols = [c.key for c in inspect(model).column_attrs]
        return sorted(tuple(getattr(r, c) for c in cols) for r in session.scalars(select(model)))

    return {
        "matches": rows(Match),
        "events": rows(MatchEvent),
        "audit": rows(AuditEntry),
        "achievements": [
            (a.id, a.status, a.updated_at) for a in session.scalars(select(Achievement).order_by(Achievement.id))
        ],
    }


@pytest.fixture
def world(client: TestClient, session: Session) -> dict[str, int]:
    """Three copies of one achievement (original, Traditional, edited), an unrelated one, three needs and pairings
    with history: the survivor and a copy are both paired with need 1 (a fold), the copies with needs 2 and 3."""
    body = achievement()
    trad = {
        **body,
        "external_id": "TJ-T-777",
        "title": to_traditional(str(body["title"]))[1],
        "summary": to_traditional(str(body["summary"]))[1],
    }
    edited = {**body, "external_id": "HB-T-555", "title": f"{body['title']}（升级版）"}
    ids = {
        "a": client.post("/api/v1/achievements", json=body).json()["id"],
        "b": client.post("/api/v1/achievements", json=trad).json()["id"],
        "c": client.post("/api/v1/achievements", json=edited).json()["id"],
        "x": client.post(
            "/api/v1/achievements",
            json=achievement(
                external_id="BJ-X-1",
                title="焊缝激光视觉跟踪传感器",
                summary="线结构光焊缝跟踪，精度±0.15mm，200Hz。",
                field="高端装备",
            ),
        ).json()["id"],
    }
    for n in (1, 2, 3):
        ids[f"d{n}"] = client.post(
            "/api/v1/demands", json=demand(external_id=f"TJ-D-{n}", title=f"冷链需求{n}")
        ).json()["id"]
    for name, (a, d) in {"m_a1": ("a", "d1"), "m_b1": ("b", "d1"), "m_b2": ("b", "d2"), "m_c3": ("c", "d3")}.items():
        match = Match(demand_id=ids[d], achievement_id=ids[a], rank=1, score=0.8, status="proposed", explanation={})
        session.add(match)
        session.commit()
        ids[name] = match.id
    for name, stage in (
        ("m_b1", "shortlisted"),
        ("m_b2", "shortlisted"),
        ("m_c3", "shortlisted"),
        ("m_a1", "shortlisted"),
    ):
        assert (
            client.patch(f"/api/v1/matches/{ids[name]}", json={"status": stage, "note": f"{name} 已联系"}).status_code
            == 200
        )
    assert client.patch(f"/api/v1/matches/{ids['m_b1']}", json={"status": "contacted"}).status_code == 200
    return ids


def test_scan_finds_the_copies_and_not_the_other_record(world: dict[str, int], session: Session) -> None:
    result = duplicates.scan(session, "achievements", None)
    session.commit()
    assert result.records == 4
    groups, _ = duplicates.open_groups(session, "achievements")
    assert groups == [sorted([world["a"], world["b"], world["c"]])]
    listed = duplicates.list_groups(session, "achievements", None)
    assert listed["total"] == 1
    assert {p["evidence"]["numbers"] for p in listed["items"][0]["pairs"]} == {1.0}
    assert duplicates.scan(session, "achievements", None).new_pairs == 0  # a second scan adds nothing


def test_merge_moves_everything_and_undo_restores_exactly(world: dict[str, int], session: Session) -> None:
    duplicates.scan(session, "achievements", None)
    session.commit()
    before = _snapshot(session)
    merge = merging.merge(session, "achievements", world["a"], [world["b"], world["c"]])
    session.commit()
    after = _snapshot(session)

    # every history line survives, on a pairing of the survivor
    assert len(after["events"]) == len(before["events"])
    pairs = {m.id: (m.demand_id, m.achievement_id) for m in session.scalars(select(Match))}
    assert set(pairs.values()) == {(world["d1"], world["a"]), (world["d2"], world["a"]), (world["d3"], world["a"])}
    assert world["m_b1"] not in pairs  # folded into the survivor's pairing with need 1 ...
    folded_events = session.scalars(select(MatchEvent).where(MatchEvent.match_id == world["m_a1"])).all()
    assert {e.note for e in folded_events} >= {"m_a1 已联系", "m_b1 已联系"}  # ... with its history
    assert [j["row"]["id"] for j in merge.journal["folded"]] == [world["m_b1"]]
    # the copies are archived, point to the survivor and keep their own last-change time
    statuses = {a[0]: a[1] for a in after["achievements"]}
    assert statuses[world["b"]] == statuses[world["c"]] == "archived"
    assert duplicates.merged_into(session, "achievements", world["b"]) == world["a"]
    assert {a[0]: a[2] for a in after["achievements"]}[world["b"]] == {a[0]: a[2] for a in before["achievements"]}[
        world["b"]
    ]
    # audit entries of the copies now read on the survivor, plus the merge itself
    assert not session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "achievement", AuditEntry.entity_id == world["b"])
    ).all()
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "merge")) is not None
    assert {c.status for c in session.scalars(select(DuplicateCandidate))} == {"merged"}
    assert duplicates.open_groups(session, "achievements")[0] == []

    merging.undo(session, merge.id)
    session.commit()
    restored = _snapshot(session)
    assert restored["matches"] == before["matches"]
    assert restored["events"] == before["events"]
    assert restored["achievements"] == before["achievements"]
    unmerge = [a for a in restored["audit"] if a not in before["audit"]]
    assert [a[4] for a in unmerge] == ["unmerge", "merge"] or sorted(a[4] for a in unmerge) == ["merge", "unmerge"]
    assert [a for a in before["audit"] if a not in restored["audit"]] == []
    assert session.scalars(select(MergedRecord)).all() == []
    assert {c.status for c in session.scalars(select(DuplicateCandidate))} == {"open"}
    with pytest.raises(Conflict, match="already undone"):
        merging.undo(session, merge.id)


def test_merge_rejects_bad_requests(world: dict[str, int], session: Session) -> None:
    with pytest.raises(ValidationFailed, match="itself"):
        merging.merge(session, "achievements", world["a"], [world["a"]])
    with pytest.raises(NotFound, match="999999"):
        merging.merge(session, "achievements", world["a"], [999999])
    with pytest.raises(ValidationFailed, match="kind"):
        merging.merge(session, "matches", world["a"], [world["b"]])
    with pytest.raises(Forbidden):
        merging.merge(session, "achievements", world["a"], [world["b"]], Principal(1, "enterprise", None))
    merging.merge(session, "achievements", world["a"], [world["b"]])
    with pytest.raises(Conflict, match="already merged"):
        merging.merge(session, "achievements", world["c"], [world["b"]])
    session.rollback()


def test_not_duplicates_are_never_proposed_again(world: dict[str, int], session: Session) -> None:
    merging.not_duplicates(session, "achievements", [world["a"], world["b"], world["c"]])
    session.commit()
    result = duplicates.scan(session, "achievements", None)
    session.commit()
    assert result.pairs == 0
    assert duplicates.list_groups(session, "achievements", None)["total"] == 0
    with pytest.raises(ValidationFailed, match="two"):
        merging.not_duplicates(session, "achievements", [world["a"]])
