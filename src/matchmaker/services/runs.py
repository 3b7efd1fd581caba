"""Matching runs: the matching list (供需对接清单) over all open needs, ranked in the background, stored as pairings,
and exported as a spreadsheet."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from matchmaker.domain import MATCH_STATUS_LABELS
from matchmaker.errors import Conflict, NotFound, ValidationFailed, field_error
from matchmaker.kinds import DEMANDS
from matchmaker.models import Achievement, Demand, Match, MatchingRun, utcnow
from matchmaker.schemas.matching import MatchFilters
from matchmaker.search.bands import NO_GOOD_ACHIEVEMENT, is_good
from matchmaker.search.ranking import ConstraintPolicy
from matchmaker.services.access import Principal, masking, require_staff
from matchmaker.services.matching import check_k, demand_brief, index_filter
from matchmaker.services.tables import TABLE_FORMATS, write_table

log = logging.getLogger("matchmaker.matching")

SCOPE = "matching"  # matching_runs.active of the one run that may be queued or running


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
    """Record a queued run (the caller starts it after the commit); managers and admins only.

    One run at a time: while a run is queued or running (it holds ``active``, a unique column), another answers
    409, since two runs would replace each other's proposals for the same needs."""
    require_staff(principal, "start matching runs")
    check_k(k)
    index_filter(filters, "demands")
    index_filter(achievement_filters, "achievements")
    running = session.scalar(select(MatchingRun.id).where(MatchingRun.active == SCOPE))
    if running is not None:
        raise Conflict(f"matching run {running} is still running; wait for it to finish (one run at a time)")
    run = MatchingRun(
        status="queued",
        active=SCOPE,
        heartbeat_at=utcnow(),
        k=k,
        constraints=constraints,
        model=model,
        filters={
            "demands": filters.model_dump(),
            "achievements": achievement_filters.model_dump(),
            "skip_stale": skip_stale,
        },
    )
    try:
        with session.begin_nested():  # the unique scope is the guarantee: a run started at the same moment loses
            session.add(run)
    except IntegrityError as exc:
        raise Conflict("another matching run is still running; wait for it to finish (one run at a time)") from exc
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


def export_run(
    session: Session, run_id: int, fmt: str, principal: Principal | None = None, *, partial: bool = False
) -> tuple[bytes, bool]:
    """The matching list of a run as XLSX or CSV with Chinese headers, and whether it is complete.

    A run not done (running, failed, interrupted) has an incomplete list: it answers 409 unless ``partial`` is
    asked for, and then the file says so in its sheet's name (and the download in its file name)."""
    if fmt not in TABLE_FORMATS:
        raise ValidationFailed("format must be xlsx or csv", fields=[field_error("format", f"unknown {fmt!r}")])
    run = get_run(session, run_id)
    complete = run.status == "done"
    if not complete and not partial:
        raise Conflict(
            f"matching run {run_id} is {run.status} (done {run.done}/{run.total} needs): its list is incomplete; "
            "ask for partial=true to export what it has so far"
        )
    sheet = "供需对接清单" if complete else f"供需对接清单（部分 {run.done}／{run.total}）"
    content = write_table(fmt, RUN_EXPORT_HEADERS, run_rows(session, run_id, principal), sheet=sheet)
    return content, complete


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
