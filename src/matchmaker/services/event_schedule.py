"""An event's schedule: solving it (matchmaker.scheduling), moving and pinning meetings, the grid, agendas, check-in."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.errors import Conflict, NotFound, ValidationFailed, field_error
from matchmaker.models import Organisation, utcnow
from matchmaker.models.events import Event, EventMeeting, EventParticipant, MeetingRequest
from matchmaker.scheduling import REASONS, Participant, Placement, Problem, Request, greedy, request_weight, solve
from matchmaker.services.access import Principal, require_staff
from matchmaker.services.audit import audit
from matchmaker.services.event_participants import get_participant
from matchmaker.services.event_requests import present_requests, status_of
from matchmaker.services.events import STATUS_LABELS, get_event

SCHEDULABLE = ("scheduling", "published")


def _requests(session: Session, event_id: int) -> list[MeetingRequest]:
    return list(session.scalars(select(MeetingRequest).where(MeetingRequest.event_id == event_id)))


def _meetings(session: Session, event_id: int) -> list[EventMeeting]:
    return list(
        session.scalars(
            select(EventMeeting)
            .where(EventMeeting.event_id == event_id)
            .order_by(EventMeeting.slot, EventMeeting.table_no)
        )
    )


def run_schedule(session: Session, event_id: int, time_limit_s: float, principal: Principal | None) -> dict[str, Any]:
    """Solve the event's schedule with CP-SAT (staff; while scheduling, or published for a re-solve). Pinned meetings
    stay; the others are placed anew, keeping their table when they keep their slot. The report compares the greedy
    baseline and lists every accepted request left out, with the reason."""
    require_staff(principal, "schedule events")
    event = get_event(session, event_id, principal)
    if event.status not in SCHEDULABLE:
        raise Conflict(
            f"活动处于{STATUS_LABELS[event.status]}，只有排期或已发布日程时可以排期",
            fields=[field_error("status", event.status)],
        )
    participants = {
        p.id: Participant(p.id, p.cap, None if p.available_slots is None else frozenset(p.available_slots))
        for p in session.scalars(select(EventParticipant).where(EventParticipant.event_id == event.id))
    }
    accepted = [r for r in _requests(session, event.id) if status_of(r) == "accepted"]
    requests = [
        Request(
            r.id,
            r.first_id,
            r.second_id,
            request_weight(
                mutual=r.asked_by_first and r.asked_by_second,
                asked=r.asked_by_first or r.asked_by_second,
                score=r.score,
            ),
        )
        for r in accepted
    ]
    existing = {m.request_id: m for m in _meetings(session, event.id)}
    pinned = [Placement(m.request_id, m.slot, m.table_no) for m in existing.values() if m.pinned]
    problem = Problem(
        slots=len(event.slots),
        tables=event.tables,
        participants=participants,
        requests=requests,
        pinned=pinned,
        previous={rid: (m.slot, m.table_no) for rid, m in existing.items()},
    )
    try:
        result = solve(problem, time_limit_s=time_limit_s)
    except ValueError as exc:  # pinned meetings that contradict each other
        raise Conflict(f"置顶的会谈相互冲突：{exc}", fields=[field_error("pinned", str(exc))]) from exc
    baseline = greedy(problem)
    placed = {p.request_id: p for p in result.placements}
    for rid, meeting in existing.items():
        if rid not in placed:
            session.delete(meeting)
    session.flush()
    for rid, p in placed.items():
        current = existing.get(rid)
        if current is None:
            session.add(EventMeeting(event_id=event.id, request_id=rid, slot=p.slot, table_no=p.table))
        else:
            current.slot, current.table_no = p.slot, p.table
    report = {
        "solver": result.solver,
        "status": result.status,
        "wall_s": round(result.wall_s, 3),
        "accepted": len(requests),
        "placed": len(result.placements),
        "objective": result.objective,
        "greedy_placed": len(baseline.placements),
        "greedy_objective": baseline.objective,
        "unplaced": [
            {
                "request_id": u.request_id,
                "reason": u.reason,
                "reason_label": REASONS[u.reason],
                "participant_id": u.participant_id,
            }
            for u in result.unplaced
        ],
        "at": utcnow().isoformat(),
    }
    event.schedule_report = report
    event.scheduled_at = utcnow()
    session.flush()
    audit(session, "event", event.id, "schedule", {k: report[k] for k in ("accepted", "placed", "greedy_placed")})
    return report


def _slot(event: Event, index: int) -> dict[str, str]:
    return event.slots[index] if 0 <= index < len(event.slots) else {"start": "", "end": ""}


def present_meetings(
    session: Session, event: Event, meetings: list[EventMeeting], principal: Principal | None
) -> list[dict[str, Any]]:
    """Meetings with their slot times, both sides and records."""
    requests = {
        r.id: r
        for r in session.scalars(select(MeetingRequest).where(MeetingRequest.id.in_([m.request_id for m in meetings])))
    }
    shown = {r["id"]: r for r in present_requests(session, list(requests.values()), principal, None)}
    out = []
    for m in meetings:
        r = shown[m.request_id]
        slot = _slot(event, m.slot)
        out.append(
            {
                "id": m.id, "request_id": m.request_id, "slot": m.slot, "start": slot["start"], "end": slot["end"],
                "table": m.table_no, "pinned": m.pinned, "attendance": m.attendance, "no_show_ids": m.no_show_ids,
                "first": r["first"], "second": r["second"], "demand": r["demand"], "achievement": r["achievement"],
                "score": r["score"], "match_id": m.match_id,
                "reason": (requests[m.request_id].explanation or {}).get("sentence"),
            }
        )  # fmt: skip
    return out


def get_schedule(session: Session, event_id: int, principal: Principal | None) -> dict[str, Any]:
    """The grid (staff): slots, tables, meetings, and the accepted requests not placed with their reasons."""
    require_staff(principal, "see the whole schedule")
    event = get_event(session, event_id, principal)
    meetings = _meetings(session, event.id)
    placed = {m.request_id for m in meetings}
    reasons = {u["request_id"]: u for u in (event.schedule_report or {}).get("unplaced", [])}
    unplaced = []
    for r in _requests(session, event.id):
        if status_of(r) == "accepted" and r.id not in placed:
            unplaced.append(
                reasons.get(r.id)
                or {
                    "request_id": r.id,
                    "reason": "not_scheduled",
                    "reason_label": "排期后新接受，尚未排期",
                    "participant_id": None,
                }
            )
    return {
        "event_id": event.id,
        "status": event.status,
        "slots": [{"index": i, **s} for i, s in enumerate(event.slots)],
        "tables": event.tables,
        "meetings": present_meetings(session, event, meetings, principal),
        "unplaced": unplaced,
        "report": {k: v for k, v in (event.schedule_report or {}).items() if k != "unplaced"},
    }


def get_meeting(session: Session, event_id: int, meeting_id: int) -> EventMeeting:
    """A meeting of the event; 404 otherwise."""
    meeting = session.get(EventMeeting, meeting_id)
    if meeting is None or meeting.event_id != event_id:
        raise NotFound(f"会谈 {meeting_id} 不存在")
    return meeting


def change_meeting(
    session: Session, event_id: int, meeting_id: int, body: dict[str, Any], principal: Principal | None
) -> EventMeeting:
    """Move a meeting to another slot or table, or pin / unpin it (staff); 409 when the table is taken or a side is
    already meeting someone in that slot. Given only a slot, the meeting keeps its table when free there, else takes
    the first free one. A moved meeting is pinned unless the body says otherwise."""
    require_staff(principal, "move meetings")
    event = get_event(session, event_id, principal)
    if event.status not in SCHEDULABLE:
        raise Conflict(
            f"活动处于{STATUS_LABELS[event.status]}，日程不能再改", fields=[field_error("status", event.status)]
        )
    meeting = get_meeting(session, event.id, meeting_id)
    slot: int = body["slot"] if body.get("slot") is not None else meeting.slot
    table: int = body["table"] if body.get("table") is not None else meeting.table_no
    if not 0 <= slot < len(event.slots):
        raise ValidationFailed(
            f"时段编号须在 0–{len(event.slots) - 1} 之间", fields=[field_error("slot", "unknown slot")]
        )
    if not 1 <= table <= event.tables:
        raise ValidationFailed(f"桌号须在 1–{event.tables} 之间", fields=[field_error("table", "unknown table")])
    request = session.get(MeetingRequest, meeting.request_id)
    assert request is not None
    others = [m for m in _meetings(session, event.id) if m.id != meeting.id and m.slot == slot]
    used = {m.table_no for m in others}
    if body.get("table") is None and table in used:  # only the slot given: keep the table if free, else the first free
        table = next((t for t in range(1, event.tables + 1) if t not in used), table)
    if table in used:
        raise Conflict(f"第 {table} 桌在该时段已有会谈", fields=[field_error("table", "taken")])
    sides = {request.first_id, request.second_id}
    other_requests = {
        r.id: r
        for r in session.scalars(select(MeetingRequest).where(MeetingRequest.id.in_([m.request_id for m in others])))
    }
    if any(sides & {other_requests[m.request_id].first_id, other_requests[m.request_id].second_id} for m in others):
        raise Conflict("该时段一方已有其他会谈", fields=[field_error("slot", "a side is busy")])
    moved = (slot, table) != (meeting.slot, meeting.table_no)
    diff: dict[str, Any] = {}
    if moved:
        diff["place"] = [[meeting.slot, meeting.table_no], [slot, table]]
        meeting.slot, meeting.table_no = slot, table
    pinned = body["pinned"] if body.get("pinned") is not None else (True if moved else meeting.pinned)
    if pinned != meeting.pinned:
        diff["pinned"] = [meeting.pinned, pinned]
        meeting.pinned = pinned
    if diff:
        session.flush()
        audit(session, "event_meeting", meeting.id, "update", diff)
    return meeting


def check_in(
    session: Session,
    event_id: int,
    meeting_id: int,
    attendance: str,
    no_show_ids: list[int],
    principal: Principal | None,
) -> EventMeeting:
    """On the day (event running): a meeting took place or not; who did not come is recorded (staff)."""
    require_staff(principal, "check meetings in")
    event = get_event(session, event_id, principal)
    if event.status != "running":
        raise Conflict(
            f"活动处于{STATUS_LABELS[event.status]}，只有进行中可以签到", fields=[field_error("status", event.status)]
        )
    meeting = get_meeting(session, event.id, meeting_id)
    request = session.get(MeetingRequest, meeting.request_id)
    assert request is not None
    bad = [i for i in no_show_ids if i not in (request.first_id, request.second_id)]
    if bad or (attendance == "met" and no_show_ids):
        raise ValidationFailed(
            "缺席方须为该会谈的一方，且仅在未到时填写",
            fields=[field_error("no_show_participant_ids", f"not a side: {bad}")],
        )
    before = meeting.attendance
    meeting.attendance = attendance
    meeting.no_show_ids = sorted(set(no_show_ids))
    meeting.checked_in_at = utcnow()
    session.flush()
    audit(
        session, "event_meeting", meeting.id, "check_in", {"attendance": [before, attendance], "no_show": no_show_ids}
    )
    return meeting


def agenda(session: Session, event_id: int, participant_id: int, principal: Principal | None) -> dict[str, Any]:
    """One participant's meetings in time order (its own organisation or staff; 404 for another's)."""
    participant = get_participant(session, event_id, participant_id, principal, write=True)
    event = get_event(session, event_id, principal)
    if principal is not None and not principal.is_staff and event.status not in ("published", "running", "finished"):
        raise Conflict("日程尚未发布", fields=[field_error("status", event.status)])
    meetings = [m for m in _meetings(session, event.id) if participant.id in _sides(session, m)]
    shown = present_meetings(session, event, meetings, principal)
    others = {
        p.id: p
        for p in session.scalars(
            select(EventParticipant).where(EventParticipant.id.in_([x for m in meetings for x in _sides(session, m)]))
        )
    }
    org = session.get(Organisation, participant.org_id)
    items = []
    for m in sorted(shown, key=lambda x: x["slot"]):
        side = m["second"] if m["first"]["participant_id"] == participant.id else m["first"]
        people = others[side["participant_id"]].people if side["participant_id"] in others else []
        items.append(
            {
                "meeting_id": m["id"], "slot": m["slot"], "start": m["start"], "end": m["end"], "table": m["table"],
                "counterpart": side,
                "counterpart_people": [{"name": p.get("name"), "title": p.get("title")} for p in people],
                "demand": m["demand"], "achievement": m["achievement"],
                "reason": m["reason"],
                "attendance": m["attendance"],
            }
        )  # fmt: skip
    return {
        "event_id": event.id,
        "title": event.title,
        "venue": event.venue,
        "participant_id": participant.id,
        "organisation": org.name if org else "",
        "items": items,
    }


def _sides(session: Session, meeting: EventMeeting) -> tuple[int, int]:
    request = session.get(MeetingRequest, meeting.request_id)
    assert request is not None
    return request.first_id, request.second_id
