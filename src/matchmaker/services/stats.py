"""Figures for managers: pairings by status, the funnel, time in each stage, chains, region flows, managers, and
accept / reject rates by score band (how decisions feed back into the ranking)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.models import Achievement, Demand, Match, MatchEvent, User, as_utc
from matchmaker.services.access import Principal, require_staff
from matchmaker.services.workflow import STAGE_ORDER, STATUSES

SCORE_BANDS = (float("-inf"), 0.5, 0.7, 0.9, 1.1, float("inf"))


def _band(score: float) -> str:
    for low, high in zip(SCORE_BANDS, SCORE_BANDS[1:], strict=False):
        if low <= score < high:
            lo = "" if low == float("-inf") else f"{low:g}"
            hi = "" if high == float("inf") else f"{high:g}"
            return f"{lo}–{hi}" if lo and hi else (f"<{hi}" if hi else f"≥{lo}")
    return "?"


def compute(
    session: Session, principal: Principal | None, *, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Any]:
    """All figures over the pairings created in [since, until)."""
    require_staff(principal, "see statistics")
    stmt = (
        select(Match, Demand, Achievement)
        .join(Demand, Match.demand_id == Demand.id)
        .join(Achievement, Match.achievement_id == Achievement.id)
    )
    if since is not None:
        stmt = stmt.where(Match.created_at >= since)
    if until is not None:
        stmt = stmt.where(Match.created_at < until)
    rows = session.execute(stmt).all()
    match_ids = [m.id for m, _, _ in rows]
    events: dict[int, list[MatchEvent]] = defaultdict(list)
    if match_ids:
        for start in range(0, len(match_ids), 900):
            chunk = match_ids[start : start + 900]
            for event in session.scalars(
                select(MatchEvent).where(MatchEvent.match_id.in_(chunk)).order_by(MatchEvent.id)
            ):
                events[event.match_id].append(event)

    by_status = Counter(m.status for m, _, _ in rows)
    # Funnel: a pairing counts for every stage it reached (its furthest stage, rejected ones by their history).
    reached: Counter[str] = Counter()
    for m, _, _ in rows:
        stages = {
            "proposed",
            m.status,
            *(e.to_status for e in events[m.id]),
            *(e.from_status or "" for e in events[m.id]),
        }
        furthest = max((STAGE_ORDER[s] for s in stages if s in STAGE_ORDER), default=0)
        for stage, order in STAGE_ORDER.items():
            if order <= furthest:
                reached[stage] += 1
    funnel = []
    previous = None
    for stage in STAGE_ORDER:
        count = reached[stage]
        funnel.append(
            {
                "stage": stage,
                "count": count,
                "conversion_from_previous": round(count / previous, 4) if previous else None,
            }
        )
        previous = count
    # Time in each stage: from entering it (creation for proposed) to leaving it, for stages that were left.
    durations: dict[str, list[float]] = defaultdict(list)
    for m, _, _ in rows:
        entered, stage = as_utc(m.created_at), "proposed"
        for event in events[m.id]:
            at = as_utc(event.at)
            durations[stage].append((at - entered).total_seconds() / 3600)
            entered, stage = at, event.to_status
    time_in_stage = {
        s: {"left": len(v), "median_hours": round(statistics.median(v), 2), "mean_hours": round(statistics.fmean(v), 2)}
        for s, v in durations.items()
        if v
    }
    by_chain = Counter(d.field for _, d, _ in rows)
    by_need_kind = Counter(d.need_kind for _, d, _ in rows)
    landed_by_need_kind = Counter(d.need_kind for m, d, _ in rows if m.status == "landed")
    flows = Counter(f"{a.region}→{d.region}" for _, d, a in rows)
    landed_flows = Counter(f"{a.region}→{d.region}" for m, d, a in rows if m.status == "landed")
    managers: dict[int, Counter[str]] = defaultdict(Counter)
    for m, _, _ in rows:
        if m.assignee_id is not None:
            managers[m.assignee_id][m.status] += 1
    emails = (
        {uid: email for uid, email in session.execute(select(User.id, User.email).where(User.id.in_(list(managers))))}
        if managers
        else {}
    )
    bands: dict[str, Counter[str]] = defaultdict(Counter)
    for m, _, _ in rows:
        if m.status == "proposed":
            continue
        bands[_band(m.score)]["rejected" if m.status == "rejected" else "accepted"] += 1
    return {
        "period": {"since": since.isoformat() if since else None, "until": until.isoformat() if until else None},
        "total": len(rows),
        "by_status": {s: by_status.get(s, 0) for s in STATUSES},
        "funnel": funnel,
        "time_in_stage": time_in_stage,
        "by_chain": dict(by_chain.most_common()),
        "by_need_kind": dict(by_need_kind.most_common()),
        "landed_by_need_kind": dict(landed_by_need_kind.most_common()),
        "region_flows": dict(flows.most_common()),
        "landed_region_flows": dict(landed_flows.most_common()),
        "per_manager": [
            {"user_id": uid, "email": emails.get(uid), "by_status": dict(c), "total": sum(c.values())}
            for uid, c in sorted(managers.items())
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
