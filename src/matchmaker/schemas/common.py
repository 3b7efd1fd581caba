"""What every response shares: the one date-time format and the page of a list."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, PlainSerializer


def utc_iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` (SQLite hands stored timestamps back naive; they are stored in UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


UtcDateTime = Annotated[datetime, PlainSerializer(utc_iso, return_type=str, when_used="json")]
"""A moment, answered as ISO 8601 UTC with ``Z`` (``2026-12-02T05:30:00.123456Z``) by every route."""

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
