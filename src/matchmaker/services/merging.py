"""Merging duplicate records and undoing a merge; marking records as "not duplicates".

A merge keeps one survivor. Every other record of the group is archived and points to the survivor
(``merged_records``); its pairings move to the survivor with their history. A pairing whose need (or achievement)
the survivor is already paired with cannot move (one pairing per need–achievement): its history moves onto the
survivor's pairing and the row itself is kept, column by column, in the merge's journal. Audit entries of the copies
move to the survivor. The journal records every row touched, so an undo puts each one back exactly.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, inspect, select, update
from sqlalchemy.orm import Session

from matchmaker.errors import Conflict, NotFound, ValidationFailed, field_error
from matchmaker.kinds import SPECS
from matchmaker.models import AuditEntry, Match, MatchEvent, utcnow
from matchmaker.models.dedup import DuplicateCandidate, DuplicateMerge, MergedRecord
from matchmaker.services.access import Principal, require_staff
from matchmaker.services.audit import actor_of, audit
from matchmaker.services.duplicates import candidate_ids_touching, check_kind
from matchmaker.services.records import log_change

_DATETIME = "__datetime__"
_DATE = "__date__"
_DECIMAL = "__decimal__"


def _freeze(value: Any) -> Any:
    """A column value as JSON that thaws back to the same Python value."""
    if isinstance(value, datetime):
        return {_DATETIME: value.isoformat()}
    if isinstance(value, date):
        return {_DATE: value.isoformat()}
    if isinstance(value, Decimal):
        return {_DECIMAL: str(value)}
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        if _DATETIME in value:
            return datetime.fromisoformat(value[_DATETIME])
        if _DATE in value:
            return date.fromisoformat(value[_DATE])
        if _DECIMAL in value:
            return Decimal(value[_DECIMAL])
    return value


def _row_snapshot(match: Match) -> dict[str, Any]:
    return {c.key: _freeze(getattr(match, c.key)) for c in inspect(Match).column_attrs}


def _ids(kind: str, survivor_id: int, record_ids: list[int]) -> list[int]:
    if not record_ids:
        raise ValidationFailed("record_ids is empty", fields=[field_error("record_ids", "name at least one record")])
    if survivor_id in record_ids:
        raise ValidationFailed(
            "the survivor cannot be merged into itself",
            fields=[field_error("record_ids", f"{survivor_id} is the survivor_id")],
        )
    return sorted(set(record_ids))


def merge(
    session: Session, kind: str, survivor_id: int, record_ids: list[int], principal: Principal | None = None
) -> DuplicateMerge:
    """Archive ``record_ids`` into ``survivor_id``, moving their pairings, history and audit entries."""
    require_staff(principal, "merge duplicates")
    check_kind(kind)
    others = _ids(kind, survivor_id, record_ids)
    spec = SPECS[kind]
    model: Any = spec.model
    found = {r.id: r for r in session.scalars(select(model).where(model.id.in_([survivor_id, *others])))}
    missing = [i for i in [survivor_id, *others] if i not in found]
    if missing:
        raise NotFound(f"no {spec.noun} with id {', '.join(map(str, missing))}")
    pointed = set(
        session.scalars(
            select(MergedRecord.record_id).where(
                MergedRecord.kind == kind, MergedRecord.record_id.in_([survivor_id, *others])
            )
        )
    )
    if pointed:
        raise Conflict(f"{spec.noun} {', '.join(map(str, sorted(pointed)))} already merged into another record")
    fk = Match.achievement_id if kind == "achievements" else Match.demand_id
    partner = Match.demand_id if kind == "achievements" else Match.achievement_id
    journal: dict[str, Any] = {"records": [], "moved": [], "folded": [], "audit": [], "candidates": []}
    taken = {getattr(m, partner.key): m.id for m in session.scalars(select(Match).where(fk == survivor_id))}
    for rid in others:
        for match in session.scalars(select(Match).where(fk == rid).order_by(Match.id)):
            other_side = getattr(match, partner.key)
            if other_side in taken:  # the survivor is already paired with it: fold this pairing into that one
                into = taken[other_side]
                events = list(session.scalars(select(MatchEvent.id).where(MatchEvent.match_id == match.id)))
                audits = list(
                    session.scalars(
                        select(AuditEntry.id).where(AuditEntry.entity == "match", AuditEntry.entity_id == match.id)
                    )
                )
                session.execute(update(MatchEvent).where(MatchEvent.id.in_(events)).values(match_id=into))
                session.execute(update(AuditEntry).where(AuditEntry.id.in_(audits)).values(entity_id=into))
                journal["folded"].append({"row": _row_snapshot(match), "into": into, "events": events, "audit": audits})
                session.delete(match)
            else:  # Core update: the pairing's own updated_at stays as it was
                session.execute(
                    update(Match)
                    .where(Match.id == match.id)
                    .values({fk.key: survivor_id, "updated_at": match.updated_at})
                )
                taken[other_side] = match.id
                journal["moved"].append({"id": match.id, "from": rid, "updated_at": _freeze(match.updated_at)})
        audits = list(
            session.scalars(select(AuditEntry.id).where(AuditEntry.entity == spec.noun, AuditEntry.entity_id == rid))
        )
        session.execute(update(AuditEntry).where(AuditEntry.id.in_(audits)).values(entity_id=survivor_id))
        journal["audit"].append({"from": rid, "ids": audits})
        record = found[rid]
        journal["records"].append({"id": rid, "status": record.status, "updated_at": _freeze(record.updated_at)})
        record.status = "archived"
    group = {survivor_id, *others}
    for cand in candidate_ids_touching(session, kind, list(group)):
        if cand.record_a in group and cand.record_b in group:
            journal["candidates"].append({"id": cand.id, "status": cand.status})
            cand.status, cand.decided_by, cand.decided_at = "merged", actor_of(session), utcnow()
    row = DuplicateMerge(
        kind=kind,
        survivor_id=survivor_id,
        merged_ids=others,
        journal=journal,
        status="applied",
        actor_id=actor_of(session),
    )
    session.add(row)
    session.flush()
    for rid in others:
        session.add(MergedRecord(kind=kind, record_id=rid, survivor_id=survivor_id, merge_id=row.id))
        log_change(session, spec.kind, rid, "upsert")
    session.flush()
    # Archiving is this merge's doing, not an edit: keep the copies' own last-change time (staleness reads it).
    for entry in journal["records"]:
        session.execute(update(model).where(model.id == entry["id"]).values(updated_at=_thaw(entry["updated_at"])))
    audit(session, spec.noun, survivor_id, "merge", {"merge_id": row.id, "merged": others})
    session.flush()
    return row


def undo(session: Session, merge_id: int, principal: Principal | None = None) -> DuplicateMerge:
    """Put every row a merge touched back as it was; the archived copies are live again."""
    require_staff(principal, "undo merges")
    row = session.get(DuplicateMerge, merge_id)
    if row is None:
        raise NotFound(f"no merge with id {merge_id}")
    if row.status != "applied":
        raise Conflict(f"merge {merge_id} was already undone")
    later = session.scalar(
        select(DuplicateMerge.id).where(
            DuplicateMerge.kind == row.kind,
            DuplicateMerge.status == "applied",
            DuplicateMerge.id > row.id,
            DuplicateMerge.survivor_id.in_([row.survivor_id, *row.merged_ids]),
        )
    )
    if later is not None:
        raise Conflict(f"undo merge {later} first: it merged records of this one again")
    spec = SPECS[row.kind]
    model: Any = spec.model
    fk = "achievement_id" if row.kind == "achievements" else "demand_id"
    journal = row.journal
    for entry in journal["moved"]:
        values = {fk: entry["from"], "updated_at": _thaw(entry["updated_at"])}
        session.execute(update(Match).where(Match.id == entry["id"]).values(values))
    session.flush()
    for entry in journal["folded"]:
        session.add(Match(**{k: _thaw(v) for k, v in entry["row"].items()}))
        session.flush()
        if entry["events"]:
            session.execute(
                update(MatchEvent).where(MatchEvent.id.in_(entry["events"])).values(match_id=entry["row"]["id"])
            )
        if entry["audit"]:
            session.execute(
                update(AuditEntry).where(AuditEntry.id.in_(entry["audit"])).values(entity_id=entry["row"]["id"])
            )
    for entry in journal["audit"]:
        if entry["ids"]:
            session.execute(update(AuditEntry).where(AuditEntry.id.in_(entry["ids"])).values(entity_id=entry["from"]))
    for entry in journal["records"]:
        session.execute(
            update(model)
            .where(model.id == entry["id"])
            .values(status=entry["status"], updated_at=_thaw(entry["updated_at"]))
        )
        log_change(session, spec.kind, entry["id"], "upsert")
    for entry in journal["candidates"]:
        cand = session.get(DuplicateCandidate, entry["id"])
        if cand is not None:
            cand.status, cand.decided_by, cand.decided_at = entry["status"], None, None
    session.execute(delete(MergedRecord).where(MergedRecord.merge_id == row.id))
    row.status, row.undone_by, row.undone_at = "undone", actor_of(session), utcnow()
    audit(session, spec.noun, row.survivor_id, "unmerge", {"merge_id": row.id, "restored": row.merged_ids})
    session.flush()
    session.expire_all()
    return row


def not_duplicates(
    session: Session, kind: str, record_ids: list[int], principal: Principal | None = None
) -> list[DuplicateCandidate]:
    """Mark every pair among ``record_ids`` as not duplicates: never proposed again."""
    require_staff(principal, "review duplicates")
    check_kind(kind)
    ids = sorted(set(record_ids))
    if len(ids) < 2:
        raise ValidationFailed("name at least two records", fields=[field_error("record_ids", "at least two ids")])
    model: Any = SPECS[kind].model
    found = set(session.scalars(select(model.id).where(model.id.in_(ids))))
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"no {SPECS[kind].noun} with id {', '.join(map(str, missing))}")
    existing = {
        (c.record_a, c.record_b): c
        for c in candidate_ids_touching(session, kind, ids)
        if c.record_a in found and c.record_b in found
    }
    out = []
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            cand = existing.get((a, b))
            if cand is None:
                cand = DuplicateCandidate(
                    kind=kind, record_a=a, record_b=b, probability=0.0, evidence={}, source="review"
                )
                session.add(cand)
            cand.status, cand.decided_by, cand.decided_at = "not_duplicate", actor_of(session), utcnow()
            out.append(cand)
    audit(session, SPECS[kind].noun, ids[0], "not_duplicates", {"records": ids})
    session.flush()
    return out


def list_merges(
    session: Session, kind: str | None, principal: Principal | None = None, limit: int = 50
) -> list[DuplicateMerge]:
    """The latest merges, newest first."""
    require_staff(principal, "review duplicates")
    stmt = select(DuplicateMerge).order_by(DuplicateMerge.id.desc()).limit(limit)
    if kind is not None:
        check_kind(kind)
        stmt = stmt.where(DuplicateMerge.kind == kind)
    return list(session.scalars(stmt))
