"""Matching on demand: ranked pairings for one record or a free text, with the briefs shown beside them. The matching
list over all open needs (runs and their export) is :mod:`matchmaker.services.runs`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Row, Select, Table, bindparam, select
from sqlalchemy.orm import Session

from matchmaker.errors import Conflict, NotFound, TooLarge, ValidationFailed, field_error
from matchmaker.kinds import SPECS, Kind
from matchmaker.models import Achievement, Demand
from matchmaker.schemas.matching import MAX_QUERY_CHARS, MatchFilters
from matchmaker.search.documents import DOC_FIELDS, document
from matchmaker.search.filters import Filter
from matchmaker.search.matcher import Query
from matchmaker.search.ranking import ConstraintPolicy, Ranked
from matchmaker.services.access import NO_MASKING, Principal, masking, may_write, require_role
from matchmaker.services.indexing import SearchService

log = logging.getLogger("matchmaker.matching")


def index_filter(filters: MatchFilters | None, target: Kind, exclude: Sequence[int] = ()) -> Filter:
    """The index filter: these conditions plus the target list's live status; 422 when trl_min > trl_max."""
    filters = filters or MatchFilters()
    if filters.trl_min is not None and filters.trl_max is not None and filters.trl_min > filters.trl_max:
        raise ValidationFailed("trl_min is greater than trl_max", fields=[field_error("trl_min", "> trl_max")])
    return Filter(
        fields=tuple(filters.field),
        regions=tuple(filters.region),
        statuses=(SPECS[target].live_status,),
        trl_min=filters.trl_min,
        trl_max=filters.trl_max,
        modes=tuple(filters.modes),
        exclude_ids=tuple(exclude),
    )


def achievement_brief(a: Achievement | Row[Any]) -> dict[str, Any]:
    """The achievement fields shown beside a ranked pairing (from the record or a row of its brief columns)."""
    return {
        "id": a.id,
        "external_id": a.external_id,
        "title": a.title,
        "field": a.field,
        "region": a.region,
        "owner": a.owner,
        "trl": a.trl,
        "transfer_modes": a.transfer_modes,
        "price_wan": float(a.price_wan) if a.price_wan is not None else None,
        "language": a.language,
    }


def demand_brief(d: Demand | Row[Any]) -> dict[str, Any]:
    """The need fields shown beside a ranked pairing (from the record or a row of its brief columns)."""
    return {
        "id": d.id,
        "external_id": d.external_id,
        "title": d.title,
        "field": d.field,
        "region": d.region,
        "enterprise": d.enterprise,
        "min_trl": d.min_trl,
        "preferred_modes": d.preferred_modes,
        "budget_wan": float(d.budget_wan) if d.budget_wan is not None else None,
        "deadline": d.deadline,
        "confidential": d.confidential,
        "bounty_wan": float(d.bounty_wan) if d.bounty_wan is not None else None,
        "language": d.language,
    }


def _select_by_id(kind: Kind, columns: Sequence[str], *, many: bool) -> Select[Any]:
    """The named columns of one record (bind ``id``) or of several (bind ``ids``, a list)."""
    table: Table = SPECS[kind].model.__table__  # type: ignore[assignment]
    where = table.c.id.in_(bindparam("ids", expanding=True)) if many else table.c.id == bindparam("id")
    return select(*(table.c[name] for name in columns)).where(where)


# Core statements built once: every match request reads its source record and hydrates a ranked list, and loading
# full ORM objects (every column, identity map, instrumentation) cost several times what these columns do.
_BRIEFS: dict[str, Select[Any]] = {k: _select_by_id(s.kind, s.brief_columns, many=True) for k, s in SPECS.items()}
_SOURCES: dict[str, Select[Any]] = {
    k: _select_by_id(s.kind, (*DOC_FIELDS[s.kind], "org_id"), many=False) for k, s in SPECS.items()
}
_BRIEF_OF: dict[str, Callable[[Any], dict[str, Any]]] = {"achievements": achievement_brief, "demands": demand_brief}


def _hydrate(
    session: Session, target: Kind, ranked: list[Ranked], principal: Principal | None = None
) -> list[dict[str, Any]]:
    ids = [r.id for r in ranked]
    rows = {row.id: row for row in session.execute(_BRIEFS[target], {"ids": ids}).all()} if ids else {}
    spec = SPECS[target]
    masks = masking(session, principal, list(rows)) if target == "demands" else NO_MASKING
    brief_of = _BRIEF_OF[target]
    items: list[dict[str, Any]] = []
    for r in ranked:
        row = rows.get(r.id)
        if row is None:  # deleted after the index saw it; the follower drops it on its next pass
            continue
        brief = masks.apply(row, brief_of(row))
        items.append(
            {"rank": len(items) + 1, "score": round(r.score, 4), spec.item_key: brief, "explanation": r.explanation()}
        )
    return items


def check_k(k: int) -> None:
    if not 1 <= k <= 100:
        raise ValidationFailed("k must be between 1 and 100", fields=[field_error("k", "must be between 1 and 100")])


def match_record(
    session: Session,
    search: SearchService,
    source: Kind,
    record_id: int,
    *,
    k: int = 10,
    policy: ConstraintPolicy = "flag",
    filters: MatchFilters | None = None,
    today: date | None = None,
    principal: Principal | None = None,
) -> list[dict[str, Any]]:
    """Ranked pairings for one need (achievements) or one achievement (needs), for its own organisation or staff."""
    check_k(k)
    spec = SPECS[source]
    require_role(principal, (spec.writer,), f"rank pairings for {source}")
    row = session.execute(_SOURCES[source], {"id": record_id}).first()
    if row is None or not may_write(principal, source, row.org_id):  # what get_record(..., write=True) decides
        raise NotFound(f"{spec.noun} {record_id} not found")
    if not search.ensure_current(source, record_id):
        raise Conflict(
            f"{spec.noun} {record_id} is not embedded yet; retry in a moment",
            fields=[field_error("id", "not yet in the index")],
        )
    target = spec.other_kind
    doc = document(source, row)
    flt = index_filter(filters, target)
    ranked = search.matcher.match(
        Query(text=doc.text, facts=doc.facts), target, k=k, flt=flt, policy=policy, today=today
    )
    return _hydrate(session, target, ranked, principal)


def search_text(
    session: Session,
    search: SearchService,
    text: str,
    target: Kind,
    *,
    k: int = 10,
    filters: MatchFilters | None = None,
    policy: ConstraintPolicy = "flag",
    principal: Principal | None = None,
) -> list[dict[str, Any]]:
    """Rank one list for a free text (a need typed during a phone call, say)."""
    check_k(k)
    if target == "demands":
        require_role(principal, ("institution",), "search the demand list")
    text = text.strip()
    if not text:
        raise ValidationFailed("text must not be empty", fields=[field_error("text", "empty")])
    if len(text) > MAX_QUERY_CHARS:
        raise TooLarge(
            f"text is longer than {MAX_QUERY_CHARS} characters",
            fields=[field_error("text", "too long")],
            limit=MAX_QUERY_CHARS,
        )
    flt = index_filter(filters, target)
    ranked = search.matcher.match(Query(text=text), target, k=k, flt=flt, policy=policy)
    return _hydrate(session, target, ranked, principal)
