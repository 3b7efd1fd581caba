"""Request and response models of matching: filters, ranked pairings, free-text search and matching runs."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from matchmaker.domain import normalise_chain, normalise_mode, normalise_region
from matchmaker.schemas.common import UtcDateTime
from matchmaker.search.ranking import ConstraintPolicy

MAX_QUERY_CHARS = 20_000
"""The longest free text a search accepts (longer: 413)."""


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


class MatchFilters(BaseModel):
    """Filters on the records being ranked; Traditional spellings of enumerations are accepted."""

    model_config = ConfigDict(extra="forbid")

    field: list[str] = Field(default_factory=list, description="industrial chains, e.g. 新材料")
    region: list[str] = Field(default_factory=list, description="regions: 北京, 天津, 河北, 其他")
    trl_min: int | None = Field(default=None, ge=1, le=9)
    trl_max: int | None = Field(default=None, ge=1, le=9)
    modes: list[str] = Field(default_factory=list, description="transfer modes, at least one offered/preferred")

    @field_validator("field", mode="before")
    @classmethod
    def _chains(cls, value: Any) -> Any:
        return [normalise_chain(v) for v in _as_list(value)]

    @field_validator("region", mode="before")
    @classmethod
    def _regions(cls, value: Any) -> Any:
        return [normalise_region(v) for v in _as_list(value)]

    @field_validator("modes", mode="before")
    @classmethod
    def _modes(cls, value: Any) -> Any:
        return [normalise_mode(v) for v in _as_list(value)]


class MatchParams(MatchFilters):
    """The query parameters of both match routes: how many, the constraint policy and the filters (an unknown
    parameter answers 422: a typo must not silently widen a filter)."""

    k: int = Field(default=10, ge=1, le=100, description="how many pairings (1–100)")
    constraints: ConstraintPolicy = Field(
        default="flag", description="flag: keep violators ranked down and marked; strict: drop"
    )


class AchievementBrief(BaseModel):
    """The achievement fields shown beside a ranked pairing."""

    id: int
    external_id: str | None
    title: str
    field: str
    region: str
    owner: str | None
    trl: int | None
    transfer_modes: list[str]
    price_wan: float | None
    language: str


class DemandBrief(BaseModel):
    """The need fields shown beside a ranked pairing (``enterprise`` null and ``enterprise_hidden`` true when the
    caller may not know a confidential need's enterprise)."""

    id: int
    external_id: str | None
    title: str
    field: str
    region: str
    enterprise: str | None
    min_trl: int | None
    preferred_modes: list[str]
    budget_wan: float | None
    deadline: date | None
    confidential: bool
    bounty_wan: float | None
    language: str
    enterprise_hidden: bool = False


class AchievementMatch(BaseModel):
    """An achievement ranked for a need or a text, with its explanation."""

    rank: int
    score: float
    achievement: AchievementBrief
    explanation: dict[str, Any]


class DemandMatch(BaseModel):
    """A need ranked for an achievement or a text, with its explanation."""

    rank: int
    score: float
    demand: DemandBrief
    explanation: dict[str, Any]


class AchievementMatches(BaseModel):
    """Achievements ranked for one need."""

    items: list[AchievementMatch]
    k: int
    constraints: ConstraintPolicy


class DemandMatches(BaseModel):
    """Open needs ranked for one achievement."""

    items: list[DemandMatch]
    k: int
    constraints: ConstraintPolicy


class SearchRequest(BaseModel):
    """A free-text search of one list."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "text": "注塑件表面有银纹，良品率只有85%",
                    "target": "achievements",
                    "k": 10,
                    "filters": {"region": ["北京", "河北"]},
                }
            ]
        },
    )

    text: str = Field(min_length=1, description=f"at most {MAX_QUERY_CHARS} characters (longer: 413)")
    target: Literal["achievements", "demands"] = "achievements"
    k: int = Field(default=10, ge=1, le=100)
    constraints: ConstraintPolicy = "flag"
    filters: MatchFilters = Field(default_factory=MatchFilters)


class SearchResult(BaseModel):
    """The records of one list ranked for a text."""

    items: list[AchievementMatch] | list[DemandMatch]
    k: int
    target: Literal["achievements", "demands"]


class RunRequest(BaseModel):
    """What a matching run ranks."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"k": 10, "filters": {"field": ["新材料"], "region": ["天津"]}, "constraints": "flag"}]
        },
    )

    k: int = Field(default=10, ge=1, le=100)
    filters: MatchFilters = Field(default_factory=MatchFilters, description="which open needs to rank")
    achievement_filters: MatchFilters = Field(
        default_factory=MatchFilters, description="which achievements may be proposed"
    )
    constraints: ConstraintPolicy = "flag"


class RunRead(BaseModel):
    """A matching run's progress."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str
    k: int
    constraints: str
    filters: dict[str, Any]
    total: int
    done: int
    proposed: int
    kept_decided: int
    progress: float
    model: str
    error: str | None
    created_at: UtcDateTime | None
    finished_at: UtcDateTime | None
