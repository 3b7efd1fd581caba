"""After an event: held meetings advance (or create) their pairing in the review workflow, and the figures.

A meeting checked in as held, between a need and an achievement, moves its pairing step by step to 洽谈 (meeting)
through :func:`matchmaker.services.workflow.update_match` — the same legal moves, history entries and audit as a
manager's — each step noting the event. A pairing already past 洽谈 gets a note; a rejected one is left as it is.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.domain import STAGE_ORDER
from matchmaker.models import Achievement, Demand, Match
from matchmaker.models.events import Event, EventMeeting, MeetingRequest
from matchmaker.services.access import Principal, require_staff
from matchmaker.services.events import STATUS_LABELS, get_event
from matchmaker.services.workflow import update_match

EVENTS_TARGET_PER_YEAR = 10  # seed 002: 组织项目推介、供需对接、融资路演等系列活动10余场次
PATH_TO_MEETING = ("shortlisted", "contacted", "meeting")


def advance_pairings(session: Session, event: Event, principal: Principal | None) -> dict[str, Any]:
    """For every held meeting with a need and an achievement: create the pairing if missing, move it to 洽谈."""
    rows = session.execute(
        select(EventMeeting, MeetingRequest)
        .join(MeetingRequest, EventMeeting.request_id == MeetingRequest.id)
        .where(EventMeeting.event_id == event.id, EventMeeting.attendance == "met")
        .order_by(EventMeeting.slot, EventMeeting.table_no)
    ).all()
    created = advanced = 0
    skipped: list[dict[str, Any]] = []
    for meeting, request in rows:
        if request.demand_id is None or request.achievement_id is None:
            skipped.append({"meeting_id": meeting.id, "reason": "会谈未关联需求与成果"})
            continue
        match = session.scalar(
            select(Match).where(Match.demand_id == request.demand_id, Match.achievement_id == request.achievement_id)
        )
        if match is None:
            match = Match(
                demand_id=request.demand_id, achievement_id=request.achievement_id, rank=1,
                score=request.score or 0.0, explanation=request.explanation or {}, status="proposed",
            )  # fmt: skip
            session.add(match)
            session.flush()
            created += 1
        meeting.match_id = match.id
        slot = event.slots[meeting.slot]
        note = f"活动《{event.title}》{slot['start'].replace('T', ' ')} 第 {meeting.table_no} 桌洽谈"
        if match.status == "rejected":
            skipped.append({"meeting_id": meeting.id, "match_id": match.id, "reason": "配对已被否决，未推进"})
            continue
        if STAGE_ORDER[match.status] >= STAGE_ORDER["meeting"]:
            update_match(session, match.id, {"note": note}, principal)
            continue
        for step in PATH_TO_MEETING:
            if STAGE_ORDER[step] > STAGE_ORDER[match.status]:
                update_match(session, match.id, {"status": step, "note": note}, principal)
        advanced += 1
    session.flush()
    return {"pairings_created": created, "pairings_advanced": advanced, "skipped": skipped}


def results(session: Session, event_id: int, principal: Principal | None) -> dict[str, Any]:
    """Meetings held, no-shows, pairings created / advanced, and how many of them are signed or landed now."""
    require_staff(principal, "see event results")
    event = get_event(session, event_id, principal)
    meetings = list(session.scalars(select(EventMeeting).where(EventMeeting.event_id == event.id)))
    attendance = Counter(m.attendance for m in meetings)
    match_ids = [m.match_id for m in meetings if m.match_id is not None]
    statuses = Counter(session.scalars(select(Match.status).where(Match.id.in_(match_ids))))
    report = event.schedule_report.get("after_event", {}) if event.schedule_report else {}
    return {
        "event_id": event.id,
        "status": STATUS_LABELS[event.status],
        "meetings_scheduled": len(meetings),
        "meetings_held": attendance["met"],
        "no_shows": attendance["no_show"],
        "not_recorded": attendance["pending"],
        "pairings_created": report.get("pairings_created", 0),
        "pairings_advanced": report.get("pairings_advanced", 0),
        "pairings_signed": statuses["signed"] + statuses["landed"],
        "pairings_landed": statuses["landed"],
        "skipped": report.get("skipped", []),
    }


def finish(session: Session, event: Event, principal: Principal | None) -> None:
    """What moving an event to 已结束 does: advance the pairings and keep the outcome on the event."""
    outcome = advance_pairings(session, event, principal)
    event.schedule_report = {**(event.schedule_report or {}), "after_event": outcome}
    session.flush()


def stats(session: Session, principal: Principal | None) -> dict[str, Any]:
    """Events per year against the Centre's target, meetings per event, conversion of held meetings to signed deals,
    and region flows (achievement's region → need's region) of held meetings."""
    require_staff(principal, "see event statistics")
    events = list(session.scalars(select(Event).where(Event.status != "draft").order_by(Event.starts_on)))
    per_year: dict[int, dict[str, int]] = defaultdict(lambda: {"events": 0, "finished": 0})
    for e in events:
        per_year[e.starts_on.year]["events"] += 1
        per_year[e.starts_on.year]["finished"] += e.status == "finished"
    rows = session.execute(
        select(EventMeeting, MeetingRequest)
        .join(MeetingRequest, EventMeeting.request_id == MeetingRequest.id)
        .where(EventMeeting.event_id.in_([e.id for e in events]))
    ).all()
    per_event: dict[int, Counter[str]] = defaultdict(Counter)
    for m, _ in rows:
        per_event[m.event_id][m.attendance] += 1
    held = [(m, r) for m, r in rows if m.attendance == "met"]
    match_ids = {m.match_id for m, _ in held if m.match_id is not None}
    statuses = dict(session.execute(select(Match.id, Match.status).where(Match.id.in_(match_ids))).all())
    regions = dict(
        session.execute(select(Demand.id, Demand.region).where(Demand.id.in_({r.demand_id for _, r in held}))).all()
    )
    offers = dict(
        session.execute(
            select(Achievement.id, Achievement.region).where(Achievement.id.in_({r.achievement_id for _, r in held}))
        ).all()
    )
    flows: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for m, r in held:
        if r.demand_id in regions and r.achievement_id in offers:
            key = (offers[r.achievement_id], regions[r.demand_id])
            flows[key]["meetings"] += 1
            flows[key]["signed"] += m.match_id is not None and statuses.get(m.match_id) in ("signed", "landed")
    signed = sum(1 for s in statuses.values() if s in ("signed", "landed"))
    return {
        "target_per_year": EVENTS_TARGET_PER_YEAR,
        "events_per_year": [
            {"year": y, **v, "target": EVENTS_TARGET_PER_YEAR, "met_target": v["events"] >= EVENTS_TARGET_PER_YEAR}
            for y, v in sorted(per_year.items())
        ],
        "meetings_per_event": [
            {
                "event_id": e.id,
                "title": e.title,
                "kind": e.kind,
                "starts_on": e.starts_on.isoformat(),
                "scheduled": sum(per_event[e.id].values()),
                "held": per_event[e.id]["met"],
                "no_show": per_event[e.id]["no_show"],
            }
            for e in events
        ],  # fmt: skip
        "meetings_held": len(held),
        "pairings_from_events": len(match_ids),
        "signed_or_landed": signed,
        "conversion_to_signed": round(signed / len(match_ids), 4) if match_ids else None,
        "region_flows": [
            {"from": a, "to": b, "meetings": c["meetings"], "signed": c["signed"]}
            for (a, b), c in sorted(flows.items())
        ],
    }
