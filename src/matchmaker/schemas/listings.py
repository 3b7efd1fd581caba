"""Pydantic models of the duplicate and stale listing routes (api/duplicates.py, api/stale.py)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from matchmaker.schemas.common import Id, UtcDateTime

# ---------------------------------------------------------------------------------------------- duplicate listings
DupKind = Literal["achievements", "demands"]


class DuplicateRecordBrief(BaseModel):
    """One record of a candidate group, as a manager compares them."""

    id: int
    external_id: str | None
    title: str
    owner: str | None = Field(description="完成单位 of an achievement, 需求单位 of a need")
    field: str
    region: str
    status: str
    language: str
    updated_at: UtcDateTime


class DuplicatePairRead(BaseModel):
    """A candidate pair with its probability and the evidence behind it."""

    id: int
    a: int
    b: int
    probability: float
    evidence: dict[str, float] = Field(
        description="jaccard (character 3-grams), cosine (embeddings), numbers (figures shared), same_owner, "
        "other_owner, same_external_id, same_field"
    )
    source: str


class DuplicateGroupRead(BaseModel):
    """Records joined by open candidate pairs."""

    key: str
    kind: DupKind
    probability: float
    records: list[DuplicateRecordBrief]
    pairs: list[DuplicatePairRead]


class DuplicateGroupList(BaseModel):
    """Candidate groups, most probable first."""

    total: int
    items: list[DuplicateGroupRead]


class DuplicateScanRequest(BaseModel):
    """Which list to scan."""

    model_config = ConfigDict(extra="forbid")
    kind: DupKind


class DuplicateScanRead(BaseModel):
    """What a scan found."""

    kind: DupKind
    records: int
    pairs: int
    groups: int
    new_pairs: int


class MergeRequest(BaseModel):
    """Keep ``survivor_id``; archive ``record_ids`` into it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"kind": "achievements", "survivor_id": 12, "record_ids": [57, 90]}]},
    )
    kind: DupKind
    survivor_id: Id
    record_ids: list[Id] = Field(min_length=1, max_length=100)


class MergeRead(BaseModel):
    """A merge and what it moved."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    survivor_id: Id
    merged_ids: list[Id]
    status: str
    actor_id: Id | None
    created_at: UtcDateTime
    undone_at: UtcDateTime | None
    moved_pairings: int
    folded_pairings: int


class MergeList(BaseModel):
    """The latest merges."""

    items: list[MergeRead]


class NotDuplicatesRequest(BaseModel):
    """Records that are not duplicates of each other (every pair among them)."""

    model_config = ConfigDict(extra="forbid")
    kind: DupKind
    record_ids: list[Id] = Field(min_length=2, max_length=100)


class NotDuplicatesRead(BaseModel):
    """How many pairs were marked."""

    kind: DupKind
    pairs: int


# ---------------------------------------------------------------------------------------------- stale listings
class StaleRecordRead(BaseModel):
    """A record flagged stale: its owner is asked to confirm or close it before ``closes_at``."""

    kind: DupKind
    id: int
    external_id: str | None
    title: str
    owner: str | None
    updated_at: UtcDateTime
    deadline: date | None
    reason: Literal["deadline", "not_updated"]
    flagged_at: UtcDateTime
    closes_at: UtcDateTime


class StaleList(BaseModel):
    """Stale records the caller may act on (managers: all)."""

    items: list[StaleRecordRead]


class StaleConfirmRead(BaseModel):
    """A stale record confirmed as current."""

    kind: DupKind
    id: int
    updated_at: UtcDateTime


class StaleCloseRead(BaseModel):
    """A record closed by its owner."""

    kind: DupKind
    id: int
    status: str


class StalePass(BaseModel):
    """What one pass of the stale-listing job did in one list."""

    flagged: int
    cleared: int
    closed: int


class StaleCheckRead(BaseModel):
    """One pass of the stale-listing job, per list."""

    demands: StalePass
    achievements: StalePass
