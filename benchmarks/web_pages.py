"""Web workspace speed: each page's response time (p50 / p95, measured at the client over loopback, so it includes
the server's whole work plus a local HTTP round trip) with many records, on SQLite and PostgreSQL, and the review
queue's first contentful paint in Chromium.

The database is filled with Core inserts (no model runs: the pages that rank suggestions need the matcher and are
left out; the matching cost is measured by match_request.py): achievements and needs built from the sample lists,
pairings between them in every stage, and their history.

With ``--baseline-src`` the same pages are timed side by side against another checkout's ``src`` (each served by its
own process over its own database, filled the same way; requests alternate between the two, so both see the same
machine load), and the table gives the ratio of the medians.

    .venv/bin/python benchmarks/web_pages.py                       # 100k achievements, 10k pairings, SQLite
    .venv/bin/python benchmarks/web_pages.py --postgres-url postgresql+psycopg://postgres@127.0.0.1/postgres
    git worktree add /tmp/before <commit> && .venv/bin/python benchmarks/web_pages.py --baseline-src /tmp/before/src
    .venv/bin/python benchmarks/web_pages.py --tiny                # the smoke size
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import uvicorn
from sqlalchemy import create_engine, insert, inspect, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SAMPLE_DIR, format_table, log, machine, results_path, summarize_ms, write_results  # noqa: E402
from matchmaker.app import create_app  # noqa: E402
from matchmaker.config import Settings  # noqa: E402
from matchmaker.domain import MATCH_STATUSES as STATUSES  # noqa: E402
from matchmaker.models import Achievement, Demand, Match, MatchEvent  # noqa: E402

PASSWORD = "benchmark-password"
REGIONS = ("北京", "天津", "河北", "其他")
PAGES = (
    ("queue", "/queue"),
    ("queue filtered, sorted, page 20", "/queue?status=open&sort=-score&page=20"),
    ("queue region flow + band", "/queue?src=北京&dst=天津&band=2"),
    ("queue board", "/queue?layout=board"),
    ("pairing", "/pairings/{pairing}"),
    ("runs", "/runs"),
    ("dashboard (all time)", "/dashboard?days=0"),
    ("needs list", "/my/needs"),
    ("needs search", "/my/needs?q=焊接"),
    ("achievements search", "/my/achievements?q=冷链"),
    ("achievements search, common word", "/my/achievements?q=电池"),
    ("achievements by external id", "/my/achievements?q=B-A-4242"),
    ("achievements filtered", "/my/achievements?field=新材料&region=北京&trl_min=5&status=active"),
    ("imports", "/imports"),
)


def _fill(engine: Any, achievements: int, needs: int, pairings: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    offers, wants = (
        [json.loads(line) for line in (SAMPLE_DIR / f"{name}.jsonl").read_text(encoding="utf-8").splitlines() if line]
        for name in ("achievements", "demands")
    )
    with engine.begin() as conn:
        for start in range(0, achievements, 5000):
            rows = []
            for i in range(start, min(start + 5000, achievements)):
                s = offers[i % len(offers)]
                rows.append(
                    {
                        "external_id": f"B-A-{i}", "title": f"{s['title']}（{i}）", "summary": s["summary"],
                        "keywords": s.get("keywords") or [], "field": s["field"], "region": rng.choice(REGIONS),
                        "status": "active", "content_hash": "0" * 64, "language": "zh-Hans", "source": "bench",
                        "trl": s.get("trl"), "transfer_modes": s.get("transfer_modes") or [], "owner": s.get("owner"),
                        "updated_at": now - timedelta(days=rng.randint(0, 900)),
                    }
                )  # fmt: skip
            conn.execute(insert(Achievement.__table__), rows)
        rows = []
        for i in range(needs):
            s = wants[i % len(wants)]
            rows.append(
                {
                    "external_id": f"B-D-{i}", "title": f"{s['title']}（{i}）", "description": s["description"],
                    "keywords": s.get("keywords") or [], "field": s["field"], "region": rng.choice(REGIONS),
                    "status": "open", "content_hash": "0" * 64, "language": "zh-Hans", "source": "bench",
                    "enterprise": s.get("enterprise"), "confidential": i % 10 == 0, "min_trl": s.get("min_trl"),
                    "preferred_modes": s.get("preferred_modes") or [],
                }
            )  # fmt: skip
        conn.execute(insert(Demand.__table__), rows)
        pairs: set[tuple[int, int]] = set()
        while len(pairs) < pairings:
            pairs.add((rng.randint(1, needs), rng.randint(1, achievements)))
        matches, events = [], []
        for n, (d, a) in enumerate(sorted(pairs), start=1):
            status = rng.choices(STATUSES, weights=(50, 20, 10, 6, 4, 2, 8))[0]
            created = now - timedelta(days=rng.randint(0, 180))
            matches.append(
                {
                    "demand_id": d, "achievement_id": a, "status": status, "rank": n % 10 + 1,
                    "score": rng.uniform(0.3, 1.2), "explanation": {"sentence": "语义相近", "checks": []},
                    "notes": [], "disclosed": False, "created_at": created, "status_changed_at": created,
                }
            )  # fmt: skip
            if status != "proposed":
                events.append({"match_id": n, "from_status": "proposed", "to_status": status, "at": created})
        for start in range(0, len(matches), 5000):
            conn.execute(insert(Match.__table__), matches[start : start + 5000])
        conn.execute(insert(MatchEvent.__table__), events)
    _fill_grams(engine)


def _fill_grams(engine: Any) -> None:
    """The text search's bigrams, as the services keep them (a checkout without that index has nothing to fill)."""
    if not inspect(engine).has_table("record_grams"):
        return
    from matchmaker.services.text_search import gram_tokens

    with engine.begin() as conn:
        for kind, body in (("achievements", "summary"), ("demands", "description")):
            rows = conn.execute(text(f"SELECT id, title, {body}, external_id FROM {kind}")).all()
            values = [{"kind": kind, "record_id": r[0], "grams": " ".join(gram_tokens(r[1:]))} for r in rows]
            for start in range(0, len(values), 5000):
                conn.execute(
                    text("INSERT INTO record_grams (kind, record_id, grams) VALUES (:kind, :record_id, :grams)"),
                    values[start : start + 5000],
                )


def _serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}"


def _sign_in(client: httpx.Client) -> None:
    page = client.get("/login").text
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    response = client.post("/login", data={"email": "admin@localhost", "password": PASSWORD, "csrf_token": token})
    assert response.status_code in (200, 303), response.text


def _first_paint(targets: dict[str, tuple[str, dict[str, str]]], repeat: int) -> dict[str, Any] | None:
    """The queue's first contentful paint of each target, loads alternating between them."""
    if not Path("/usr/bin/chromium").exists():
        return None
    from playwright.sync_api import sync_playwright

    samples: dict[str, list[float]] = {label: [] for label in targets}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium")
        pages = {}
        for label, (url, cookies) in targets.items():
            context = browser.new_context(viewport={"width": 1280, "height": 860})
            context.add_cookies([{"name": k, "value": v, "url": url} for k, v in cookies.items()])
            pages[label] = context.new_page()
        for _ in range(repeat):
            for label, (url, _) in targets.items():
                page = pages[label]
                page.goto(f"{url}/queue", wait_until="load")
                # Polled from here: wait_for_function evaluates its predicate with eval, which the pages' CSP forbids.
                deadline = time.monotonic() + 30
                while not page.evaluate("performance.getEntriesByName('first-contentful-paint').length"):
                    if time.monotonic() > deadline:
                        raise TimeoutError("no first-contentful-paint entry after 30 s")
                    time.sleep(0.02)
                fcp = page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime")
                samples[label].append(float(fcp))
        browser.close()
    return {label: summarize_ms(values) for label, values in samples.items()}


def _stats(times: list[float]) -> dict[str, float]:
    return {
        "n": len(times),
        "p50": round(float(np.percentile(times, 50)), 2),
        "p95": round(float(np.percentile(times, 95)), 2),
        "max": round(max(times), 2),
    }


def _time_pages(targets: dict[str, tuple[str, dict[str, str]]], pairing: int, repeat: int) -> dict[str, Any]:
    """Every page's times on every target; the targets take turns, request by request."""
    clients = {
        label: httpx.Client(base_url=url, cookies=cookies, timeout=120) for label, (url, cookies) in targets.items()
    }
    pages: dict[str, Any] = {}
    try:
        for label, path in PAGES:
            path = path.format(pairing=pairing)
            times: dict[str, list[float]] = {name: [] for name in clients}
            for client in clients.values():
                client.get(path)  # warm: the first request of a page compiles its template
            for round_ in range(repeat):
                order = list(clients.items()) if round_ % 2 == 0 else list(reversed(clients.items()))
                for name, client in order:
                    t0 = time.perf_counter()
                    response = client.get(path)
                    times[name].append((time.perf_counter() - t0) * 1000)
                    assert response.status_code == 200, (name, path, response.status_code)
            pages[label] = {"path": path, **{name: _stats(values) for name, values in times.items()}}
    finally:
        for client in clients.values():
            client.close()
    return pages


@contextmanager
def _served(args: argparse.Namespace) -> Iterator[tuple[str, dict[str, str]]]:
    """A filled database served on a free port, and a signed-in manager's cookies."""
    with tempfile.TemporaryDirectory() as tmp:
        url, drop = None, None
        if args.postgres_url:
            name = f"mm_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = make_url(args.postgres_url).set(database=name).render_as_string(hide_password=False)
            drop = (admin, name)
        settings = Settings(
            data_dir=Path(tmp), database_url=url, load_sample_data=False, search_enabled=False,
            admin_password=PASSWORD, log_level="warning",
        )  # fmt: skip
        app = create_app(settings)
        server, thread, base = _serve(app)
        try:
            log(f"filling: {args.achievements} achievements, {args.needs} needs, {args.pairings} pairings")
            started = time.perf_counter()
            _fill(app.state.engine, args.achievements, args.needs, args.pairings)
            log(f"filled in {time.perf_counter() - started:.1f} s")
            with httpx.Client(base_url=base, timeout=60, follow_redirects=True) as client:
                _sign_in(client)
                cookies = dict(client.cookies)
            yield base, cookies
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            if drop is not None:
                drop[0].dispose()
                admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{drop[1]}" WITH (FORCE)'))
                admin.dispose()


def _child(src: Path, argv: list[str]) -> tuple[subprocess.Popen[str], str, dict[str, str]]:
    """This script serving a checkout's ``src`` (and the ``migrations`` beside it) in its own process (``--serve``):
    its address and cookies."""
    migrations = src.resolve().parent / "migrations"  # the checkout's own schema
    env = {**os.environ, "PYTHONPATH": str(src.resolve()), "MATCHMAKER_MIGRATIONS_DIR": str(migrations)}
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", *argv], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # the app prints its first-start notice before
        if line.startswith('{"url"'):
            ready = json.loads(line)
            return proc, ready["url"], ready["cookies"]
    raise SystemExit(f"the server of {src} did not start")


def run(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """Fill, serve, time every page (against the baseline checkout too, with --baseline-src)."""
    backend = "postgresql" if args.postgres_url else "sqlite"
    pairing = args.pairings // 2
    if args.baseline_src is None:
        with _served(args) as (base, cookies):
            targets = {"this": (base, cookies)}
            pages = _time_pages(targets, pairing, args.repeat)
            paint = _first_paint(targets, args.paint_repeat)
        flat = {label: {"path": r["path"], **r["this"]} for label, r in pages.items()}
        return {"backend": backend, "pages": flat, "queue_first_paint_ms": paint["this"] if paint else None}
    children = {
        "baseline": _child(args.baseline_src, argv),
        "this": _child(Path(__file__).resolve().parent.parent / "src", argv),
    }
    try:
        targets = {label: (url, cookies) for label, (_, url, cookies) in children.items()}
        pages = _time_pages(targets, pairing, args.repeat)
        paint = _first_paint(targets, args.paint_repeat)
    finally:
        for proc, _, _ in children.values():
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=120)
    return {"backend": backend, "baseline_src": str(args.baseline_src), "pages": pages, "queue_first_paint_ms": paint}


def _serve_only(args: argparse.Namespace) -> int:
    """``--serve``: fill and serve, print the address and cookies as one JSON line, stop when stdin closes."""
    with _served(args) as (base, cookies):
        print(json.dumps({"url": base, "cookies": cookies}), flush=True)  # noqa: T201
        sys.stdin.read()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--achievements", type=int, default=100_000)
    parser.add_argument("--needs", type=int, default=2_000)
    parser.add_argument("--pairings", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=40, help="timed requests per page")
    parser.add_argument("--paint-repeat", type=int, default=10)
    parser.add_argument("--postgres-url", default=None, help="a server to create the benchmark database on")
    parser.add_argument("--baseline-src", type=Path, default=None, help="another checkout's src, timed side by side")
    parser.add_argument("--tiny", action="store_true", help="smoke size: 500 achievements, 50 needs, 200 pairings")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.tiny:
        args.achievements, args.needs, args.pairings, args.repeat, args.paint_repeat = 500, 50, 200, 3, 1
    if args.serve:
        return _serve_only(args)
    size = ["--achievements", str(args.achievements), "--needs", str(args.needs), "--pairings", str(args.pairings)]
    result = run(args, size + (["--postgres-url", args.postgres_url] if args.postgres_url else []))
    params = {k: getattr(args, k) for k in ("achievements", "needs", "pairings", "repeat")}
    paint = result["queue_first_paint_ms"]
    if args.baseline_src is None:
        rows = [[label, r["path"], f"{r['p50']:.1f}", f"{r['p95']:.1f}"] for label, r in result["pages"].items()]
        print(format_table(["page", "path", "p50 ms", "p95 ms"], rows))  # noqa: T201
        if paint:
            print(f"queue first contentful paint in Chromium: median {paint['p50']:.0f} ms, max {paint['max']:.0f} ms")  # noqa: T201
    else:
        rows = [
            [label, r["path"], f"{r['baseline']['p50']:.1f} / {r['baseline']['p95']:.1f}",
             f"{r['this']['p50']:.1f} / {r['this']['p95']:.1f}", f"{r['this']['p50'] / r['baseline']['p50']:.3f}"]
            for label, r in result["pages"].items()
        ]  # fmt: skip
        headers = ["page", "path", "baseline p50 / p95 ms", "this p50 / p95 ms", "p50 ratio"]
        print(format_table(headers, rows))  # noqa: T201
        if paint:
            for label, p in paint.items():
                print(f"queue first contentful paint, {label}: median {p['p50']:.0f} ms, max {p['max']:.0f} ms")  # noqa: T201
    name = f"web_pages-{result['backend']}" + ("-vs-baseline" if args.baseline_src else "")
    path = results_path(name, args.out, args.tiny)
    write_results(path, name, {"params": params, **result}, machine_info=machine())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
