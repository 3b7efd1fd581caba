"""Rules of matchmaking events: the event and its status, its time slots, and its participants.

Status: draft (草稿) → registration (报名中) → scheduling (排期) → published (已发布日程) → running (进行中) →
finished (已结束); a step back is allowed from registration, scheduling and published (to fix and re-solve). Staff
(managers, admins) run events; enterprise and institution members register their own organisation while registration
is open, and see events once they leave draft.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matchmaker.errors import Conflict, NotFound, ValidationFailed, field_error
from matchmaker.models import User, as_utc, utcnow
from matchmaker.models.events import Event, EventMeeting
from matchmaker.services.access import Principal, require_staff
from matchmaker.services.audit import audit

STATUSES = ("draft", "registration", "scheduling", "published", "running", "finished")
STATUS_LABELS = {
    "draft": "草稿",
    "registration": "报名中",
    "scheduling": "排期",
    "published": "已发布日程",
    "running": "进行中",
    "finished": "已结束",
}
MOVES: dict[str, tuple[str, ...]] = {
    "draft": ("registration",),
    "registration": ("scheduling", "draft"),
    "scheduling": ("published", "registration"),
    "published": ("running", "scheduling"),
    "running": ("finished",),
    "finished": (),
}
ROLE_LABELS = {"enterprise": "企业", "institution": "高校院所", "investor": "投资机构"}
EDITABLE = ("draft", "registration", "scheduling")  # participants and slots may change
MAX_DAYS = 7


def _local(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment)


def compute_slots(
    starts_on: date, ends_on: date, day_start: time, day_end: time, minutes: int, breaks: list[dict[str, str]]
) -> list[dict[str, str]]:
    """Back-to-back meeting slots each day from ``day_start`` to ``day_end``; a slot never overlaps a break (the next
    one starts when the break ends)."""
    slots: list[dict[str, str]] = []
    length = timedelta(minutes=minutes)
    day = starts_on
    while day <= ends_on:
        pauses = sorted(
            (_local(day, time.fromisoformat(b["start"])), _local(day, time.fromisoformat(b["end"]))) for b in breaks
        )
        start, close = _local(day, day_start), _local(day, day_end)
        while start + length <= close:
            end = start + length
            overlap = next((p for p in pauses if p[0] < end and start < p[1]), None)
            if overlap is not None:
                start = overlap[1]
                continue
            slots.append({"start": start.isoformat(timespec="minutes"), "end": end.isoformat(timespec="minutes")})
            start = end
        day += timedelta(days=1)
    return slots


def _check_shape(values: dict[str, Any]) -> None:
    """422 naming the field when dates, day hours, breaks or registration window do not fit together."""
    starts_on, ends_on = values["starts_on"], values["ends_on"]
    if ends_on < starts_on:
        raise ValidationFailed("结束日期早于开始日期", fields=[field_error("ends_on", "before starts_on")])
    if (ends_on - starts_on).days >= MAX_DAYS:
        raise ValidationFailed(f"活动最长 {MAX_DAYS} 天", fields=[field_error("ends_on", f"at most {MAX_DAYS} days")])
    if values["day_end"] <= values["day_start"]:
        raise ValidationFailed("每日结束时间须晚于开始时间", fields=[field_error("day_end", "not after day_start")])
    for i, pause in enumerate(values["breaks"]):
        start, end = time.fromisoformat(pause["start"]), time.fromisoformat(pause["end"])
        if end <= start or start < values["day_start"] or end > values["day_end"]:
            raise ValidationFailed(
                "休息时段须在当日时间内且结束晚于开始", fields=[field_error(f"breaks.{i}", "outside the day or empty")]
            )
    opens, closes = values.get("registration_opens_at"), values.get("registration_closes_at")
    if opens is not None and closes is not None and as_utc(closes) <= as_utc(opens):
        raise ValidationFailed(
            "报名截止时间须晚于报名开始时间", fields=[field_error("registration_closes_at", "not after opens_at")]
        )


def _check_organisers(session: Session, ids: list[int]) -> None:
    if not ids:
        return
    found = set(session.scalars(select(User.id).where(User.id.in_(ids), User.role.in_(("manager", "admin")))))
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationFailed(
            "组织者须为技术经理人或管理员", fields=[field_error("organiser_ids", f"not a manager: {missing}")]
        )


def _normalised(body: dict[str, Any]) -> dict[str, Any]:
    values = dict(body)
    if values.get("breaks") is not None:
        values["breaks"] = [
            {"start": b["start"].isoformat(timespec="minutes"), "end": b["end"].isoformat(timespec="minutes")}
            for b in values["breaks"]
        ]
    return values


def create_event(session: Session, body: dict[str, Any], principal: Principal | None) -> Event:
    """A new event in draft, its slots computed (staff only)."""
    require_staff(principal, "create events")
    values = _normalised(body)
    values["ends_on"] = values.get("ends_on") or values["starts_on"]
    _check_shape(values)
    _check_organisers(session, values.get("organiser_ids") or [])
    slots = compute_slots(
        values["starts_on"], values["ends_on"], values["day_start"], values["day_end"], values["meeting_minutes"],
        values["breaks"],
    )  # fmt: skip
    if not slots:
        raise ValidationFailed("每日时间内排不下一个会谈时段", fields=[field_error("meeting_minutes", "no slot fits")])
    event = Event(**values, slots=slots, status="draft", status_changed_at=utcnow())
    session.add(event)
    session.flush()
    audit(session, "event", event.id, "create", {"title": event.title, "kind": event.kind, "slots": len(slots)})
    return event


def get_event(session: Session, event_id: int, principal: Principal | None) -> Event:
    """An event; 404 when there is none or a member asks for a draft."""
    event = session.get(Event, event_id)
    if event is None or (principal is not None and not principal.is_staff and event.status == "draft"):
        raise NotFound(f"活动 {event_id} 不存在")
    return event


def list_events(
    session: Session, principal: Principal | None, *, status: str | None, year: int | None, limit: int, offset: int
) -> tuple[list[Event], int]:
    """Events, newest first: staff see all; members every event past draft."""
    stmt = select(Event)
    if principal is not None and not principal.is_staff:
        stmt = stmt.where(Event.status != "draft")
    if status is not None:
        stmt = stmt.where(Event.status == parse_status(status))
    if year is not None:
        stmt = stmt.where(Event.starts_on >= date(year, 1, 1), Event.starts_on < date(year + 1, 1, 1))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    items = list(session.scalars(stmt.order_by(Event.starts_on.desc(), Event.id.desc()).limit(limit).offset(offset)))
    return items, total


def update_event(session: Session, event_id: int, body: dict[str, Any], principal: Principal | None) -> Event:
    """Change an event (staff); slots and tables only while no meeting is scheduled, nothing once finished."""
    require_staff(principal, "change events")
    event = get_event(session, event_id, principal)
    if event.status == "finished":
        raise Conflict("活动已结束，不能修改", fields=[field_error("status", "finished")])
    changes = {k: v for k, v in _normalised(body).items() if v is not None}
    shape = ("starts_on", "ends_on", "day_start", "day_end", "meeting_minutes", "breaks", "tables")
    if any(k in changes for k in shape) and has_meetings(session, event.id):
        raise Conflict(
            "已有排期的会谈，不能再改时段或桌数；请先退回排期并清空日程",
            fields=[field_error(next(k for k in shape if k in changes), "meetings are scheduled")],
        )
    merged = {c: changes.get(c, getattr(event, c)) for c in (*shape, "registration_opens_at", "registration_closes_at")}
    merged["breaks"] = changes.get("breaks", event.breaks)
    _check_shape(merged)
    _check_organisers(session, changes.get("organiser_ids") or [])
    diff: dict[str, Any] = {}
    for key, value in changes.items():
        old = getattr(event, key)
        if old != value:
            diff[key] = [str(old), str(value)]
            setattr(event, key, value)
    if any(k in diff for k in shape):
        slots = compute_slots(
            event.starts_on, event.ends_on, event.day_start, event.day_end, event.meeting_minutes, event.breaks
        )
        if not slots:
            raise ValidationFailed("每日时间内排不下一个会谈时段", fields=[field_error("meeting_minutes", "no slot")])
        event.slots = slots
    if diff:
        session.flush()
        audit(session, "event", event.id, "update", diff)
    return event


def has_meetings(session: Session, event_id: int) -> bool:
    """Whether any meeting is scheduled."""
    return session.scalar(select(EventMeeting.id).where(EventMeeting.event_id == event_id).limit(1)) is not None


def parse_status(value: str) -> str:
    """An event status from its code or its Chinese label; 422 otherwise."""
    by_label = {label: code for code, label in STATUS_LABELS.items()}
    code = by_label.get(value.strip(), value.strip())
    if code not in STATUSES:
        allowed = "、".join(f"{c}（{STATUS_LABELS[c]}）" for c in STATUSES)
        raise ValidationFailed(f"未知状态 {value!r}，可选：{allowed}", fields=[field_error("status", "unknown")])
    return code


def move_event(session: Session, event_id: int, target: str, principal: Principal | None) -> Event:
    """Move an event to another status (staff); an illegal move answers 409 with the allowed ones."""
    require_staff(principal, "change an event's status")
    event = get_event(session, event_id, principal)
    target = parse_status(target)
    allowed = MOVES[event.status]
    if target not in allowed:
        names = "、".join(f"{m}（{STATUS_LABELS[m]}）" for m in allowed) or "无（已结束）"
        raise Conflict(
            f"活动处于{STATUS_LABELS[event.status]}，不能转为{STATUS_LABELS[target]}；可转为：{names}",
            fields=[field_error("status", f"allowed: {', '.join(allowed) or 'none'}")],
            allowed=list(allowed),
        )
    if target == "published" and not has_meetings(session, event.id):
        raise Conflict("尚未排期，不能发布日程", fields=[field_error("status", "no meeting scheduled")])
    before = event.status
    event.status = target
    event.status_changed_at = utcnow()
    session.flush()
    audit(session, "event", event.id, "status", {"status": [before, target]})
    if target == "finished":
        from matchmaker.services.event_results import finish  # it builds on this module

        finish(session, event, principal)
    return event


def present_event(event: Event) -> dict[str, Any]:
    """An event as the API answers it."""
    return {
        **{
            c: getattr(event, c)
            for c in (
                "id",
                "kind",
                "title",
                "description",
                "starts_on",
                "ends_on",
                "venue",
                "online_url",
                "chains",
                "meeting_minutes",
                "day_start",
                "day_end",
                "breaks",
                "tables",
                "default_cap",
                "auto_accept",
                "organiser_ids",
                "registration_opens_at",
                "registration_closes_at",
                "status",
                "scheduled_at",
            )
        },  # fmt: skip
        "slots": [{"index": i, **s} for i, s in enumerate(event.slots)],
        "status_label": STATUS_LABELS[event.status],
        "allowed_moves": list(MOVES[event.status]),
    }
