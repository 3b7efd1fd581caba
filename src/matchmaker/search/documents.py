"""Documents for the index: what the matcher knows of a record, built the same way for the service and the evaluation.

A record reaches the matcher as a :class:`Doc` (its embedded text, its filterable attributes and its ranking facts).
The service builds docs from ORM records or from Core rows of :data:`DOC_FIELDS`, the offline evaluation from JSON
lines; both go through :func:`offer_doc` / :func:`need_doc`, which read the attributes named by the
:class:`OfferSource` / :class:`NeedSource` protocols and nothing else (no ORM here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

from matchmaker.search.constraints import NeedFacts, OfferFacts
from matchmaker.search.filters import RecordAttrs

Kind = Literal["achievements", "demands"]
"""The two lists: the supply list (科技成果) and the demand list (技术需求)."""

__all__ = ["DOC_FIELDS", "Doc", "Kind", "NeedSource", "OfferSource", "document", "need_doc", "offer_doc", "record_text"]


@dataclass(frozen=True)
class Doc:
    """One record as the matcher sees it. `facts` is OfferFacts for achievements and NeedFacts for demands."""

    id: int
    text: str
    attrs: RecordAttrs
    facts: NeedFacts | OfferFacts
    updated: date | None = None


class _Source(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def keywords(self) -> Sequence[str] | None: ...
    @property
    def field(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def updated_at(self) -> datetime | None: ...


class OfferSource(_Source, Protocol):
    """What an achievement must offer to become a document (an ORM record, a Core row, an evaluation line)."""

    @property
    def summary(self) -> str: ...
    @property
    def trl(self) -> int | None: ...
    @property
    def transfer_modes(self) -> Sequence[str] | None: ...
    @property
    def price_wan(self) -> Decimal | float | None: ...


class NeedSource(_Source, Protocol):
    """What a need must offer to become a document."""

    @property
    def description(self) -> str: ...
    @property
    def min_trl(self) -> int | None: ...
    @property
    def preferred_modes(self) -> Sequence[str] | None: ...
    @property
    def budget_wan(self) -> Decimal | float | None: ...
    @property
    def deadline(self) -> date | None: ...
    @property
    def need_kind(self) -> str: ...


DOC_FIELDS: dict[Kind, tuple[str, ...]] = {
    "achievements": (
        "id", "title", "keywords", "summary", "field", "region", "status", "trl", "transfer_modes", "price_wan",
        "updated_at",
    ),
    "demands": (
        "id", "title", "keywords", "description", "field", "region", "status", "min_trl", "preferred_modes",
        "budget_wan", "deadline", "need_kind", "updated_at",
    ),
}  # fmt: skip
"""The attributes :func:`offer_doc` and :func:`need_doc` read (the columns a Core statement must select)."""


def record_text(title: str, keywords: Sequence[str] | None, body: str) -> str:
    """Title, keywords and body joined the way they are embedded (and hashed)."""
    parts = [title.strip()]
    if keywords:
        parts.append("；".join(k.strip() for k in keywords if k.strip()))
    parts.append(body.strip())
    return "\n".join(p for p in parts if p)


def _float(value: Decimal | float | None) -> float | None:
    return float(value) if value is not None else None


def _day(moment: datetime | None) -> date | None:
    return moment.date() if moment else None


def offer_doc(record: OfferSource) -> Doc:
    """The document of an achievement."""
    modes = frozenset(record.transfer_modes or [])
    return Doc(
        id=record.id,
        text=record_text(record.title, record.keywords, record.summary),
        attrs=RecordAttrs(field=record.field, region=record.region, status=record.status, trl=record.trl, modes=modes),
        facts=OfferFacts(
            field=record.field, region=record.region, trl=record.trl, modes=modes, price_wan=_float(record.price_wan)
        ),
        updated=_day(record.updated_at),
    )


def need_doc(record: NeedSource) -> Doc:
    """The document of a need."""
    modes = frozenset(record.preferred_modes or [])
    return Doc(
        id=record.id,
        text=record_text(record.title, record.keywords, record.description),
        attrs=RecordAttrs(
            field=record.field, region=record.region, status=record.status, trl=record.min_trl, modes=modes
        ),
        facts=NeedFacts(
            field=record.field,
            region=record.region,
            min_trl=record.min_trl,
            preferred_modes=modes,
            budget_wan=_float(record.budget_wan),
            deadline=record.deadline,
            scenario=record.need_kind == "应用场景",
        ),
        updated=_day(record.updated_at),
    )


def document(kind: Kind, record: Any) -> Doc:
    """The document of a record of either list (``record`` satisfies :class:`OfferSource` or :class:`NeedSource`)."""
    return offer_doc(record) if kind == "achievements" else need_doc(record)
