"""Request and response models of the review workflow: pairings, their changes and history, and the statistics."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from matchmaker.domain import MatchStatus, RejectReason
from matchmaker.schemas.common import Id, UtcDateTime
from matchmaker.schemas.matching import AchievementBrief, DemandBrief


class Note(BaseModel):
    """A manager's note on a pairing."""

    at: UtcDateTime
    by: int | None
    text: str


class Pairing(BaseModel):
    """A need–achievement pairing as the caller may see it, with the moves allowed from its status."""

    id: int
    status: str
    rank: int
    score: float
    run_id: Id | None
    assignee_id: Id | None
    reject_reason: str | None
    disclosed: bool
    notes: list[Note]
    explanation: dict[str, Any]
    demand: DemandBrief
    achievement: AchievementBrief
    allowed_moves: list[str]
    created_at: UtcDateTime | None
    updated_at: UtcDateTime | None
    status_changed_at: UtcDateTime | None


class MatchChange(BaseModel):
    """What to change on a pairing; every field is optional."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"status": "shortlisted", "assignee_id": 3, "note": "已电话联系企业，需求仍有效"},
                {"status": "rejected", "reject_reason": "immature", "note": "成熟度不足，企业要求中试验证"},
            ]
        },
    )

    status: MatchStatus | None = None
    reject_reason: RejectReason | None = None
    assignee_id: Id | None = None
    note: str | None = Field(default=None, max_length=2000)
    disclosed: bool | None = Field(
        default=None, description="show a confidential need's enterprise to the institution of this pairing"
    )


class HistoryEvent(BaseModel):
    """One move of a pairing."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_: str | None = Field(alias="from")
    to: str
    reason: str | None
    note: str | None
    actor_id: Id | None
    at: UtcDateTime


class Period(BaseModel):
    """The creation period of the pairings counted."""

    since: UtcDateTime | None
    until: UtcDateTime | None


class FunnelStage(BaseModel):
    """How many pairings reached a stage, and the share of the previous stage's."""

    stage: str
    count: int
    conversion_from_previous: float | None


class StageTime(BaseModel):
    """Hours spent in a stage by the pairings that left it."""

    left: int
    median_hours: float
    mean_hours: float


class ManagerFigures(BaseModel):
    """The pairings assigned to one manager, by status."""

    user_id: Id
    email: str | None
    by_status: dict[str, int]
    total: int


class ScoreBand(BaseModel):
    """Managers' decisions on the pairings of one score band."""

    band: str
    accepted: int
    rejected: int
    accept_rate: float


class Stats(BaseModel):
    """Figures for managers."""

    period: Period
    total: int
    by_status: dict[str, int]
    funnel: list[FunnelStage]
    time_in_stage: dict[str, StageTime]
    by_chain: dict[str, int]
    by_need_kind: dict[str, int]
    landed_by_need_kind: dict[str, int]
    region_flows: dict[str, int]
    landed_region_flows: dict[str, int]
    per_manager: list[ManagerFigures]
    decisions_by_score_band: list[ScoreBand]
