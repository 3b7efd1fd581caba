"""Participants of an event: organisations with the people who come, their role, the records they bring, the slots
they are available in and their cap on meetings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from matchmaker.models import Achievement, Demand, Organisation, as_utc, utcnow
from matchmaker.models.events import Event, EventParticipant
from matchmaker.services.access import Principal, require_staff
from matchmaker.services.audit import audit
from matchmaker.services.auth import get_or_create_org
from matchmaker.services.events import EDITABLE, ROLE_LABELS, STATUS_LABELS, get_event
from matchmaker.services.matching import achievement_brief, demand_brief


def _own_participant(session: Session, event_id: int, principal: Principal) -> EventParticipant | None:
    return session.scalar(
        select(EventParticipant).where(
            EventParticipant.event_id == event_id, EventParticipant.org_id == principal.org_id
        )
    )


def _check_records(
    session: Session, event: Event, role: str, org_id: int, values: dict[str, Any], principal: Principal | None
) -> None:
    """Records must exist, fit the role (needs for enterprises, achievements for institutions) and, for a member,
    belong to its organisation; slots must be the event's; the cap at least 1."""
    staff = principal is None or principal.is_staff
    for key, model, holder in (("demand_ids", Demand, "enterprise"), ("achievement_ids", Achievement, "institution")):
        ids = values.get(key) or []
        if ids and role != holder:
            raise ValidationFailed(
                f"{ROLE_LABELS[role]}不携带{'需求' if holder == 'enterprise' else '成果'}",
                fields=[field_error(key, f"only a {holder} brings these")],
            )
        rows = {r.id: r for r in session.execute(select(model.id, model.org_id).where(model.id.in_(ids)))}
        for i, rid in enumerate(ids):
            row = rows.get(rid)
            if row is None or (not staff and row.org_id != org_id):
                raise ValidationFailed(
                    f"记录 {rid} 不存在或不属于本单位", fields=[field_error(f"{key}.{i}", "not found")]
                )
        if len(set(ids)) != len(ids):
            raise ValidationFailed("记录重复", fields=[field_error(key, "duplicates")])
    slots = values.get("available_slots")
    if slots is not None:
        bad = [s for s in slots if not 0 <= s < len(event.slots)]
        if bad:
            raise ValidationFailed(
                f"时段编号须在 0–{len(event.slots) - 1} 之间", fields=[field_error("available_slots", f"unknown {bad}")]
            )


def _editable(event: Event, principal: Principal | None) -> None:
    if principal is not None and not principal.is_staff:
        now = utcnow()
        opens = event.registration_opens_at and as_utc(event.registration_opens_at)
        closes = event.registration_closes_at and as_utc(event.registration_closes_at)
        if event.status != "registration" or (opens and now < opens) or (closes and now >= closes):
            raise Conflict("当前不在报名时间内", fields=[field_error("status", STATUS_LABELS[event.status])])
    elif event.status not in EDITABLE:
        raise Conflict(
            f"活动处于{STATUS_LABELS[event.status]}，参会单位不能再变", fields=[field_error("status", event.status)]
        )


def add_participant(
    session: Session, event_id: int, body: dict[str, Any], principal: Principal | None
) -> EventParticipant:
    """Register an organisation: staff any (by name, created when new), a member its own with its own role."""
    event = get_event(session, event_id, principal)
    _editable(event, principal)
    if principal is not None and not principal.is_staff:
        if body.get("organisation") is not None or body.get("role") is not None:
            raise Forbidden("只有技术经理人可以为其他单位报名或指定角色")
        if principal.org_id is None:
            raise Forbidden("账号未关联单位，不能报名")
        org_id, role = principal.org_id, principal.role
    else:
        if not body.get("organisation") or not body.get("role"):
            missing = "organisation" if not body.get("organisation") else "role"
            raise ValidationFailed("请填写参会单位和角色", fields=[field_error(missing, "required for staff")])
        org_id = get_or_create_org(session, body["organisation"], body["role"]).id
        role = body["role"]
    if session.scalar(
        select(EventParticipant.id).where(EventParticipant.event_id == event.id, EventParticipant.org_id == org_id)
    ):
        raise Conflict("该单位已报名", fields=[field_error("organisation", "already registered")])
    _check_records(session, event, role, org_id, body, principal)
    participant = EventParticipant(
        event_id=event.id,
        org_id=org_id,
        role=role,
        people=[p for p in body.get("people") or []],
        demand_ids=body.get("demand_ids") or [],
        achievement_ids=body.get("achievement_ids") or [],
        available_slots=sorted(set(body["available_slots"])) if body.get("available_slots") is not None else None,
        cap=body.get("cap") or event.default_cap,
    )
    session.add(participant)
    session.flush()
    audit(
        session, "event_participant", participant.id, "create", {"event_id": event.id, "org_id": org_id, "role": role}
    )
    return participant


def get_participant(
    session: Session, event_id: int, participant_id: int, principal: Principal | None, *, write: bool = False
) -> EventParticipant:
    """A participant of the event; members may change only their own (404 for another's when writing)."""
    get_event(session, event_id, principal)
    participant = session.get(EventParticipant, participant_id)
    if participant is None or participant.event_id != event_id:
        raise NotFound(f"参会单位 {participant_id} 不存在")
    if write and principal is not None and not principal.is_staff and participant.org_id != principal.org_id:
        raise NotFound(f"参会单位 {participant_id} 不存在")
    return participant


def update_participant(
    session: Session, event_id: int, participant_id: int, body: dict[str, Any], principal: Principal | None
) -> EventParticipant:
    """Change the people, records, availability or cap of a participant (staff, or its own organisation)."""
    participant = get_participant(session, event_id, participant_id, principal, write=True)
    event = get_event(session, event_id, principal)
    _editable(event, principal)
    values = {k: v for k, v in body.items() if v is not None}
    if values.pop("all_slots", False):
        values["available_slots"] = None
        body = {**body, "available_slots": None}
    _check_records(session, event, participant.role, participant.org_id, values, principal)
    diff: dict[str, Any] = {}
    for key in ("people", "demand_ids", "achievement_ids", "available_slots", "cap"):
        if key in values or (key == "available_slots" and body.get("all_slots")):
            new = values.get(key)
            if key == "available_slots" and new is not None:
                new = sorted(set(new))
            if getattr(participant, key) != new:
                diff[key] = [getattr(participant, key), new]
                setattr(participant, key, new)
    if diff:
        session.flush()
        audit(session, "event_participant", participant.id, "update", diff)
    return participant


def remove_participant(session: Session, event_id: int, participant_id: int, principal: Principal | None) -> None:
    """Remove a participant with its requests and meetings (staff)."""
    require_staff(principal, "remove participants")
    participant = get_participant(session, event_id, participant_id, principal)
    _editable(get_event(session, event_id, principal), principal)
    audit(session, "event_participant", participant.id, "delete", {"event_id": event_id, "org_id": participant.org_id})
    session.delete(participant)
    session.flush()


def list_participants(session: Session, event_id: int, principal: Principal | None) -> list[dict[str, Any]]:
    """The event's participants as the caller may see them."""
    get_event(session, event_id, principal)
    participants = list(
        session.scalars(
            select(EventParticipant).where(EventParticipant.event_id == event_id).order_by(EventParticipant.id)
        )
    )
    return present_participants(session, participants, principal)


def present_participants(
    session: Session, participants: list[EventParticipant], principal: Principal | None
) -> list[dict[str, Any]]:
    """Participants with their organisation and records. To another member: no contact details, and no confidential
    need (listing it under its enterprise would disclose who posted it)."""
    org_ids = {p.org_id for p in participants}
    names = dict(session.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(org_ids))).all())
    demand_ids = {i for p in participants for i in p.demand_ids}
    achievement_ids = {i for p in participants for i in p.achievement_ids}
    demands = {d.id: d for d in session.scalars(select(Demand).where(Demand.id.in_(demand_ids)))}
    achievements = {a.id: a for a in session.scalars(select(Achievement).where(Achievement.id.in_(achievement_ids)))}
    out = []
    for p in participants:
        own = principal is None or principal.is_staff or p.org_id == principal.org_id
        people = p.people if own else [{"name": x.get("name"), "title": x.get("title")} for x in p.people]
        out.append(
            {
                "id": p.id,
                "event_id": p.event_id,
                "org_id": p.org_id,
                "organisation": names.get(p.org_id, ""),
                "role": p.role,
                "role_label": ROLE_LABELS[p.role],
                "people": people,
                "demands": [
                    demand_brief(demands[i])
                    for i in p.demand_ids
                    if i in demands and (own or not demands[i].confidential)
                ],
                "achievements": [achievement_brief(achievements[i]) for i in p.achievement_ids if i in achievements],
                "available_slots": p.available_slots,
                "cap": p.cap,
            }
        )
    return out


def own_participant(session: Session, event_id: int, principal: Principal | None) -> EventParticipant | None:
    """The caller's organisation's participant in this event (None for staff or when it does not take part)."""
    if principal is None or principal.is_staff:
        return None
    return _own_participant(session, event_id, principal)
