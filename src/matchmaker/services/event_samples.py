"""The sample event (data/sample/event.json): a realistic 供需对接会 on the sample lists, open for registration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.errors import ValidationFailed, field_error
from matchmaker.models import Achievement, Demand
from matchmaker.models.events import Event
from matchmaker.schemas.events import EventCreate, ParticipantCreate
from matchmaker.services.event_participants import add_participant
from matchmaker.services.events import create_event, move_event


def _ids(session: Session, model: type[Achievement] | type[Demand], external_ids: list[str], where: str) -> list[int]:
    found = dict(session.execute(select(model.external_id, model.id).where(model.external_id.in_(external_ids))).all())
    missing = [e for e in external_ids if e not in found]
    if missing:
        raise ValidationFailed(
            f"示例活动引用的记录不存在：{missing}（请先载入示例清单）", fields=[field_error(where, "missing")]
        )
    return [found[e] for e in external_ids]


def load_event(session: Session, data: dict[str, Any]) -> Event:
    """Create an event with its participants from a description (records named by external_id); it is left in
    报名中 (registration), ready for proposals. The same title twice is refused."""
    body = EventCreate.model_validate(data["event"]).model_dump()
    if session.scalar(select(Event.id).where(Event.title == body["title"])) is not None:
        raise ValidationFailed(f"活动《{body['title']}》已存在", fields=[field_error("event.title", "exists")])
    event = create_event(session, body, None)
    move_event(session, event.id, "registration", None)
    for i, raw in enumerate(data.get("participants", [])):
        entry = dict(raw)
        demands = _ids(session, Demand, entry.pop("demands", []), f"participants.{i}.demands")
        achievements = _ids(session, Achievement, entry.pop("achievements", []), f"participants.{i}.achievements")
        participant = ParticipantCreate.model_validate(
            {**entry, "demand_ids": demands, "achievement_ids": achievements}
        )
        add_participant(session, event.id, participant.model_dump(exclude_unset=True), None)
    return event


def load_event_file(session: Session, path: Path) -> Event:
    """:func:`load_event` from a JSON file."""
    return load_event(session, json.loads(path.read_text(encoding="utf-8")))
