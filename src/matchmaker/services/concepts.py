"""Rules of the concept thesaurus: managers edit links; links are seeded from the starter file and learned from
accepted pairings; the matcher of every process follows the edits through the change log (kind ``concepts``)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from matchmaker.errors import Conflict, NotFound, ValidationFailed, field_error
from matchmaker.models import Achievement, Demand, Match
from matchmaker.models.concepts import ConceptLinkRow
from matchmaker.schemas.concepts import ConceptLinkCreate, ConceptLinkRead, ConceptLinkUpdate
from matchmaker.search.concepts import RELATION_LABELS, ConceptLink, Thesaurus, contains, load_links
from matchmaker.search.text import canonical
from matchmaker.services.access import Principal, require_staff
from matchmaker.services.audit import actor_of, audit
from matchmaker.services.records import log_change

CHANGE_KIND = "concepts"
ACCEPTED = ("shortlisted", "contacted", "meeting", "signed", "landed")
LEARNED_WEIGHT = 0.5
"""Learned links count half as much as written ones: a pairing a manager accepted is evidence, not a definition."""


def read(row: ConceptLinkRow) -> ConceptLinkRead:
    """The API form of a link."""
    return ConceptLinkRead.model_validate(
        {**{c: getattr(row, c) for c in ConceptLinkRead.model_fields if c != "relation_label"},
         "relation_label": RELATION_LABELS.get(row.relation, row.relation)}
    )  # fmt: skip


def _changed(session: Session, link_id: int, op: Literal["upsert", "delete"]) -> None:
    log_change(session, CHANGE_KIND, link_id, op)  # this process's matcher reloads the thesaurus when the call returns


def list_links(
    session: Session,
    *,
    q: str | None = None,
    relation: str | None = None,
    origin: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[ConceptLinkRead], int]:
    """Links filtered by a term (in source or target), relation and origin; newest first."""
    stmt = select(ConceptLinkRow)
    if q:
        pattern = f"%{q.strip()}%"
        stmt = stmt.where(or_(ConceptLinkRow.source.ilike(pattern), ConceptLinkRow.target.ilike(pattern)))
    if relation:
        stmt = stmt.where(ConceptLinkRow.relation == relation)
    if origin:
        stmt = stmt.where(ConceptLinkRow.origin == origin)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(ConceptLinkRow.id.desc()).limit(limit).offset(offset))
    return [read(r) for r in rows], total


def _get(session: Session, link_id: int) -> ConceptLinkRow:
    row = session.get(ConceptLinkRow, link_id)
    if row is None:
        raise NotFound(f"concept link {link_id} not found")
    return row


def _ensure_free(session: Session, source: str, relation: str, target: str, own_id: int | None = None) -> None:
    if source == target:
        raise ValidationFailed("source and target are the same term", fields=[field_error("target", "same as source")])
    existing = session.scalar(
        select(ConceptLinkRow.id).where(
            ConceptLinkRow.source == source, ConceptLinkRow.relation == relation, ConceptLinkRow.target == target
        )
    )
    if existing is not None and existing != own_id:
        raise Conflict(f"the link {source} —{relation}→ {target} exists already (id {existing})", existing_id=existing)


def create_link(
    session: Session, data: ConceptLinkCreate, principal: Principal | None, *, origin: str = "manager"
) -> ConceptLinkRead:
    """Add a link (managers and admins); 409 when the same link exists."""
    require_staff(principal, "edit the thesaurus")
    _ensure_free(session, data.source, data.relation, data.target)
    row = ConceptLinkRow(**data.model_dump(), origin=origin, created_by=actor_of(session))
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # a concurrent insert of the same link
        raise Conflict(f"the link {data.source} —{data.relation}→ {data.target} exists already") from exc
    audit(session, "concept_link", row.id, "create", data.model_dump())
    _changed(session, row.id, "upsert")
    return read(row)


def update_link(
    session: Session, link_id: int, data: ConceptLinkUpdate, principal: Principal | None
) -> ConceptLinkRead:
    """Change a link (managers and admins)."""
    require_staff(principal, "edit the thesaurus")
    row = _get(session, link_id)
    changes = data.model_dump(exclude_unset=True)
    if any(v is None for k, v in changes.items() if k != "field"):
        bad = next(k for k, v in changes.items() if v is None and k != "field")
        raise ValidationFailed(f"{bad} must not be null", fields=[field_error(bad, "null")])
    merged = {"source": row.source, "relation": row.relation, "target": row.target, **changes}
    _ensure_free(session, merged["source"], merged["relation"], merged["target"], own_id=row.id)
    diff: dict[str, Any] = {}
    for key, value in changes.items():
        if getattr(row, key) != value:
            diff[key] = [getattr(row, key), value]
            setattr(row, key, value)
    if diff:
        session.flush()
        audit(session, "concept_link", row.id, "update", diff)
        _changed(session, row.id, "upsert")
    return read(row)


def delete_link(session: Session, link_id: int, principal: Principal | None) -> None:
    """Remove a link (managers and admins)."""
    require_staff(principal, "edit the thesaurus")
    row = _get(session, link_id)
    audit(session, "concept_link", row.id, "delete", {"source": row.source, "relation": row.relation,
                                                       "target": row.target})  # fmt: skip
    session.delete(row)
    session.flush()
    _changed(session, link_id, "delete")


def load_file(session: Session, path: str | Path, *, origin: str = "starter") -> int:
    """Insert the links of a thesaurus file that are not stored yet; returns how many were added."""
    existing = {(r.source, r.relation, r.target) for r in session.execute(
        select(ConceptLinkRow.source, ConceptLinkRow.relation, ConceptLinkRow.target))}  # fmt: skip
    added = 0
    for link in load_links(path):
        key = (link.source, link.relation, link.target)
        if key in existing or link.source == link.target:
            continue
        existing.add(key)
        session.add(ConceptLinkRow(source=link.source, relation=link.relation, target=link.target,
                                   weight=link.weight, field=link.field, origin=origin))  # fmt: skip
        added += 1
    if added:
        session.flush()
        _changed(session, 0, "upsert")
    return added


def load_starter_if_empty(session: Session, path: str | Path) -> int:
    """Seed the thesaurus from the starter file when the table has no link at all (the first start)."""
    if session.scalar(select(func.count()).select_from(ConceptLinkRow)):
        return 0
    return load_file(session, path)


def thesaurus(session: Session) -> Thesaurus:
    """The stored links as the matcher's thesaurus."""
    rows = session.execute(
        select(ConceptLinkRow.source, ConceptLinkRow.relation, ConceptLinkRow.target, ConceptLinkRow.weight,
               ConceptLinkRow.field).order_by(ConceptLinkRow.id)
    )  # fmt: skip
    return Thesaurus(ConceptLink(s, r, t, w, f) for s, r, t, w, f in rows)  # type: ignore[arg-type]


def learn_from_pairings(
    session: Session, principal: Principal | None, *, min_support: int = 1
) -> list[ConceptLinkRead]:
    """Learn 症状→技术 links from accepted pairings (shortlisted or further, never rejected).

    For each accepted pairing, every keyword of the need that the achievement's text does not contain is linked to
    every keyword of the achievement that the need's text does not contain: the two sides named the same problem in
    words that never meet, which is exactly what the thesaurus is for. Pairs seen in at least ``min_support``
    accepted pairings become links of origin ``learned`` with weight :data:`LEARNED_WEIGHT`; existing links are kept.
    """
    require_staff(principal, "edit the thesaurus")
    rows = session.execute(
        select(Demand.title, Demand.keywords, Demand.description, Achievement.title, Achievement.keywords,
               Achievement.summary)
        .join(Match, Match.demand_id == Demand.id)
        .join(Achievement, Match.achievement_id == Achievement.id)
        .where(Match.status.in_(ACCEPTED))
    )  # fmt: skip
    support: Counter[tuple[str, str]] = Counter()
    for d_title, d_keywords, d_text, a_title, a_keywords, a_text in rows:
        need_text = canonical(f"{d_title}\n{d_text}")
        offer_text = canonical(f"{a_title}\n{a_text}")
        need_terms = [k for k in d_keywords or [] if k and not contains(offer_text, k)]
        offer_terms = [k for k in a_keywords or [] if k and not contains(need_text, k)]
        for s in dict.fromkeys(need_terms):
            for t in dict.fromkeys(offer_terms):
                if s != t:
                    support[(s[:100], t[:100])] += 1
    existing = {(r.source, r.target) for r in session.execute(
        select(ConceptLinkRow.source, ConceptLinkRow.target))}  # fmt: skip
    added: list[ConceptLinkRow] = []
    for (source, target), count in sorted(support.items()):
        if count < min_support or (source, target) in existing:
            continue
        row = ConceptLinkRow(source=source, relation="symptom", target=target, weight=LEARNED_WEIGHT,
                             origin="learned", created_by=actor_of(session))  # fmt: skip
        session.add(row)
        added.append(row)
    if added:
        session.flush()
        for row in added:
            audit(session, "concept_link", row.id, "learn", {"source": row.source, "target": row.target})
        _changed(session, added[0].id, "upsert")
    return [read(r) for r in added]
