"""Rules of matching: ranked pairings for one record or a free text, and the matching list over all open needs."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any, Literal, cast

import openpyxl
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Row, Select, Table, bindparam, delete, select
from sqlalchemy.orm import Session, sessionmaker

from matchmaker.domain import normalise_chain, normalise_mode, normalise_region
from matchmaker.errors import Conflict, NotFound, TooLarge, ValidationFailed, field_error
from matchmaker.models import Achievement, Demand, Match, MatchingRun, utcnow
from matchmaker.search.filters import Filter
from matchmaker.search.matcher import Query, Target
from matchmaker.search.ranking import ConstraintPolicy, Ranked
from matchmaker.services.access import (
    WRITES,
    Principal,
    disclosed_demands,
    hides_enterprise,
    may_write,
    present_demand,
    require_role,
    require_staff,
)
from matchmaker.services.indexing import DOC_COLUMNS, SearchService, doc_from_row, to_doc
from matchmaker.services.records import ACHIEVEMENTS, DEMANDS
from matchmaker.services.safe_cells import csv_row, sheet_row

log = logging.getLogger("matchmaker.matching")

MAX_QUERY_CHARS = 20_000
DECIDED = ("shortlisted", "contacted", "meeting", "signed", "landed", "rejected")
ACTIVE_STATUS: dict[Target, str] = {"achievements": "active", "demands": "open"}


class MatchFilters(BaseModel):
    """Filters on the records being ranked; Traditional spellings of enumerations are accepted."""

    model_config = ConfigDict(extra="forbid")

    field: list[str] = Field(default_factory=list, description="industrial chains, e.g. 新材料")
    region: list[str] = Field(default_factory=list, description="regions: 北京, 天津, 河北, 其他")
    trl_min: int | None = Field(default=None, ge=1, le=9)
    trl_max: int | None = Field(default=None, ge=1, le=9)
    modes: list[str] = Field(default_factory=list, description="transfer modes, at least one offered/preferred")

    @field_validator("field", mode="before")
    @classmethod
    def _chains(cls, value: Any) -> Any:
        return [normalise_chain(v) for v in _as_list(value)]

    @field_validator("region", mode="before")
    @classmethod
    def _regions(cls, value: Any) -> Any:
        return [normalise_region(v) for v in _as_list(value)]

    @field_validator("modes", mode="before")
    @classmethod
    def _modes(cls, value: Any) -> Any:
        return [normalise_mode(v) for v in _as_list(value)]

    def to_filter(self, target: Target, exclude: Sequence[int] = ()) -> Filter:
        """The index filter: these conditions plus the target list's live status."""
        if self.trl_min is not None and self.trl_max is not None and self.trl_min > self.trl_max:
            raise ValidationFailed("trl_min is greater than trl_max", fields=[field_error("trl_min", "> trl_max")])
        return Filter(
            fields=tuple(self.field),
            regions=tuple(self.region),
            statuses=(ACTIVE_STATUS[target],),
            trl_min=self.trl_min,
            trl_max=self.trl_max,
            modes=tuple(self.modes),
            exclude_ids=tuple(exclude),
        )


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


BRIEF_COLUMNS: dict[Target, tuple[str, ...]] = {
    "achievements": (
        "id", "external_id", "title", "field", "region", "owner", "trl", "transfer_modes", "price_wan", "language",
    ),
    "demands": (
        "id", "external_id", "title", "field", "region", "enterprise", "min_trl", "preferred_modes", "budget_wan",
        "deadline", "confidential", "bounty_wan", "language",
    ),
}  # fmt: skip


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
        "deadline": d.deadline.isoformat() if d.deadline else None,
        "confidential": d.confidential,
        "bounty_wan": float(d.bounty_wan) if d.bounty_wan is not None else None,
        "language": d.language,
    }


def _select_by_id(kind: Target, columns: Sequence[str], *, many: bool) -> Select[Any]:
    """The named columns of one record (bind ``id``) or of several (bind ``ids``, a list)."""
    table: Table = (Achievement if kind == "achievements" else Demand).__table__  # type: ignore[assignment]
    where = table.c.id.in_(bindparam("ids", expanding=True)) if many else table.c.id == bindparam("id")
    return select(*(table.c[name] for name in columns)).where(where)


# Core statements built once: every match request reads its source record and hydrates a ranked list, and loading
# full ORM objects (every column, identity map, instrumentation) cost several times what these columns do.
_BRIEFS: dict[Target, Select[Any]] = {t: _select_by_id(t, BRIEF_COLUMNS[t], many=True) for t in BRIEF_COLUMNS}
_SOURCES: dict[Target, Select[Any]] = {
    t: _select_by_id(t, (*DOC_COLUMNS[t], "org_id"), many=False) for t in BRIEF_COLUMNS
}


def _hydrate(
    session: Session, target: Target, ranked: list[Ranked], principal: Principal | None = None
) -> list[dict[str, Any]]:
    ids = [r.id for r in ranked]
    rows = {row.id: row for row in session.execute(_BRIEFS[target], {"ids": ids}).all()} if ids else {}
    key = "achievement" if target == "achievements" else "demand"
    disclosed = disclosed_demands(session, principal, list(rows)) if target == "demands" else set()
    items: list[dict[str, Any]] = []
    for r in ranked:
        row = rows.get(r.id)
        if row is None:  # deleted after the index saw it; the follower drops it on its next pass
            continue
        if target == "achievements":
            brief = achievement_brief(row)
        else:
            brief = present_demand(demand_brief(row), hides_enterprise(principal, row, disclosed))
        items.append({"rank": len(items) + 1, "score": round(r.score, 4), key: brief, "explanation": r.explanation()})
    return items


def _check_k(k: int) -> None:
    if not 1 <= k <= 100:
        raise ValidationFailed("k must be between 1 and 100", fields=[field_error("k", "must be between 1 and 100")])


def match_record(
    session: Session,
    search: SearchService,
    source: Target,
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
    spec = DEMANDS if source == "demands" else ACHIEVEMENTS
    require_role(principal, (WRITES[source],), f"rank pairings for {source}")
    row = session.execute(_SOURCES[source], {"id": record_id}).first()
    if row is None or not may_write(principal, source, row.org_id):  # what get_record(..., write=True) decides
        raise NotFound(f"{spec.noun} {record_id} not found")
    if not search.ensure_current(source, record_id):
        raise Conflict(
            f"{spec.noun} {record_id} is not embedded yet; retry in a moment",
            fields=[field_error("id", "not yet in the index")],
        )
    target: Target = "achievements" if source == "demands" else "demands"
    doc = doc_from_row(source, row)
    flt = (filters or MatchFilters()).to_filter(target)
    ranked = search.matcher.match(
        Query(text=doc.text, facts=doc.facts), target, k=k, flt=flt, policy=policy, today=today
    )
    return _hydrate(session, target, ranked, principal)


def search_text(
    session: Session,
    search: SearchService,
    text: str,
    target: Target,
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
    flt = (filters or MatchFilters()).to_filter(target)
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
    filters.to_filter("demands")
    achievement_filters.to_filter("achievements")
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
        stmt = select(Demand).where(Demand.status == "open").order_by(Demand.id)
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
        flt = offer_filters.to_filter("achievements")
        batches = [needs[i : i + batch_size] for i in range(0, len(needs), batch_size)]

        def rank_batch(batch: list[Demand]) -> tuple[list[Demand], list[list[Ranked]]]:
            with session_factory() as s:
                decided: dict[int, set[int]] = {}
                rows = s.execute(
                    select(Match.demand_id, Match.achievement_id).where(
                        Match.demand_id.in_([d.id for d in batch]), Match.status.in_(DECIDED)
                    )
                )
                for demand_id, achievement_id in rows:
                    decided.setdefault(demand_id, set()).add(achievement_id)
            docs = [to_doc(d) for d in batch]
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
STATUS_LABELS = {
    "proposed": "推荐",
    "shortlisted": "初筛",
    "contacted": "对接",
    "meeting": "洽谈",
    "signed": "签约",
    "landed": "落地",
    "rejected": "已拒绝",
}


def run_rows(session: Session, run_id: int) -> list[list[Any]]:
    """One row per pairing of a run, sorted by need then rank."""
    get_run(session, run_id)
    stmt = (
        select(Match, Demand, Achievement)
        .join(Demand, Match.demand_id == Demand.id)
        .join(Achievement, Match.achievement_id == Achievement.id)
        .where(Match.run_id == run_id)
        .order_by(Demand.id, Match.rank)
    )
    rows = []
    for match, need, offer in session.execute(stmt):
        violations = "、".join(
            c["message"] for c in match.explanation.get("checks", []) if c.get("hard") and c.get("ok") is False
        )
        rows.append(
            [
                need.external_id or need.id,
                need.title,
                need.enterprise or "",
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
                STATUS_LABELS.get(match.status, match.status),
            ]
        )
    return rows


def export_run(session: Session, run_id: int, fmt: Literal["xlsx", "csv"] | str) -> bytes:
    """The matching list of a run as XLSX or CSV with Chinese headers."""
    if fmt not in ("xlsx", "csv"):
        raise ValidationFailed("format must be xlsx or csv", fields=[field_error("format", f"unknown {fmt!r}")])
    rows = run_rows(session, run_id)
    if fmt == "csv":
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer)
        writer.writerow(RUN_EXPORT_HEADERS)
        writer.writerows([csv_row(row) for row in rows])
        return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("供需对接清单")
    sheet.append(RUN_EXPORT_HEADERS)
    for row in rows:
        sheet.append(sheet_row(sheet, row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


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
        "created_at": run.created_at.isoformat() if run.created_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }
