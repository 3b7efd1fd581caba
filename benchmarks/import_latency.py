"""A single create's latency while a large import is embedded (issue 17, item 6), two checkouts side by side.

Each variant runs `matchmaker serve --workers 2` (SQLite) from its own sources: the sample lists are left out, a
CSV of --rows achievements is imported, and meanwhile one create is sent every --every seconds until the import has
answered and its last row is searchable. Before the change the import's request embedded every row in its catch-up
and a create's catch-up waited for that; now the import commits and answers, the follower threads embed outside
any lock a request waits on, and a create applies only its own record.

    python benchmarks/import_latency.py --before-src /path/to/old/checkout/src      # before vs this checkout
    python benchmarks/import_latency.py                                              # this checkout only
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from tests.reliability.crash_harness import Server  # noqa: E402

from _common import format_table, log, machine, results_path, write_results  # noqa: E402

ROW = "IMP-{n},储能材料与温控技术 {n},相变储能材料第{n}号，潜热220 J/g。,新材料,北方理工大学,北京,5"


def _create(c: httpx.Client, n: int) -> float | None:
    """Milliseconds one create took; None when it failed (its worker killed by the supervisor, say)."""
    body = {"title": f"单条新增 {n}", "summary": "钠离子电池正极材料，比容量140 mAh/g。", "field": "新能源",
            "owner": "北方理工大学", "region": "北京", "trl": 5}  # fmt: skip
    started = time.perf_counter()
    try:
        c.post("/api/v1/achievements", json=body).raise_for_status()
    except httpx.HTTPError:
        return None
    return (time.perf_counter() - started) * 1000


def one_variant(label: str, src: Path, rows: int, every: float, port: int) -> dict[str, Any]:
    """Start the variant's server, import while creating, stop; its figures."""
    server = Server(port=port, extra_env={"PYTHONPATH": str(src)})
    try:
        server.start()
        with server.client() as c:
            idle = [ms for ms in (_create(c, -i) for i in range(1, 6)) if ms is not None]
            body = ("external_id,title,summary,field,owner,region,trl\n" + "\n".join(
                ROW.format(n=n) for n in range(rows)) + "\n").encode()  # fmt: skip
            answered: dict[str, Any] = {}

            def run_import() -> None:
                started = time.perf_counter()
                try:
                    with server.client() as ic:
                        answer = ic.post("/api/v1/imports/achievements", files={"file": ("a.csv", body, "text/csv")})
                    answered["status"] = answer.status_code
                except httpx.HTTPError as exc:  # before the change a busy worker could be killed by its supervisor
                    answered["error"] = repr(exc)
                answered["s"] = time.perf_counter() - started

            started = time.perf_counter()
            importer = threading.Thread(target=run_import, daemon=True)
            importer.start()
            during: list[float] = []
            failed = 0
            searchable_s = None
            n = 0
            while time.perf_counter() - started < 1800:
                ms = _create(c, n)
                if ms is None:
                    failed += 1
                else:
                    during.append(ms)
                n += 1
                if "error" in answered or answered.get("status", 200) != 200:
                    break
                if "s" in answered and time.perf_counter() - started > answered["s"] + 600:
                    break  # not searchable 10 minutes after the answer: reported as None
                if "s" in answered:
                    found = c.post("/api/v1/search", json={"text": f"IMP-{rows - 1} 储能材料与温控技术 {rows - 1}",
                                                           "target": "achievements", "k": 3}).json()  # fmt: skip
                    if any(i["achievement"]["external_id"] == f"IMP-{rows - 1}" for i in found["items"]):
                        searchable_s = time.perf_counter() - started
                        break
                time.sleep(every)
            importer.join()
        figures = {
            "variant": label,
            "src": str(src),
            "rows": rows,
            "import_answered_s": round(answered["s"], 1),
            "import_answer": answered.get("error") or answered.get("status"),
            "last_row_searchable_s": None if searchable_s is None else round(searchable_s, 1),
            "creates_during": len(during),
            "creates_failed": failed,
            "create_idle_median_ms": round(statistics.median(idle), 1),
            "create_during_median_ms": round(statistics.median(during), 1),
            "create_during_p95_ms": round(sorted(during)[int(0.95 * (len(during) - 1))], 1),
            "create_during_max_ms": round(max(during), 1),
        }
        log(str(figures))
        return figures
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2500)
    parser.add_argument("--every", type=float, default=0.5, help="seconds between two creates")
    parser.add_argument("--before-src", type=Path, default=None, help="sources of the checkout to compare with")
    parser.add_argument("--port", type=int, default=8134)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    variants = [("before", args.before_src)] if args.before_src else []
    variants.append(("after", ROOT / "src"))
    results = [one_variant(label, src, args.rows, args.every, args.port) for label, src in variants]
    keys = [k for k in results[0] if k not in ("variant", "src")]
    print(format_table(["figure", *[r["variant"] for r in results]], [[k, *[r[k] for r in results]] for k in keys]))
    payload = {"results": results, "load_average": os.getloadavg()}
    write_results(results_path("import_latency", args.out, False), "import_latency", payload, machine_info=machine())
    return 0


if __name__ == "__main__":
    sys.exit(main())
