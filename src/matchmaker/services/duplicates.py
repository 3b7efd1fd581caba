"""Duplicate listings: scan a list for candidate pairs, store them, show them as groups, check import rows, and
collapse ranked results to one record per group. Merging and undoing live in services/merging.py."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from matchmaker.errors import ValidationFailed, field_error
from matchmaker.kinds import SPECS, Kind
from matchmaker.models import Achievement, Demand, Embedding
from matchmaker.models.dedup import DuplicateCandidate, MergedRecord
from matchmaker.search.duplicates import DuplicateDetector, DupRecord, ScoredPair, duplicate_groups
from matchmaker.search.ranking import Ranked
from matchmaker.services.access import Principal, require_staff

KINDS = ("achievements", "demands")
LIVE = {kind: ("draft", spec.live_status) for kind, spec in SPECS.items()}  # drafts: copies are worth seeing early
ROW_ID_BASE = -1_000_000  # import rows get negative ids in the detector: never equal to a record id


def check_kind(kind: str) -> None:
    """422 naming the field unless ``kind`` is a list."""
    if kind not in KINDS:
        raise ValidationFailed(
            f"kind must be one of {', '.join(KINDS)}", fields=[field_error("kind", f"unknown list {kind!r}")]
        )


def _model(kind: str) -> Any:
    return Achievement if kind == "achievements" else Demand


def _owner_of(kind: str, values: Any) -> str | None:
    return getattr(values, SPECS[kind].org_column)


def _body_of(kind: str, values: Any) -> str:
    return str(values.summary if kind == "achievements" else values.description)


def load_records(
    session: Session, kind: str, model_name: str | None, *, ids: Sequence[int] | None = None
) -> list[DupRecord]:
    """The live records of a list as the detector sees them, with their cached vectors where the hash matches."""
    model = _model(kind)
    owner = model.owner if model is Achievement else model.enterprise
    body = model.summary if model is Achievement else model.description
    stmt = select(
        model.id,
        model.title,
        body.label("body"),
        owner.label("owner"),
        model.external_id,
        model.field,
        model.content_hash,
    ).where(model.status.in_(LIVE[kind]))
    if ids is not None:
        stmt = stmt.where(model.id.in_(list(ids)))
    rows = session.execute(stmt.order_by(model.id)).all()
    vectors: dict[int, np.ndarray] = {}
    if model_name:
        hashes = {r.id: r.content_hash for r in rows}
        vstmt = select(Embedding.record_id, Embedding.content_hash, Embedding.vector).where(
            Embedding.kind == kind, Embedding.model == model_name
        )
        for rid, chash, blob in session.execute(vstmt):
            if hashes.get(rid) == chash:
                vectors[rid] = np.frombuffer(blob, dtype=np.float32)
    return [DupRecord(r.id, r.title, r.body, r.owner, r.external_id, r.field, vectors.get(r.id)) for r in rows]


def decided_pairs(session: Session, kind: str) -> set[tuple[int, int]]:
    """Pairs a manager already decided (not duplicates, or merged): never proposed again."""
    stmt = select(DuplicateCandidate.record_a, DuplicateCandidate.record_b).where(
        DuplicateCandidate.kind == kind, DuplicateCandidate.status != "open"
    )
    return {(a, b) for a, b in session.execute(stmt)}


def store_pairs(
    session: Session, kind: str, pairs: Iterable[ScoredPair], *, source: str, batch_id: int | None = None
) -> int:
    """Insert or refresh open candidate pairs; decided pairs are left alone. Returns how many are new.

    In bulk — one read of the list's pairs, one multi-row insert, one update by primary key — since a scan of a large
    list stores hundreds of thousands of pairs (one ORM object each took minutes)."""
    by_key = {(p.a, p.b): p for p in pairs if p.a > 0 and p.b > 0}
    if not by_key:
        return 0
    stmt = select(
        DuplicateCandidate.id, DuplicateCandidate.record_a, DuplicateCandidate.record_b, DuplicateCandidate.status
    ).where(DuplicateCandidate.kind == kind)
    existing = {(a, b): (cid, status) for cid, a, b, status in session.execute(stmt)}
    new, refreshed = [], []
    for key, p in by_key.items():
        hit = existing.get(key)
        values = {"probability": p.probability, "evidence": p.evidence()}
        if hit is None:
            new.append(
                {"kind": kind, "record_a": p.a, "record_b": p.b, "source": source, "import_batch_id": batch_id}
                | values
                | {"status": "open"}
            )
        elif hit[1] == "open":
            refreshed.append({"id": hit[0]} | values)
    if new:
        session.execute(insert(DuplicateCandidate), new)
    if refreshed:
        session.execute(update(DuplicateCandidate), refreshed)
    return len(new)


@dataclass
class ScanResult:
    """What one scan of a list found."""

    kind: str
    records: int
    pairs: int
    groups: int
    new_pairs: int


def scan(
    session: Session, kind: str, model_name: str | None, principal: Principal | None = None, *, workers: int = 1
) -> ScanResult:
    """Find every probable duplicate pair of a list and store the ones nobody decided yet; ``workers`` processes
    prepare the records (and FAISS threads search) — the command line uses every core, a server request one."""
    require_staff(principal, "scan for duplicates")
    check_kind(kind)
    records = load_records(session, kind, model_name)
    detector = DuplicateDetector(workers=workers)
    detector.add(records)
    decided = decided_pairs(session, kind)
    pairs = [p for p in detector.scan() if (p.a, p.b) not in decided]
    new = store_pairs(session, kind, pairs, source="scan")
    return ScanResult(kind, len(records), len(pairs), len(duplicate_groups(pairs)), new)


# ---------------------------------------------------------------------------------------------------- review lists


def _brief(kind: str, record: Any) -> dict[str, Any]:
    return {
        "id": record.id,
        "external_id": record.external_id,
        "title": record.title,
        "owner": _owner_of(kind, record),
        "field": record.field,
        "region": record.region,
        "status": record.status,
        "language": record.language,
        "updated_at": record.updated_at,
    }


def open_groups(session: Session, kind: str) -> tuple[list[list[int]], list[DuplicateCandidate]]:
    """Groups of live records joined by open candidate pairs, with those pairs."""
    model = _model(kind)
    live = select(model.id).where(model.status.in_(LIVE[kind]))
    cands = list(
        session.scalars(
            select(DuplicateCandidate).where(
                DuplicateCandidate.kind == kind,
                DuplicateCandidate.status == "open",
                DuplicateCandidate.record_a.in_(live),
                DuplicateCandidate.record_b.in_(live),
            )
        )
    )
    return duplicate_groups([(c.record_a, c.record_b) for c in cands]), cands


def list_groups(
    session: Session, kind: str, principal: Principal | None, *, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """Candidate groups for review, most probable first: records, pairs with their evidence."""
    require_staff(principal, "review duplicates")
    check_kind(kind)
    groups, cands = open_groups(session, kind)
    by_group: dict[int, list[DuplicateCandidate]] = {}
    where = {rid: g[0] for g in groups for rid in g}
    for c in cands:
        by_group.setdefault(where[c.record_a], []).append(c)
    ordered = sorted(groups, key=lambda g: (-max(c.probability for c in by_group[g[0]]), g[0]))
    page = ordered[offset : offset + limit]
    model = _model(kind)
    ids = [rid for g in page for rid in g]
    records = {r.id: r for r in session.scalars(select(model).where(model.id.in_(ids)))} if ids else {}
    items = [
        {
            "key": f"{kind}:{g[0]}",
            "kind": kind,
            "probability": round(max(c.probability for c in by_group[g[0]]), 4),
            "records": [_brief(kind, records[rid]) for rid in g],
            "pairs": [
                {
                    "id": c.id,
                    "a": c.record_a,
                    "b": c.record_b,
                    "probability": round(c.probability, 4),
                    "evidence": c.evidence,
                    "source": c.source,
                }
                for c in sorted(by_group[g[0]], key=lambda c: -c.probability)
            ],
        }
        for g in page
    ]
    return {"total": len(groups), "items": items}


def group_representatives(session: Session, kind: str, ids: Sequence[int]) -> dict[int, int]:
    """For ranked results: record id → the id of the group it belongs to (open candidate pairs among ``ids``)."""
    if len(ids) < 2:
        return {}
    stmt = select(DuplicateCandidate.record_a, DuplicateCandidate.record_b).where(
        DuplicateCandidate.kind == kind,
        DuplicateCandidate.status == "open",
        DuplicateCandidate.record_a.in_(list(ids)),
        DuplicateCandidate.record_b.in_(list(ids)),
    )
    return {rid: g[0] for g in duplicate_groups([(a, b) for a, b in session.execute(stmt)]) for rid in g}


def collapse_duplicates(session: Session, target: Kind, lists: list[list[Ranked]], k: int) -> list[list[Ranked]]:
    """One record per duplicate group in each ranked list (the best ranked of the group stays), cut to k."""
    reps = group_representatives(session, target, sorted({r.id for rs in lists for r in rs}))
    out = []
    for ranked in lists:
        seen: set[int] = set()
        kept = []
        for r in ranked:
            group = reps.get(r.id, r.id)
            if group not in seen:
                seen.add(group)
                kept.append(r)
        out.append(kept[:k])
    return out


def merged_into(session: Session, kind: str, record_id: int) -> int | None:
    """The survivor an archived copy was merged into, if any."""
    return session.scalar(
        select(MergedRecord.survivor_id).where(MergedRecord.kind == kind, MergedRecord.record_id == record_id)
    )


def candidate_ids_touching(session: Session, kind: str, ids: Sequence[int]) -> list[DuplicateCandidate]:
    """Every candidate pair with at least one record among ``ids``."""
    return list(
        session.scalars(
            select(DuplicateCandidate).where(
                DuplicateCandidate.kind == kind,
                or_(DuplicateCandidate.record_a.in_(list(ids)), DuplicateCandidate.record_b.in_(list(ids))),
            )
        )
    )


# ---------------------------------------------------------------------------------------------------- imports


@dataclass
class ImportCheck:
    """Probable duplicates of the rows of one import file: per row, existing records and other rows."""

    kind: str
    rows: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # row number → duplicates
    pairs: list[tuple[int | None, int | None, int | None, int | None, ScoredPair]] = field(default_factory=list)

    def report(self) -> list[dict[str, Any]]:
        """The dry run's list: one entry per row with probable duplicates."""
        return [{"row": row, "duplicates": dups} for row, dups in sorted(self.rows.items())]


def check_import_rows(
    session: Session, kind: str, rows: Sequence[tuple[int, dict[str, Any], int | None]], model_name: str | None
) -> ImportCheck:
    """Probable duplicates of each row (number, validated values, the record it updates or None): among the live
    records (the one it updates excepted) and among the other rows of the file. Rows have no vector yet, so only
    the characters, the figures and the structured fields speak for them."""
    out = ImportCheck(kind)
    if not rows:
        return out
    records = load_records(session, kind, model_name)
    detector = DuplicateDetector()
    detector.add(records)
    body = "summary" if kind == "achievements" else "description"
    owner = "owner" if kind == "achievements" else "enterprise"
    row_records = [
        DupRecord(ROW_ID_BASE - n, v["title"], v[body], v.get(owner), v.get("external_id"), v.get("field"))
        for n, v, _ in rows
    ]
    updates = {ROW_ID_BASE - n: rid for n, _, rid in rows if rid is not None}
    for rec in row_records:
        for p in detector.check(rec):  # against the list (updates: not against the record they rewrite)
            other = p.a if p.b == rec.id else p.b
            if updates.get(rec.id) == other:
                continue
            _note(out, rec.id, other, p, updates)
    in_file = DuplicateDetector()
    in_file.add(row_records)
    for p in in_file.scan():
        _note(out, p.a, p.b, p, updates)
    return out


def _note(out: ImportCheck, a: int, b: int, p: ScoredPair, updates: dict[int, int]) -> None:
    def describe(x: int) -> tuple[int | None, int | None]:  # (row number, record id)
        return (ROW_ID_BASE - x, updates.get(x)) if x < 0 else (None, x)

    (row_a, rec_a), (row_b, rec_b) = describe(a), describe(b)
    out.pairs.append((row_a, rec_a, row_b, rec_b, p))
    for row, other_row, other_rec in ((row_a, row_b, rec_b), (row_b, row_a, rec_a)):
        if row is not None:
            entry = {"probability": round(p.probability, 4), "evidence": p.evidence()}
            entry.update({"record_id": other_rec} if other_row is None else {"row": other_row})
            out.rows.setdefault(row, []).append(entry)


def link_import_candidates(session: Session, check: ImportCheck, ids_by_row: dict[int, int], batch_id: int) -> int:
    """After the real import: store every probable duplicate pair found in the file as an open candidate."""
    pairs = []
    for row_a, rec_a, row_b, rec_b, p in check.pairs:
        a = rec_a if row_a is None else ids_by_row.get(row_a, rec_a)
        b = rec_b if row_b is None else ids_by_row.get(row_b, rec_b)
        if a is None or b is None or a == b:
            continue
        lo, hi = sorted((a, b))
        pairs.append(ScoredPair(lo, hi, p.probability, True, p.features))
    decided = decided_pairs(session, check.kind)
    return store_pairs(
        session, check.kind, [p for p in pairs if (p.a, p.b) not in decided], source="import", batch_id=batch_id
    )
