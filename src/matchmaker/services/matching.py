"""Rules of matching: ranked pairings for one record or a free text, and the matching list over all open needs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any, cast

from sqlalchemy import Row, Select, Table, bindparam, delete, select
from sqlalchemy.orm import Session, sessionmaker

from matchmaker.domain import DECIDED_STATUSES, MATCH_STATUS_LABELS
from matchmaker.errors import Conflict, NotFound, TooLarge, ValidationFailed, field_error
from matchmaker.kinds import DEMANDS, SPECS, Kind
from matchmaker.models import Achievement, Demand, Match, MatchingRun, utcnow
from matchmaker.schemas.matching import MAX_QUERY_CHARS, MatchFilters
from matchmaker.search.documents import DOC_FIELDS, document, need_doc
from matchmaker.search.filters import Filter
from matchmaker.search.matcher import Query
from matchmaker.search.ranking import ConstraintPolicy, Ranked
from matchmaker.services.access import NO_MASKING, Principal, masking, may_write, require_role, require_staff
from matchmaker.services.indexing import SearchService
from matchmaker.services.tables import TABLE_FORMATS, write_table

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


def _check_k(k: int) -> None:
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
    _check_k(k)
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
    _check_k(k)
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


# ------------------------------------------------------------------------------------------------ matching runs


def create_run(
    session: Session,
    *,
    k: int,
    filters: MatchFilters,
    achievement_filters: MatchFilters,
    constraints: ConstraintPolicy,
    model: str,
    principal: Principal | None = None,
) -> MatchingRun:
    """Record a queued run (the caller starts it after the commit); managers and admins only."""
    require_staff(principal, "start matching runs")
    _check_k(k)
    index_filter(filters, "demands")
    index_filter(achievement_filters, "achievements")
    run = MatchingRun(
        status="queued",
        k=k,
        constraints=constraints,
        model=model,
        filters={"demands": filters.model_dump(), "achievements": achievement_filters.model_dump()},
    )
    session.add(run)
    session.flush()
    return run


def get_run(session: Session, run_id: int) -> MatchingRun:
    """A run by id; 404 when there is none."""
    run = session.get(MatchingRun, run_id)
    if run is None:
        raise NotFound(f"matching run {run_id} not found")
    return run


def execute_run(
    session_factory: sessionmaker[Session],
    search: SearchService,
    run_id: int,
    *,
    batch_size: int = 128,
    workers: int = 1,
    today: date | None = None,
) -> None:
    """Rank achievements for every open need the run selects, in batches, and store the pairings.

    ``workers`` threads rank the batches. One by default: the ranking stage is Python, so threads take turns holding
    the GIL (benchmarks/matching_list.py, 10k needs × 100k achievements on 2 cores: 43.9 s on one thread, 52.4 s on
    two), and a run beside live API requests then leaves the second core to them.

    Pairings a manager has decided (any status but proposed) are left untouched and never proposed again; the
    run's proposals replace earlier undecided proposals for the same needs. Progress is committed per batch.
    """
    with session_factory() as session:
        run = get_run(session, run_id)
        run.status = "running"
        need_filters = MatchFilters(**run.filters.get("demands", {}))
        offer_filters = MatchFilters(**run.filters.get("achievements", {}))
        stmt = select(Demand).where(Demand.status == DEMANDS.live_status).order_by(Demand.id)
        if need_filters.field:
            stmt = stmt.where(Demand.field.in_(need_filters.field))
        if need_filters.region:
            stmt = stmt.where(Demand.region.in_(need_filters.region))
        needs = list(session.scalars(stmt))
        run.total = len(needs)
        k, policy = run.k, cast(ConstraintPolicy, run.constraints)
        session.commit()
    try:
        search.sync()
        flt = index_filter(offer_filters, "achievements")
        batches = [needs[i : i + batch_size] for i in range(0, len(needs), batch_size)]

        def rank_batch(batch: list[Demand]) -> tuple[list[Demand], list[list[Ranked]]]:
            with session_factory() as s:
                decided: dict[int, set[int]] = {}
                rows = s.execute(
                    select(Match.demand_id, Match.achievement_id).where(
                        Match.demand_id.in_([d.id for d in batch]), Match.status.in_(DECIDED_STATUSES)
                    )
                )
                for demand_id, achievement_id in rows:
                    decided.setdefault(demand_id, set()).add(achievement_id)
            docs = [need_doc(d) for d in batch]
            extra = max((len(v) for v in decided.values()), default=0)
            ranked = search.matcher.match_many(
                [Query(text=d.text, facts=d.facts) for d in docs],
                "achievements",
                k=k + extra,
                flt=flt,
                policy=policy,
                today=today,
            )
            trimmed = [
                [r for r in rs if r.id not in decided.get(d.id, set())][:k] for d, rs in zip(batch, ranked, strict=True)
            ]
            return batch, trimmed

        with ThreadPoolExecutor(max_workers=workers) as pool:
            for batch, ranked in pool.map(rank_batch, batches):
                _store_batch(session_factory, run_id, batch, ranked)
        with session_factory() as session:
            run = get_run(session, run_id)
            run.status = "done"
            run.finished_at = utcnow()
            session.commit()
    except Exception as exc:
        log.exception("matching run %s failed", run_id)
        with session_factory() as session:
            run = get_run(session, run_id)
            run.status = "failed"
            run.error = f"{exc.__class__.__name__}: {exc}"
            run.finished_at = utcnow()
            session.commit()
        raise


def _store_batch(
    session_factory: sessionmaker[Session], run_id: int, needs: list[Demand], ranked: list[list[Ranked]]
) -> None:
    with session_factory() as session:
        need_ids = [d.id for d in needs]
        existing = {
            (m.demand_id, m.achievement_id): m
            for m in session.scalars(select(Match).where(Match.demand_id.in_(need_ids)))
        }
        proposed = 0
        kept = sum(1 for m in existing.values() if m.status != "proposed")  # decided pairings, left untouched
        keep_ids: set[int] = set()
        for need, results in zip(needs, ranked, strict=True):
            for position, r in enumerate(results, start=1):
                match = existing.get((need.id, r.id))
                if match is None:
                    match = Match(demand_id=need.id, achievement_id=r.id, status="proposed")
                    session.add(match)
                elif match.status != "proposed":
                    continue
                match.run_id, match.rank, match.score = run_id, position, float(r.score)
                match.explanation = r.explanation()
                proposed += 1
                if match.id is not None:
                    keep_ids.add(match.id)
        stale = [m.id for m in existing.values() if m.status == "proposed" and m.id not in keep_ids]
        if stale:
            session.execute(delete(Match).where(Match.id.in_(stale)))
        run = get_run(session, run_id)
        run.done += len(needs)
        run.proposed += proposed
        run.kept += kept
        session.commit()


RUN_EXPORT_HEADERS = [
    "需求编号",
    "需求名称",
    "需求单位",
    "需求地区",
    "排名",
    "成果编号",
    "成果名称",
    "完成单位",
    "成果地区",
    "技术成熟度",
    "合作方式",
    "参考价格(万元)",
    "得分",
    "推荐理由",
    "约束提示",
    "状态",
]


def run_rows(session: Session, run_id: int, principal: Principal | None = None) -> list[list[Any]]:
    """One row per pairing of a run, sorted by need then rank."""
    get_run(session, run_id)
    stmt = (
        select(Match, Demand, Achievement)
        .join(Demand, Match.demand_id == Demand.id)
        .join(Achievement, Match.achievement_id == Achievement.id)
        .where(Match.run_id == run_id)
        .order_by(Demand.id, Match.rank)
    )
    pairings = session.execute(stmt).all()
    masks = masking(session, principal, [need.id for _, need, _ in pairings])
    rows = []
    for match, need, offer in pairings:
        violations = "、".join(
            c["message"] for c in match.explanation.get("checks", []) if c.get("hard") and c.get("ok") is False
        )
        rows.append(
            [
                need.external_id or need.id,
                need.title,
                masks.apply(need, {"enterprise": need.enterprise})["enterprise"] or "",
                need.region,
                match.rank,
                offer.external_id or offer.id,
                offer.title,
                offer.owner or "",
                offer.region,
                offer.trl,
                "、".join(offer.transfer_modes or []),
                float(offer.price_wan) if offer.price_wan is not None else None,
                round(match.score, 4),
                match.explanation.get("sentence", ""),
                violations,
                MATCH_STATUS_LABELS.get(match.status, match.status),
            ]
        )
    return rows


def export_run(session: Session, run_id: int, fmt: str, principal: Principal | None = None) -> bytes:
    """The matching list of a run as XLSX or CSV with Chinese headers."""
    if fmt not in TABLE_FORMATS:
        raise ValidationFailed("format must be xlsx or csv", fields=[field_error("format", f"unknown {fmt!r}")])
    return write_table(fmt, RUN_EXPORT_HEADERS, run_rows(session, run_id, principal), sheet="供需对接清单")


def run_summary(run: MatchingRun) -> dict[str, Any]:
    """A run's progress as the API shows it."""
    return {
        "id": run.id,
        "status": run.status,
        "k": run.k,
        "constraints": run.constraints,
        "filters": run.filters,
        "total": run.total,
        "done": run.done,
        "proposed": run.proposed,
        "kept_decided": run.kept,
        "progress": round(run.done / run.total, 4) if run.total else (1.0 if run.status == "done" else 0.0),
        "model": run.model,
        "error": run.error,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
    }
