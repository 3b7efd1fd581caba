"""Statistics are counted in the database: the figures equal the previous count over every pairing in Python
(kept below as the oracle), on a varied set of pairings and moves."""

from __future__ import annotations

import random
import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.domain import MATCH_STATUSES, MOVES, REJECT_REASONS, STAGE_ORDER
from matchmaker.kinds import ACHIEVEMENTS, DEMANDS
from matchmaker.models import Achievement, Demand, Match, MatchEvent, User, as_utc
from matchmaker.schemas import AchievementCreate, DemandCreate
from matchmaker.services.auth import create_user
from matchmaker.services.records import create_record
from matchmaker.services.stats import compute

SCORE_BANDS = (float("-inf"), 0.5, 0.7, 0.9, 1.1, float("inf"))


# ------------------------------------------------------------------------- the previous implementation (the oracle)
def _band(score: float) -> str:
    for low, high in zip(SCORE_BANDS, SCORE_BANDS[1:], strict=False):
        if low <= score < high:
            lo = "" if low == float("-inf") else f"{low:g}"
            hi = "" if high == float("inf") else f"{high:g}"
            return f"{lo}–{hi}" if lo and hi else (f"<{hi}" if hi else f"≥{lo}")
    return "?"


def python_counting(
    session: Session, *, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Any]:
    """All figures over the pairings created in [since, until)."""
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
        "by_status": {s: by_status.get(s, 0) for s in MATCH_STATUSES},
        "funnel": funnel,
        "time_in_stage": time_in_stage,
        "by_chain": dict(by_chain.most_common()),
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


# ---------------------------------------------------------------------------------------------------------- tests


def _world(session: Session, pairings: int, seed: int) -> None:
    rng = random.Random(seed)
    managers = [create_user(session, email=f"m{i}-{seed}@stats.example", role="manager").id for i in range(3)]
    chains, regions = ("新材料", "生物医药", "信创"), ("北京", "天津", "河北", "其他")
    achievements = [
        create_record(
            session,
            ACHIEVEMENTS,
            AchievementCreate(title=f"成果{i}", summary="简介", field=rng.choice(chains), region=rng.choice(regions)),
        ).id
        for i in range(8)
    ]
    demands = [
        create_record(
            session,
            DEMANDS,
            DemandCreate(title=f"需求{i}", description="描述", field=rng.choice(chains), region=rng.choice(regions)),
        ).id
        for i in range(pairings // 4 + 1)
    ]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    used: set[tuple[int, int]] = set()
    while len(used) < pairings:
        pair = (rng.choice(demands), rng.choice(achievements))
        if pair in used:
            continue
        used.add(pair)
        created = start + timedelta(days=rng.randrange(300))
        match = Match(
            demand_id=pair[0],
            achievement_id=pair[1],
            status="proposed",
            rank=1,
            score=rng.choice((0.3, 0.5, 0.69, 0.7, 0.95, 1.1, 1.4)),
            assignee_id=rng.choice([None, *managers]),
            created_at=created,
        )
        session.add(match)
        session.flush()
        at = created
        for _ in range(rng.randrange(5)):
            moves = MOVES[match.status]
            if not moves:
                break
            to = rng.choice(moves)
            at = at + timedelta(hours=rng.randrange(1, 500))
            session.add(
                MatchEvent(
                    match_id=match.id,
                    from_status=match.status,
                    to_status=to,
                    reason=REJECT_REASONS[0] if to == "rejected" else None,
                    at=at,
                )
            )
            match.status = to
    session.flush()


def _comparable(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in figures.items() if k != "period"}


def test_the_database_counts_equal_the_python_counts(session: Session) -> None:
    _world(session, 120, seed=7)
    for since, until in ((None, None), (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 8, 1, tzinfo=UTC))):
        counted = compute(session, None, since=since, until=until)
        oracle = python_counting(session, since=since, until=until)
        assert _comparable(counted) == _comparable(oracle)
        assert list(counted["by_chain"].values()) == sorted(counted["by_chain"].values(), reverse=True)
    assert compute(session, None)["total"] == 120


def test_no_pairings_give_empty_figures(session: Session) -> None:
    figures = compute(session, None)
    assert figures["total"] == 0
    assert figures["by_status"] == dict.fromkeys(MATCH_STATUSES, 0)
    assert [f["count"] for f in figures["funnel"]] == [0] * len(STAGE_ORDER)
    assert figures["per_manager"] == figures["decisions_by_score_band"] == []
