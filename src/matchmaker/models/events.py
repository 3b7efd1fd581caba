"""Matchmaking events (项目推介, 供需对接会, 融资路演): the event, its participants, meeting requests and meetings."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from matchmaker.db import Base
from matchmaker.models import JSONList, TimestampMixin, utcnow


class Event(TimestampMixin, Base):
    """One event: its kind, dates, place, time slots (breaks left out), tables, organisers and status.

    ``slots`` holds the computed meeting slots, ``[{"start": "2026-12-10T09:00", "end": "2026-12-10T09:20"}, ...]`` in
    the event's local time; a meeting refers to a slot by its index in this list.
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # 项目推介 | 供需对接 | 融资路演 | 其他
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    starts_on: Mapped[date] = mapped_column(Date, index=True)
    ends_on: Mapped[date] = mapped_column(Date)
    venue: Mapped[str | None] = mapped_column(String(300))
    online_url: Mapped[str | None] = mapped_column(String(500))
    chains: Mapped[list[str]] = mapped_column(JSONList, default=list)
    meeting_minutes: Mapped[int] = mapped_column(Integer)
    day_start: Mapped[time] = mapped_column(Time)
    day_end: Mapped[time] = mapped_column(Time)
    breaks: Mapped[list[dict[str, str]]] = mapped_column(JSONList, default=list)
    slots: Mapped[list[dict[str, str]]] = mapped_column(JSONList, default=list)
    tables: Mapped[int] = mapped_column(Integer)
    default_cap: Mapped[int] = mapped_column(Integer)
    auto_accept: Mapped[bool] = mapped_column(Boolean, default=False)
    organiser_ids: Mapped[list[int]] = mapped_column(JSONList, default=list)
    registration_opens_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    registration_closes_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(12), default="draft", index=True)
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    schedule_report: Mapped[dict[str, Any]] = mapped_column(JSONList, default=dict)


class EventParticipant(TimestampMixin, Base):
    """An organisation taking part: the people who come, its role, the records it brings, availability and cap."""

    __tablename__ = "event_participants"
    __table_args__ = (UniqueConstraint("event_id", "org_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(12))  # enterprise | institution | investor
    people: Mapped[list[dict[str, Any]]] = mapped_column(JSONList, default=list)
    demand_ids: Mapped[list[int]] = mapped_column(JSONList, default=list)
    achievement_ids: Mapped[list[int]] = mapped_column(JSONList, default=list)
    available_slots: Mapped[list[int] | None] = mapped_column(JSONList, nullable=True)  # None: every slot
    cap: Mapped[int] = mapped_column(Integer)


class MeetingRequest(TimestampMixin, Base):
    """A wish for one meeting between two participants: proposed by the service, asked by one side or added by a
    manager; each side accepts or declines. ``first_id`` is the side holding the need when there is one."""

    __tablename__ = "meeting_requests"
    __table_args__ = (UniqueConstraint("event_id", "first_id", "second_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    first_id: Mapped[int] = mapped_column(ForeignKey("event_participants.id", ondelete="CASCADE"), index=True)
    second_id: Mapped[int] = mapped_column(ForeignKey("event_participants.id", ondelete="CASCADE"), index=True)
    demand_id: Mapped[int | None] = mapped_column(ForeignKey("demands.id", ondelete="SET NULL"))
    achievement_id: Mapped[int | None] = mapped_column(ForeignKey("achievements.id", ondelete="SET NULL"))
    origin: Mapped[str] = mapped_column(String(10))  # proposed | asked | manager
    asked_by_first: Mapped[bool] = mapped_column(Boolean, default=False)
    asked_by_second: Mapped[bool] = mapped_column(Boolean, default=False)
    first_response: Mapped[str] = mapped_column(String(10), default="pending")  # pending | accepted | declined
    second_response: Mapped[str] = mapped_column(String(10), default="pending")
    score: Mapped[float | None] = mapped_column(Float)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSONList, default=dict)
    note: Mapped[str | None] = mapped_column(Text)


class EventMeeting(TimestampMixin, Base):
    """A scheduled meeting: the request it fulfils, its slot and table, whether a manager pinned it, and check-in."""

    __tablename__ = "event_meetings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("meeting_requests.id", ondelete="CASCADE"), unique=True)
    slot: Mapped[int] = mapped_column(Integer)
    table_no: Mapped[int] = mapped_column(Integer)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    attendance: Mapped[str] = mapped_column(String(10), default="pending")  # pending | met | no_show
    no_show_ids: Mapped[list[int]] = mapped_column(JSONList, default=list)  # participants who did not come
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    match_id: Mapped[int | None] = mapped_column(ForeignKey("matches.id", ondelete="SET NULL"))
