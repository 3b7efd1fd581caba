"""API schemas of matchmaking events (pydantic v2): what the /api/v1/events routes accept and answer."""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema, field_validator

from matchmaker.domain import normalize_chain
from matchmaker.schemas.common import Id, UtcDateTime
from matchmaker.schemas.queries import PageParams

EventKind = Literal["项目推介", "供需对接", "融资路演", "其他"]
EventStatus = Literal["draft", "registration", "scheduling", "published", "running", "finished"]
ParticipantRole = Literal["enterprise", "institution", "investor"]
ClockTime = Annotated[
    time,
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^\d{2}:\d{2}$", "examples": ["09:00"]}, mode="serialization"),
]
"""A local clock time of the event's day, answered as HH:MM (a JSON-Schema "time" would demand a UTC offset)."""


class TimeRange(BaseModel):
    """A break in the day, local time."""

    model_config = ConfigDict(extra="forbid")
    start: time
    end: time


class EventCreate(BaseModel):
    """A new event (created as 草稿 / draft)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "供需对接",
                    "title": "北京优秀科技资源进天津·新材料供需对接会",
                    "starts_on": "2026-12-10",
                    "ends_on": "2026-12-10",
                    "venue": "天开高教科创园 2 号楼报告厅",
                    "chains": ["新材料", "生物医药"],
                    "meeting_minutes": 20,
                    "day_start": "09:00",
                    "day_end": "12:00",
                    "breaks": [{"start": "10:20", "end": "10:40"}],
                    "tables": 10,
                    "default_cap": 6,
                }
            ]
        },
    )

    kind: EventKind
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    starts_on: date
    ends_on: date | None = None
    venue: str | None = Field(default=None, max_length=300)
    online_url: str | None = Field(default=None, max_length=500)
    chains: list[str] = Field(default_factory=list)
    meeting_minutes: int = Field(ge=5, le=240)
    day_start: time
    day_end: time
    breaks: list[TimeRange] = Field(default_factory=list, max_length=20)
    tables: int = Field(ge=1, le=500)
    default_cap: int = Field(default=8, ge=1, le=100)
    auto_accept: bool = False
    organiser_ids: list[Id] = Field(default_factory=list)
    registration_opens_at: UtcDateTime | None = None
    registration_closes_at: UtcDateTime | None = None

    @field_validator("chains", mode="before")
    @classmethod
    def _chains(cls, value: Any) -> Any:
        return [normalize_chain(v) for v in (value or [])]


class EventUpdate(BaseModel):
    """Changes to an event; slots and tables may change only while no meeting is scheduled."""

    model_config = ConfigDict(extra="forbid")

    kind: EventKind | None = None
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    starts_on: date | None = None
    ends_on: date | None = None
    venue: str | None = Field(default=None, max_length=300)
    online_url: str | None = Field(default=None, max_length=500)
    chains: list[str] | None = None
    meeting_minutes: int | None = Field(default=None, ge=5, le=240)
    day_start: time | None = None
    day_end: time | None = None
    breaks: list[TimeRange] | None = Field(default=None, max_length=20)
    tables: int | None = Field(default=None, ge=1, le=500)
    default_cap: int | None = Field(default=None, ge=1, le=100)
    auto_accept: bool | None = None
    organiser_ids: list[Id] | None = None
    registration_opens_at: UtcDateTime | None = None
    registration_closes_at: UtcDateTime | None = None

    @field_validator("chains", mode="before")
    @classmethod
    def _chains(cls, value: Any) -> Any:
        return None if value is None else [normalize_chain(v) for v in value]


class StatusChange(BaseModel):
    """Move an event to another status (英文代码或中文名称: registration 或 报名中)."""

    model_config = ConfigDict(extra="forbid")
    status: str = Field(min_length=1, max_length=20)


class Slot(BaseModel):
    index: int
    start: str
    end: str


class EventRead(BaseModel):
    id: int
    kind: str
    title: str
    description: str | None
    starts_on: date
    ends_on: date
    venue: str | None
    online_url: str | None
    chains: list[str]
    meeting_minutes: int
    day_start: ClockTime
    day_end: ClockTime
    breaks: list[dict[str, str]]
    slots: list[Slot]
    tables: int
    default_cap: int
    auto_accept: bool
    organiser_ids: list[Id]
    registration_opens_at: UtcDateTime | None
    registration_closes_at: UtcDateTime | None
    status: str
    status_label: str
    allowed_moves: list[str]
    scheduled_at: UtcDateTime | None


class EventList(BaseModel):
    items: list[EventRead]
    total: int


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    title: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)


class ParticipantCreate(BaseModel):
    """An organisation joining: staff name any organisation; a member registers its own."""

    model_config = ConfigDict(extra="forbid")
    organisation: str | None = Field(default=None, min_length=1, max_length=200, description="staff only")
    role: ParticipantRole | None = Field(default=None, description="staff only; members take their own role")
    people: list[Person] = Field(default_factory=list, max_length=20)
    demand_ids: list[Id] = Field(default_factory=list, max_length=50)
    achievement_ids: list[Id] = Field(default_factory=list, max_length=50)
    available_slots: list[int] | None = Field(default=None, description="slot indexes; omitted: every slot")
    cap: int | None = Field(default=None, ge=1, le=100)


class ParticipantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    people: list[Person] | None = Field(default=None, max_length=20)
    demand_ids: list[Id] | None = Field(default=None, max_length=50)
    achievement_ids: list[Id] | None = Field(default=None, max_length=50)
    available_slots: list[int] | None = None
    all_slots: bool | None = Field(default=None, description="true: available in every slot")
    cap: int | None = Field(default=None, ge=1, le=100)


class ParticipantRead(BaseModel):
    id: int
    event_id: Id
    org_id: Id
    organisation: str
    role: str
    role_label: str
    people: list[dict[str, Any]]
    demands: list[dict[str, Any]]
    achievements: list[dict[str, Any]]
    available_slots: list[int] | None
    cap: int


class ParticipantList(BaseModel):
    items: list[ParticipantRead]
    total: int


class RequestCreate(BaseModel):
    """A participant asks to meet another; staff add a meeting between any two participants."""

    model_config = ConfigDict(extra="forbid")
    with_participant_id: Id | None = Field(default=None, description="members: the participant to meet")
    first_participant_id: Id | None = Field(default=None, description="staff: one side")
    second_participant_id: Id | None = Field(default=None, description="staff: the other side")
    demand_id: Id | None = None
    achievement_id: Id | None = None
    note: str | None = Field(default=None, max_length=2000)


class ProposeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    per_need: int = Field(default=3, ge=1, le=20, description="meetings proposed per need at most")
    min_score: float = Field(default=0.0, ge=0, le=2)


class ProposeResult(BaseModel):
    proposed: int
    updated: int
    needs: int
    achievements: int


class Response(BaseModel):
    """Accept or decline a meeting request; staff may answer for one side (``side``: first or second)."""

    model_config = ConfigDict(extra="forbid")
    decision: Literal["accepted", "declined"]
    side: Literal["first", "second"] | None = None


class SideRead(BaseModel):
    participant_id: Id | None
    organisation: str
    role: str
    response: str
    asked: bool
    hidden: bool


class RequestRead(BaseModel):
    id: int
    event_id: Id
    origin: str
    status: str
    mutual: bool
    first: SideRead
    second: SideRead
    demand: dict[str, Any] | None
    achievement: dict[str, Any] | None
    score: float | None
    explanation: dict[str, Any]
    note: str | None
    meeting_id: Id | None


class RequestList(BaseModel):
    items: list[RequestRead]
    total: int


class ScheduleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time_limit_s: float = Field(default=8.0, ge=0.5, le=60)


class MeetingRead(BaseModel):
    id: int
    request_id: Id
    slot: int
    start: str
    end: str
    table: int
    pinned: bool
    attendance: str
    no_show_ids: list[Id]
    first: SideRead
    second: SideRead
    demand: dict[str, Any] | None
    achievement: dict[str, Any] | None
    score: float | None
    match_id: Id | None


class UnplacedRead(BaseModel):
    request_id: Id
    reason: str
    reason_label: str
    participant_id: Id | None


class ScheduleRead(BaseModel):
    event_id: Id
    status: str
    slots: list[Slot]
    tables: int
    meetings: list[MeetingRead]
    unplaced: list[UnplacedRead]
    report: dict[str, Any]


class MeetingChange(BaseModel):
    """Move or pin a meeting (a moved meeting is pinned unless ``pinned`` says otherwise)."""

    model_config = ConfigDict(extra="forbid")
    slot: int | None = Field(default=None, ge=0)
    table: int | None = Field(default=None, ge=1)
    pinned: bool | None = None


class CheckIn(BaseModel):
    """On the day: the meeting took place (met) or not (no_show, naming who did not come when known)."""

    model_config = ConfigDict(extra="forbid")
    attendance: Literal["met", "no_show"]
    no_show_participant_ids: list[Id] = Field(default_factory=list)


class AgendaItem(BaseModel):
    meeting_id: Id
    slot: int
    start: str
    end: str
    table: int
    counterpart: SideRead
    counterpart_people: list[dict[str, Any]]
    demand: dict[str, Any] | None
    achievement: dict[str, Any] | None
    reason: str | None
    attendance: str


class AgendaRead(BaseModel):
    event_id: Id
    title: str
    venue: str | None
    participant_id: Id
    organisation: str
    items: list[AgendaItem]


class ResultsRead(BaseModel):
    event_id: Id
    status: str
    meetings_scheduled: int
    meetings_held: int
    no_shows: int
    not_recorded: int
    pairings_created: int
    pairings_advanced: int
    pairings_signed: int
    pairings_landed: int
    skipped: list[dict[str, Any]]


class EventStatsRead(BaseModel):
    target_per_year: int
    events_per_year: list[dict[str, Any]]
    meetings_per_event: list[dict[str, Any]]
    meetings_held: int
    pairings_from_events: int
    signed_or_landed: int
    conversion_to_signed: float | None
    region_flows: list[dict[str, Any]]


class EventListParams(PageParams):
    """Filters of the event list; an unknown parameter answers 422."""

    model_config = ConfigDict(extra="forbid")
    status: str | None = Field(default=None, description="draft … finished, or 草稿 … 已结束")
    year: int | None = Field(default=None, ge=2000, le=2100)


class RequestListParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["pending", "accepted", "declined"] | None = None


class AgendaParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["json", "xlsx", "ics"] = "json"


class TablePlanParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["xlsx", "html"] = "xlsx"
