"""The managers' statistics (GET /api/v1/stats) over many pairings, in process, on a fresh SQLite database.

    python benchmarks/stats.py [--pairings 100000] [--repeats 5] [--tiny]

The database is built by the real migrations in a temporary folder and filled with Core inserts: 2,000 achievements,
one need per four pairings, ``--pairings`` pairings with scores spread over the score bands, a third of them moved
through the workflow (one to four moves each, some rejected) and assigned to one of ten managers. Then
``services.stats.compute`` runs ``--repeats`` times over every pairing and once more over a six-month period; the
table shows the median wall time and the process's peak memory growth. The script imports the service from
``PYTHONPATH``, so running it with another checkout's ``src`` first measures that checkout's statistics side by side.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from _common import format_table, log, machine, median, results_path, rss_mib, write_results
from matchmaker import db
from matchmaker.config import Settings
from matchmaker.models import Achievement, Demand, Match, MatchEvent, User
from matchmaker.services.stats import compute

FORWARD = ("proposed", "shortlisted", "contacted", "meeting", "signed", "landed")
CHAINS = ("新材料", "生物医药", "信创", "高端装备", "新能源")
REGIONS = ("北京", "天津", "河北", "其他")


def reason(target: str) -> str | None:
    """A rejection's reason (none for a forward move)."""
    return "other" if target == "rejected" else None


def build(settings: Settings, pairings: int, seed: int) -> Any:
    """A migrated database holding ``pairings`` pairings (and their records, moves and managers)."""
    engine = db.create_db_engine(settings)
    db.upgrade(settings, engine)
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    record = {"keywords": [], "status": "active", "content_hash": "0" * 64, "language": "zh-Hans", "source": "bench"}
    with engine.begin() as conn:
        conn.execute(
            insert(User),
            [{"email": f"m{i}@bench.example", "role": "manager", "active": True} for i in range(10)],
        )
        managers = list(conn.scalars(select(User.id)))
        conn.execute(
            insert(Achievement),
            [
                {
                    **record,
                    "title": f"成果{i}",
                    "summary": "简介",
                    "field": rng.choice(CHAINS),
                    "region": rng.choice(REGIONS),
                }
                for i in range(2000)
            ],
        )
        needs = pairings // 4 + 1
        conn.execute(
            insert(Demand),
            [
                {
                    **record,
                    "status": "open",
                    "title": f"需求{i}",
                    "description": "描述",
                    "field": rng.choice(CHAINS),
                    "region": rng.choice(REGIONS),
                    "confidential": False,
                }
                for i in range(needs)
            ],
        )
        rows, events = [], []
        for i in range(pairings):
            created = start + timedelta(minutes=rng.randrange(365 * 24 * 60))
            moves = rng.randrange(1, 5) if rng.random() < 1 / 3 else 0
            status, at, history = "proposed", created, []
            for _ in range(moves):
                at = at + timedelta(hours=rng.randrange(1, 300))
                target = "rejected" if rng.random() < 0.25 else FORWARD[FORWARD.index(status) + 1]
                history.append((status, target, at))
                status = target
                if target in ("rejected", "landed"):
                    break
            rows.append(
                {
                    "id": i + 1,
                    "demand_id": i // 4 + 1,
                    "achievement_id": (i * 7919) % 2000 + 1,
                    "status": status,
                    "rank": i % 4 + 1,
                    "score": rng.uniform(0.3, 1.3),
                    "explanation": {},
                    "notes": [],
                    "disclosed": False,
                    "assignee_id": rng.choice(managers) if moves else None,
                    "created_at": created,
                    "updated_at": at,
                    "status_changed_at": at,
                }
            )
            events += [
                {
                    "match_id": i + 1,
                    "from_status": a,
                    "to_status": b,
                    "reason": "other" if b == "rejected" else None,
                    "at": t,
                }
                for a, b, t in history
            ]
        for chunk in range(0, len(rows), 5000):
            conn.execute(insert(Match), rows[chunk : chunk + 5000])
        for chunk in range(0, len(events), 5000):
            conn.execute(insert(MatchEvent), events[chunk : chunk + 5000])
    return engine, len(events)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairings", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tiny", action="store_true", help="2,000 pairings, 2 repeats: a smoke run")
    parser.add_argument("--out", type=Path, help="JSON path (default benchmarks/results/stats.json)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.pairings, args.repeats = 2000, 2
    with tempfile.TemporaryDirectory(prefix="mm-stats-") as folder:
        settings = Settings(data_dir=Path(folder), load_sample_data=False, search_enabled=False)
        log(f"building {args.pairings:,} pairings ...")
        engine, moves = build(settings, args.pairings, args.seed)
        factory = db.create_session_factory(engine)
        seconds, period_seconds = [], []
        rss_before = rss_mib()
        figures: dict[str, Any] = {}
        for _ in range(args.repeats):
            with factory() as session:
                started = time.perf_counter()
                figures = compute(session, None)
                seconds.append(time.perf_counter() - started)
                started = time.perf_counter()
                compute(session, None, since=datetime(2026, 3, 1, tzinfo=UTC), until=datetime(2026, 9, 1, tzinfo=UTC))
                period_seconds.append(time.perf_counter() - started)
        engine.dispose()
    result = {
        "pairings": args.pairings,
        "moves": moves,
        "repeats": args.repeats,
        "all_s": round(median(seconds), 4),
        "all_s_each": [round(s, 4) for s in seconds],
        "six_months_s": round(median(period_seconds), 4),
        "rss_growth_mib": round(rss_mib() - rss_before, 1),
        "total_counted": figures.get("total"),
        "stats_module": sys.modules[compute.__module__].__file__,
    }
    print(
        format_table(
            ["pairings", "moves", "all pairings s (median)", "six months s (median)", "RSS growth MiB"],
            [[result["pairings"], moves, result["all_s"], result["six_months_s"], result["rss_growth_mib"]]],
        )
    )
    write_results(results_path("stats", args.out, args.tiny), "stats", result, machine_info=machine())
    return 0 if figures.get("total") == args.pairings else 1


if __name__ == "__main__":
    sys.exit(main())
