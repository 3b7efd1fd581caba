"""Figures for managers: pairings by status, the funnel, time in each stage, chains, region flows, managers, and
accept / reject rates by score band (how decisions feed back into the ranking).

Counted in the database (``GROUP BY``), so the cost grows with the number of groups rather than of pairings; only the
moves of pairings (their events) are read, to measure the time spent in each stage
(benchmarks/stats.py: 100k pairings, see README).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from matchmaker.domain import MATCH_STATUSES, STAGE_ORDER
from matchmaker.models import Achievement, Demand, Match, MatchEvent, User, as_utc
from matchmaker.services.access import Principal, require_staff

SCORE_BANDS = (float("-inf"), 0.5, 0.7, 0.9, 1.1, float("inf"))


def _band_label(low: float, high: float) -> str:
    lo = "" if low == float("-inf") else f"{low:g}"
    hi = "" if high == float("inf") else f"{high:g}"
    return f"{lo}–{hi}" if lo and hi else (f"<{hi}" if hi else f"≥{lo}")


def _band_case() -> Any:
    """The score band of a pairing, as a SQL expression ([low, high) intervals)."""
    bounds = list(zip(SCORE_BANDS, SCORE_BANDS[1:], strict=False))
    whens = [(Match.score < high, _band_label(low, high)) for low, high in bounds[:-1]]
    return case(*whens, else_=_band_label(*bounds[-1]))


def _stage_order(column: Any) -> Any:
    """A status's position in the funnel (NULL for rejected)."""
    return case(*((column == stage, order) for stage, order in STAGE_ORDER.items()), else_=None)


def _in_period(stmt: Select[Any], since: datetime | None, until: datetime | None) -> Select[Any]:
    if since is not None:
        stmt = stmt.where(Match.created_at >= since)
    if until is not None:
        stmt = stmt.where(Match.created_at < until)
    return stmt


def _sorted_counts(rows: Any) -> dict[str, int]:
    """Counts by key, largest first (ties by key)."""
    return dict(sorted(((key, int(count)) for key, count in rows), key=lambda kv: (-kv[1], kv[0])))


def compute(
    session: Session, principal: Principal | None, *, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Any]:
    """All figures over the pairings created in [since, until)."""
    require_staff(principal, "see statistics")
    # Every pairing references a need and an achievement (foreign keys, deleted with them): figures on the pairing's
    # own columns count the matches table alone; chains and kinds join the needs, region flows both sides.
    scoped = _in_period(select(Match.id), since, until)
    with_needs = scoped.join(Demand, Match.demand_id == Demand.id)
    with_both = with_needs.join(Achievement, Match.achievement_id == Achievement.id)

    def grouped(*columns: Any, where: Any = None, base: Select[Any] = scoped) -> list[Any]:
        stmt = base.with_only_columns(*columns, func.count()).group_by(*columns)
        return list(session.execute(stmt.where(where) if where is not None else stmt).all())

    by_status = {status: int(count) for status, count in grouped(Match.status)}
    total = sum(by_status.values())

    # Funnel: a pairing counts for every stage it reached. Moves only go forward (domain.MOVES), so an open or
    # landed pairing's furthest stage is its status, and a rejected one's is the furthest stage its history left.
    at_furthest: dict[int, int] = defaultdict(int)
    for status, count in by_status.items():
        if status in STAGE_ORDER:
            at_furthest[STAGE_ORDER[status]] += count
    left = (
        _in_period(
            select(func.max(_stage_order(MatchEvent.from_status)).label("furthest"))
            .join(Match, MatchEvent.match_id == Match.id)
            .where(Match.status == "rejected")
            .group_by(MatchEvent.match_id),
            since,
            until,
        )
    ).subquery()
    rejected_seen = 0
    for order, count in session.execute(select(left.c.furthest, func.count()).group_by(left.c.furthest)):
        at_furthest[order or 0] += int(count)
        rejected_seen += int(count)
    at_furthest[0] += by_status.get("rejected", 0) - rejected_seen  # rejected without a recorded move
    funnel = []
    previous = None
    for stage, order in STAGE_ORDER.items():
        count = sum(n for o, n in at_furthest.items() if o >= order)
        funnel.append(
            {
                "stage": stage,
                "count": count,
                "conversion_from_previous": round(count / previous, 4) if previous else None,
            }
        )
        previous = count

    # Time in each stage: from entering it (creation for proposed) to leaving it, for stages that were left.
    moves_stmt = (
        select(MatchEvent.match_id, Match.created_at, MatchEvent.at, MatchEvent.to_status)
        .join(Match, MatchEvent.match_id == Match.id)
        .order_by(MatchEvent.match_id, MatchEvent.id)
    )
    moves = session.execute(_in_period(cast(Select[Any], moves_stmt), since, until)).all()
    durations: dict[str, list[float]] = defaultdict(list)
    current: int | None = None
    entered, stage = None, "proposed"
    for match_id, created_at, at, to_status in moves:
        if match_id != current:
            current, entered, stage = match_id, as_utc(created_at), "proposed"
        moment = as_utc(at)
        assert entered is not None
        durations[stage].append((moment - entered).total_seconds() / 3600)
        entered, stage = moment, to_status
    time_in_stage = {
        s: {"left": len(v), "median_hours": round(statistics.median(v), 2), "mean_hours": round(statistics.fmean(v), 2)}
        for s, v in durations.items()
        if v
    }

    flows = grouped(Achievement.region, Demand.region, base=with_both)
    landed = grouped(Achievement.region, Demand.region, where=Match.status == "landed", base=with_both)
    managers: dict[int, dict[str, int]] = defaultdict(dict)
    for assignee, status, count in grouped(Match.assignee_id, Match.status, where=Match.assignee_id.is_not(None)):
        managers[assignee][status] = int(count)
    emails = (
        dict(session.execute(select(User.id, User.email).where(User.id.in_(list(managers)))).all()) if managers else {}
    )
    decision = case((Match.status == "rejected", "rejected"), else_="accepted")
    bands: dict[str, dict[str, int]] = defaultdict(lambda: {"accepted": 0, "rejected": 0})
    for band, outcome, count in grouped(_band_case(), decision, where=Match.status != "proposed"):
        bands[band][outcome] += int(count)
    return {
        "period": {"since": since, "until": until},
        "total": total,
        "by_status": {s: by_status.get(s, 0) for s in MATCH_STATUSES},
        "funnel": funnel,
        "time_in_stage": time_in_stage,
        "by_chain": _sorted_counts(grouped(Demand.field, base=with_needs)),
        "region_flows": _sorted_counts((f"{a}→{d}", n) for a, d, n in flows),
        "landed_region_flows": _sorted_counts((f"{a}→{d}", n) for a, d, n in landed),
        "by_need_kind": _sorted_counts(grouped(Demand.need_kind, base=with_needs)),
        "landed_by_need_kind": _sorted_counts(
            grouped(Demand.need_kind, where=Match.status == "landed", base=with_needs)
        ),
        "per_manager": [
            {"user_id": uid, "email": emails.get(uid), "by_status": counts, "total": sum(counts.values())}
            for uid, counts in sorted(managers.items())
        ],
        "decisions_by_score_band": [
            {
                "band": band,
                "accepted": c["accepted"],
                "rejected": c["rejected"],
                "accept_rate": round(c["accepted"] / (c["accepted"] + c["rejected"]), 4),
            }
            for band, c in sorted(bands.items())
        ],
    }
