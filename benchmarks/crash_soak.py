"""Crash soak: N cycles of writes, an atomic import and a matching run against `matchmaker serve --workers 2`, each
ended by kill -9 of the whole server and a restart; after every restart it checks what the short crash test checks
(tests/reliability/test_crash.py) and sums up acknowledged vs found writes.

    python benchmarks/crash_soak.py --cycles 10 --backend sqlite
    python benchmarks/crash_soak.py --cycles 10 --backend postgresql   # MATCHMAKER_TEST_POSTGRES_URL or local

Writes benchmarks/results/crash_soak-<backend>.json; exits 1 when any cycle lost, resurrected or half-imported a write.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from tests.reliability.crash_harness import Chaos, Server, drop_database, new_database, verify  # noqa: E402

from _common import format_table, log, machine, median, results_path, write_results  # noqa: E402

POSTGRES_ADMIN = os.environ.get("MATCHMAKER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def soak(backend: str, cycles: int, chaos_min_s: float, chaos_max_s: float, port: int, seed: int) -> dict[str, Any]:
    """Run the cycles on one server (one database that grows cycle by cycle); the per-cycle findings."""
    rng = random.Random(seed)
    database, url = new_database(POSTGRES_ADMIN) if backend == "postgresql" else (None, None)
    server = Server(port=port, database_url=url)
    rows: list[dict[str, Any]] = []
    try:
        first_start = server.start()
        log(f"{backend}: up in {first_start:.1f} s")
        for cycle in range(1, cycles + 1):
            chaos = Chaos(server, cycle=cycle)
            chaos.prepare()
            kill_after = rng.uniform(chaos_min_s, chaos_max_s)
            chaos.run_and_kill(kill_after)
            restart_s = server.start()
            found = verify(chaos)
            row = {
                "cycle": cycle,
                "kill_after_s": round(kill_after, 2),
                "acknowledged_creates": len(chaos.created),
                "acknowledged_deletes": len(chaos.deleted),
                "import_acknowledged": chaos.import_acknowledged,
                "acknowledged": found.acknowledged,
                "lost": found.lost,
                "resurrected": found.resurrected,
                "import_partial": found.import_partial,
                "missing_in_index": {str(k): v for k, v in found.missing_in_index.items()},
                "run_status_after_restart": found.run_status,
                "restart_s": round(restart_s, 1),
                "database_locked_in_log": "database is locked" in server.log_text(),
                "ok": found.ok,
            }
            rows.append(row)
            log(f"{backend} cycle {cycle}: {row['acknowledged']} acknowledged, lost {len(found.lost)}, "
                f"resurrected {len(found.resurrected)}, index misses {sum(map(len, found.missing_in_index.values()))}, "
                f"run {found.run_status}, restart {restart_s:.1f} s")  # fmt: skip
    finally:
        server.stop()
        if database is not None:
            drop_database(POSTGRES_ADMIN, database)
    return {"backend": backend, "first_start_s": round(first_start, 1), "cycles": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--chaos-min-s", type=float, default=2.0, help="shortest time of writes before the kill")
    parser.add_argument("--chaos-max-s", type=float, default=8.0, help="longest time of writes before the kill")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    started = time.monotonic()
    result = soak(args.backend, args.cycles, args.chaos_min_s, args.chaos_max_s, args.port or _free_port(), args.seed)
    rows = result["cycles"]
    summary = {
        "cycles": len(rows),
        "acknowledged": sum(r["acknowledged"] for r in rows),
        "lost": sum(len(r["lost"]) for r in rows),
        "resurrected": sum(len(r["resurrected"]) for r in rows),
        "partial_imports": sum(r["import_partial"] for r in rows),
        "index_misses": sum(sum(map(len, r["missing_in_index"].values())) for r in rows),
        "runs_left_running": sum(r["run_status_after_restart"] in ("queued", "running") for r in rows),
        "restarts_failed_or_locked": sum(r["database_locked_in_log"] for r in rows),
        "median_restart_s": median([r["restart_s"] for r in rows]),
        "load_average": os.getloadavg(),
        "wall_s": round(time.monotonic() - started, 1),
    }
    print(format_table(["what", "value"], [[k, v] for k, v in summary.items()]))
    name = f"crash_soak-{args.backend}"
    write_results(results_path(name, args.out, False), name, {**result, "summary": summary}, machine_info=machine())
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
