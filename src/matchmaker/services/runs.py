"""Matching runs: the matching list (供需对接清单) over all open needs, ranked in the background, stored as pairings,
and exported as a spreadsheet."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any, cast

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session, sessionmaker

from matchmaker.domain import DECIDED_STATUSES, MATCH_STATUS_LABELS
from matchmaker.errors import NotFound, ValidationFailed, field_error
from matchmaker.kinds import DEMANDS
from matchmaker.models import Achievement, Demand, Match, MatchingRun, utcnow
from matchmaker.schemas.matching import MatchFilters
from matchmaker.search.bands import NO_GOOD_ACHIEVEMENT, is_good
from matchmaker.search.documents import need_doc
from matchmaker.search.matcher import Query
from matchmaker.search.ranking import ConstraintPolicy, Ranked
from matchmaker.services.access import Principal, masking, require_staff
from matchmaker.services.duplicates import collapse_duplicates
from matchmaker.services.indexing import SearchService
from matchmaker.services.matching import check_k, demand_brief, index_filter
from matchmaker.services.staleness import stale_ids
from matchmaker.services.tables import TABLE_FORMATS, write_table

log = logging.getLogger("matchmaker.matching")


def create_run(
    session: Session,
    *,
    k: int,
    filters: MatchFilters,
    achievement_filters: MatchFilters,
    constraints: ConstraintPolicy,
    model: str,
    principal: Principal | None = None,
    skip_stale: bool = False,
) -> MatchingRun:
    """Record a queued run (the caller starts it after the commit); managers and admins only."""
    require_staff(principal, "start matching runs")
    check_k(k)
    index_filter(filters, "demands")
    index_filter(achievement_filters, "achievements")
    run = MatchingRun(
        status="queued",
        k=k,
        constraints=constraints,
        model=model,
        filters={
            "demands": filters.model_dump(),
            "achievements": achievement_filters.model_dump(),
            "skip_stale": skip_stale,
        },
    )
    session.add(run)
    session.flush()
    return run


def selected_needs(filters: MatchFilters) -> Select[Any]:
    """The open needs a run with these need filters ranks (chain and region), in id order."""
    stmt = select(Demand).where(Demand.status == DEMANDS.live_status).order_by(Demand.id)
    if filters.field:
        stmt = stmt.where(Demand.field.in_(filters.field))
    if filters.region:
        stmt = stmt.where(Demand.region.in_(filters.region))
    return stmt


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
        needs = list(session.scalars(selected_needs(need_filters)))
        skipped = stale_ids(session, "achievements") if run.filters.get("skip_stale") else set()
        if run.filters.get("skip_stale"):  # closed records are never ranked; stale ones on request
            stale_needs = stale_ids(session, "demands")
            needs = [n for n in needs if n.id not in stale_needs]
        run.total = len(needs)
        k, policy = run.k, cast(ConstraintPolicy, run.constraints)
        session.commit()
    try:
        search.sync()
        flt = index_filter(offer_filters, "achievements", exclude=sorted(skipped))
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
                k=2 * k + extra,  # room for the decided pairings and the duplicate copies dropped below
                flt=flt,
                policy=policy,
                today=today,
            )
            trimmed = [
                [r for r in rs if r.id not in decided.get(d.id, set())] for d, rs in zip(batch, ranked, strict=True)
            ]
            with session_factory() as s:
                return batch, collapse_duplicates(s, "achievements", trimmed, k)

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
    "置信度",
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
                match.explanation.get("band", ""),
                match.explanation.get("sentence", ""),
                violations,
                MATCH_STATUS_LABELS.get(match.status, match.status),
            ]
        )
    return rows


def unmatched_needs(session: Session, run_id: int) -> list[dict[str, Any]]:
    """The needs a run ranked none of whose pairings reached the 可能 band: where to look for new achievements.

    A need the run selected (open, within its filters) with no proposed pairing at all is listed too. Each entry
    has the need's brief and its best pairing (score, band, achievement title) when there is one.
    """
    run = get_run(session, run_id)
    stmt = selected_needs(MatchFilters(**run.filters.get("demands", {})))
    best: dict[int, tuple[float, str, str]] = {}
    pairs = session.execute(
        select(Match.demand_id, Match.score, Match.explanation, Achievement.title)
        .join(Achievement, Match.achievement_id == Achievement.id)
        .where(Match.run_id == run_id)
    )
    for demand_id, score, explanation, title in pairs:
        if demand_id not in best or score > best[demand_id][0]:
            best[demand_id] = (float(score), str((explanation or {}).get("band", "")), title)
    out = []
    for need in session.scalars(stmt):
        top = best.get(need.id)
        if top is not None and is_good(top[1]):
            continue
        out.append(
            {
                "demand": demand_brief(need),
                "best_score": round(top[0], 4) if top else None,
                "best_band": top[1] if top else None,
                "best_achievement": top[2] if top else None,
                "verdict": NO_GOOD_ACHIEVEMENT,
            }
        )
    return out


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
