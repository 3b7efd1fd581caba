"""What the schemas share: the one date-time format, the page of a list, and lists of enumeration values given as
query parameters or JSON (Traditional spellings accepted, stored in canonical Simplified)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from annotated_types import Interval
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from matchmaker.domain import normalize_chain, normalize_mode, normalize_region


def utc_iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` (SQLite hands stored timestamps back naive; they are stored in UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


UtcDateTime = Annotated[datetime, PlainSerializer(utc_iso, return_type=str, when_used="json")]
"""A moment, answered as ISO 8601 UTC with ``Z`` (``2026-12-02T05:30:00.123456Z``) by every route."""

MAX_DB_INT = 2**63 - 1
"""The largest integer a database column holds (SQLite and PostgreSQL bigint): a larger id or offset answers 422."""
Id = Annotated[int, Interval(ge=1, le=MAX_DB_INT)]
"""A record, pairing, run, user or token id in a path, a query or a body."""
Offset = Annotated[int, Interval(ge=0, le=MAX_DB_INT)]
"""How many items a page skips."""

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list, with the total number of matching records."""

    items: list[T]
    total: int
    limit: int
    offset: int


class Items(BaseModel, Generic[T]):
    """A short list returned whole (no paging)."""

    items: list[T]


def _each(normalize: Any) -> BeforeValidator:
    def validate(value: Any) -> list[str]:
        values = [] if value is None else [value] if isinstance(value, str) else list(value)
        return [normalize(v) for v in values]

    return BeforeValidator(validate)


ChainList = Annotated[list[str], _each(normalize_chain)]
"""Industrial chains (所属产业链), e.g. 新材料."""
RegionList = Annotated[list[str], _each(normalize_region)]
"""Regions: 北京, 天津, 河北, 其他."""
ModeList = Annotated[list[str], _each(normalize_mode)]
"""Transfer modes, e.g. 许可."""


class FieldProblem(BaseModel):
    """What is wrong with one field (imports add the row; a conflict may add the existing record's id)."""

    model_config = ConfigDict(extra="allow")

    field: str
    message: str


class ErrorBody(BaseModel):
    """Every error answer: a stable code, a sentence for people, and the fields at fault (some errors add details,
    e.g. ``allowed`` moves on a 409, ``report`` on a failed atomic import, ``retry_after`` on a 429)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{"error": "not_found", "detail": "demand 7 not found", "fields": []}]},
    )

    error: str = Field(description="stable code, e.g. not_found, validation_error, conflict, too_large")
    detail: str
    fields: list[FieldProblem]
