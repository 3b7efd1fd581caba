"""Event scheduling benchmark: CP-SAT against the greedy baseline on one synthetic brokerage day.

Default size (issue 14): 300 participants, 2,000 accepted meeting requests, 16 slots, 40 tables. The target is a
schedule in at most 10 s of wall time, model building included. Both schedulers run on the same instance in the same
process; the script reports for each: wall time, requests placed (count and share), placed mutual requests, total
weight, CP-SAT's proven upper bound, and the rule violations found by ``matchmaker.scheduling.violations`` (0 expected).

The instance is seeded: 100 enterprises, 150 institutions, 50 investors; every request pairs an enterprise or an
investor with an institution (or an enterprise with an investor); 70 % of participants are available all day, the
others for the morning or the afternoon only or a random half of the slots; caps between 4 and 10 meetings; 10 % of
requests asked for by both sides, 30 % by one; ranking scores uniform in [0.3, 0.95].

    PYTHONPATH=src .venv/bin/python benchmarks/event_schedule.py         # -> benchmarks/results/event_schedule.json
    PYTHONPATH=src .venv/bin/python benchmarks/event_schedule.py --tiny     # 40 participants, 150 requests
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, results_path, write_results  # noqa: E402
from matchmaker.scheduling import (  # noqa: E402
    Participant,
    Problem,
    Request,
    Schedule,
    greedy,
    request_weight,
    solve,
    violations,
)


def instance(participants: int, requests: int, slots: int, tables: int, seed: int) -> tuple[Problem, set[int]]:
    """A seeded synthetic event and the ids of its mutual requests."""
    rng = random.Random(seed)
    n_ent, n_inv = participants // 3, participants // 6
    roles = ["enterprise"] * n_ent + ["investor"] * n_inv + ["institution"] * (participants - n_ent - n_inv)
    people: dict[int, Participant] = {}
    half = slots // 2
    for pid in range(1, participants + 1):
        draw = rng.random()
        if draw < 0.7:
            available = None
        elif draw < 0.8:
            available = frozenset(range(half))
        elif draw < 0.9:
            available = frozenset(range(half, slots))
        else:
            available = frozenset(rng.sample(range(slots), half))
        people[pid] = Participant(pid, cap=rng.randint(4, 10), available=available)
    seekers = [i + 1 for i, r in enumerate(roles) if r in ("enterprise", "investor")]
    institutions = [i + 1 for i, r in enumerate(roles) if r == "institution"]
    investors = [i + 1 for i, r in enumerate(roles) if r == "investor"]
    enterprises = [i + 1 for i, r in enumerate(roles) if r == "enterprise"]
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < requests:
        if rng.random() < 0.9:
            a, b = rng.choice(seekers), rng.choice(institutions)
        else:
            a, b = rng.choice(enterprises), rng.choice(investors)
        pairs.add((a, b))
    reqs: list[Request] = []
    mutual_ids: set[int] = set()
    for rid, (a, b) in enumerate(sorted(pairs), start=1):
        draw = rng.random()
        mutual, asked = draw < 0.1, 0.1 <= draw < 0.4
        if mutual:
            mutual_ids.add(rid)
        reqs.append(Request(rid, a, b, request_weight(mutual=mutual, asked=asked, score=rng.uniform(0.3, 0.95))))
    return Problem(slots=slots, tables=tables, participants=people, requests=reqs), mutual_ids


def summary(problem: Problem, schedule: Schedule, mutual: set[int]) -> dict[str, Any]:
    """The figures reported for one scheduler."""
    placed = {p.request_id for p in schedule.placements}
    reasons: dict[str, int] = {}
    for u in schedule.unplaced:
        reasons[u.reason] = reasons.get(u.reason, 0) + 1
    return {
        "solver": schedule.solver,
        "status": schedule.status,
        "wall_s": round(schedule.wall_s, 3),
        "placed": len(placed),
        "placed_share": round(len(placed) / len(problem.requests), 4),
        "mutual_placed": len(placed & mutual),
        "objective": schedule.objective,
        "bound": None if schedule.bound != schedule.bound else round(schedule.bound, 1),
        "unplaced_reasons": reasons,
        "violations": len(violations(problem, schedule)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", type=int, default=300)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--slots", type=int, default=16)
    parser.add_argument("--tables", type=int, default=40)
    parser.add_argument("--time-limit", type=float, default=8.0, help="CP-SAT time limit in seconds")
    parser.add_argument("--workers", type=int, default=None, help="CP-SAT search workers (default: CPUs, at most 8)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--tiny", action="store_true", help="40 participants, 150 requests, 8 slots, 6 tables")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.tiny:
        args.participants, args.requests, args.slots, args.tables = 40, 150, 8, 6
        args.time_limit = min(args.time_limit, 2.0)
    info = machine()
    problem, mutual = instance(args.participants, args.requests, args.slots, args.tables, args.seed)
    rows = [
        summary(problem, greedy(problem), mutual),
        summary(problem, solve(problem, time_limit_s=args.time_limit, workers=args.workers), mutual),
    ]
    print(
        f"{args.participants} participants, {len(problem.requests)} requests ({len(mutual)} mutual), "
        f"{args.slots} slots x {args.tables} tables = {args.slots * args.tables} seats"
    )
    header = (
        f"{'solver':<8} {'status':<9} {'wall s':>7} {'placed':>7} {'share':>7} {'mutual':>7} {'weight':>8} {'bound':>9}"
    )
    print(header)
    for r in rows:
        bound = "" if r["bound"] is None else f"{r['bound']:.0f}"
        print(
            f"{r['solver']:<8} {r['status']:<9} {r['wall_s']:>7.2f} {r['placed']:>7} {r['placed_share']:>7.1%} "
            f"{r['mutual_placed']:>7} {r['objective']:>8} {bound:>9}"
        )
    cp, gr = rows[1], rows[0]
    payload = {
        "instance": {
            "participants": args.participants,
            "requests": len(problem.requests),
            "mutual_requests": len(mutual),
            "slots": args.slots,
            "tables": args.tables,
            "seed": args.seed,
        },
        "time_limit_s": args.time_limit,
        "workers": args.workers,
        "results": rows,
        "cp_sat_extra_placed": cp["placed"] - gr["placed"],
        "target_10s_met": cp["wall_s"] <= 10.0,
    }
    write_results(results_path("event_schedule", args.out, args.tiny), "event_schedule", payload, machine_info=info)
    return 0 if cp["violations"] == 0 and gr["violations"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
