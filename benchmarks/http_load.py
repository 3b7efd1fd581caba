"""HTTP load on the real service: 2 worker processes on 127.0.0.1, SQLite and PostgreSQL, wrk (and/or locust).

    python benchmarks/http_load.py [--backends sqlite,postgresql] [--generators wrk] [--connections 2,4]
                                   [--duration 60] [--repeats 2] [--rate 340] [--users 34] [--tiny]
                                   [--revisions 106765c,HEAD] [--warmup 5] [--port 8110]

For each backend the script starts ``matchmaker serve --workers 2`` in a subprocess (MATCHMAKER_DATA_DIR = a temporary
folder, the sample lists loaded on first start, OMP_NUM_THREADS = MATCHMAKER_FAISS_THREADS = 1; PostgreSQL: a fresh
database created on 127.0.0.1:5432 and dropped at the end), creates a manager with
``matchmaker users create --role manager --print-token`` and sends that bearer token with every request.

Load, for ``--duration`` seconds per run: 90% GET /api/v1/demands/{id}/matches over the sample needs, 10% writes
(half PATCH /achievements/{id} with a new price and TRL, half POST /achievements with a new text, which is embedded).

* wrk (Debian's ``wrk``, C, the default): a closed loop of ``--connections`` keep-alive connections, one wrk thread
  each, every connection sending its next request when the previous answer arrives; each value in
  ``--connections`` is its own run (``wrk-c2``, ``wrk-c4``). _wrk_mix.lua picks the requests and times each one
  between its request() and response() calls (they alternate on a thread's single connection), so latencies are
  kept per kind of request, which wrk's own summary mixes.
* locust (``--generators locust``; Python, FastHttpUser, headless): ``--users`` users at a constant total of
  ``--rate`` tasks/s (0: as fast as they can). locust is Python on the same two cores as the service, so it takes
  a good part of the CPU it measures; wrk takes a few percent.

Write-to-visible lag, measured beside the load: every ``--probe-interval`` seconds a probe POSTs a new achievement
and then repeats POST /api/v1/search with its text, each time on a new connection, until every worker has returned the
record in ``--confirm`` answers. The response does not say which worker answered and nothing is added to the API for
this: the script asks the kernel which worker process holds the server side of each connection (/proc/net/tcp and
/proc/<pid>/fd of the ``serve`` process's children). A worker's lag is the time from the POST's response to the first
poll it answered with the record (an upper bound: a poll goes out every 20 ms plus its own time, and reaches one of
the workers, so each worker sees one about every 40-60 ms); the probe's lag is the
slowest worker's, and the maximum over probes is reported (also per worker).

Backends alternate within each repeat (sqlite, postgresql, sqlite, ...) on servers started once; medians over repeats.
Loopback only; every subprocess has a deadline.

``--revisions A,B,...`` measures commits side by side (:mod:`_revisions`): each commit's ``src`` and migrations are
exported with ``git archive`` (``worktree`` is this checkout as it is) and served from there with the same
environment. One backend at a time, the servers of every revision run together and their load runs alternate within
each repeat (A, B, A, B, ...); each revision is reported against the first as the median of its per-repeat ratios
(``comparison`` in the JSON), beside the medians of the raw figures.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from _common import (
    ROOT,
    SAMPLE_DIR,
    format_table,
    load_sample_lists,
    log,
    machine,
    median,
    results_path,
    write_results,
)
from _revisions import WORKTREE, Revision, compare, resolve

POSTGRES_ADMIN = os.environ.get("MATCHMAKER_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
LOCUSTFILE = Path(__file__).resolve().parent / "_locustfile.py"
WRK_SCRIPT = Path(__file__).resolve().parent / "_wrk_mix.lua"
MATCH_NAME = "GET /demands/{id}/matches"
TARGET_RPS, TARGET_P99_MS, TARGET_LAG_S = 300.0, 50.0, 2.0
STARTUP_TIMEOUT_S = 300.0
POLL_INTERVAL_S = 0.02  # between a probe's polls: fine enough for a 2 s target without loading the service much


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _matchmaker_bin() -> str:
    found = shutil.which("matchmaker", path=str(Path(sys.executable).parent)) or shutil.which("matchmaker")
    if found is None:
        raise SystemExit("the matchmaker command is not installed in this environment (pip install -e .)")
    return found


@dataclass
class Server:
    """One ``matchmaker serve --workers N`` subprocess and what it needs (database, token, ids)."""

    backend: str
    workers: int
    sample_dir: Path
    revision: Revision | None = None  # None: the code this script runs with
    prime: bool = False  # load and embed the sample lists in one process before the workers start
    port: int = field(default_factory=_free_port)
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mm-bench-http-")))
    database: str | None = None
    process: subprocess.Popen[bytes] | None = None
    token: str = ""
    auth_note: str = ""
    startup_s: float = 0.0
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def label(self) -> str:
        """The backend, after the revision's name when revisions are compared (``106765c/sqlite``)."""
        return self.backend if self.revision is None else f"{self.revision.name}/{self.backend}"

    @property
    def cwd(self) -> Path:
        return ROOT if self.revision is None else self.revision.tree

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MATCHMAKER_")}
        env.update(
            {
                "MATCHMAKER_DATA_DIR": str(self.tmp / "data"),
                "MATCHMAKER_SAMPLE_DATA_DIR": str(self.sample_dir),
                "MATCHMAKER_LOAD_SAMPLE_DATA": "true",
                "MATCHMAKER_ADMIN_PASSWORD": "bench-admin-password",
                "MATCHMAKER_FAISS_THREADS": "1",
                "MATCHMAKER_LOG_LEVEL": "info",
                "OMP_NUM_THREADS": "1",
                "HF_HUB_OFFLINE": "1",
            }
        )
        if self.database is not None:
            env["MATCHMAKER_DATABASE_URL"] = _pg_url(self.database, driver=True)
        if self.revision is not None:  # its package first, whatever the environment installed
            env["PYTHONPATH"] = os.pathsep.join([str(self.revision.src), *filter(None, [env.get("PYTHONPATH")])])
        return env

    def start(self) -> None:
        if self.backend == "postgresql":
            self.database = f"mm_bench_{uuid.uuid4().hex[:10]}"
            _pg_admin(f'CREATE DATABASE "{self.database}"')
        binary = _matchmaker_bin()
        email = "bench-manager@example.com"
        created = subprocess.run(
            [binary, "users", "create", "--email", email, "--role", "manager", "--print-token"],
            env=self.env(),
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        token = [line for line in created.stdout.splitlines() if line.strip()]
        if created.returncode == 0 and token:
            self.token, self.auth_note = token[-1].strip(), "manager token from `matchmaker users create --print-token`"
        else:  # a service without accounts yet: send no header, and say so
            self.auth_note = f"no token (users create failed: {created.stderr.strip()[-200:]})"
            log(f"  {self.label}: {self.auth_note}")
        if self.prime and self.workers > 1:
            # One process first loads the sample lists and embeds them; then the workers start on a filled
            # database and vector cache. Some commits' workers raced to load an empty database together.
            self._serve(binary, 1, self.tmp / "prime.log")
            self.stop_process()
        started = time.perf_counter()
        self._serve(binary, self.workers, self.tmp / "server.log")
        self.startup_s = time.perf_counter() - started

    def _serve(self, binary: str, workers: int, log_path: Path) -> None:
        """Start ``matchmaker serve`` with ``workers`` and wait until every worker has started."""
        self.log_path = log_path
        with log_path.open("wb") as out:
            self.process = subprocess.Popen(
                [binary, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)],
                env=self.env(),
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped as a whole, by its id
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.label} server exited:\n{log_path.read_text()[-3000:]}")
            if log_path.read_text(errors="replace").count("Application startup complete") >= workers:
                return
            time.sleep(0.5)
        raise RuntimeError(f"{self.label} server not ready in {STARTUP_TIMEOUT_S:.0f} s")

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def ids(self, kind: str, limit: int = 200) -> list[int]:
        r = httpx.get(f"{self.url}/api/v1/{kind}", params={"limit": limit}, headers=self.headers(), timeout=30)
        r.raise_for_status()
        return [item["id"] for item in r.json()["items"]]

    def stop_process(self) -> None:
        """Stop the serve process group (SIGINT, then SIGKILL after 20 s)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def stop(self) -> None:
        self.stop_process()
        if self.database is not None:
            with suppress(Exception):
                _pg_admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        shutil.rmtree(self.tmp, ignore_errors=True)


def _pg_url(database: str, *, driver: bool) -> str:
    base = POSTGRES_ADMIN.rsplit("/", 1)[0]
    url = f"{base}/{database}"
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if driver else url


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql)  # type: ignore[arg-type]  # the names are generated here, not user input


# ----------------------------------------------------------------------------------------------- lag probes


def worker_pids(parent: int) -> list[int]:
    """Child processes of the ``serve`` process (uvicorn's workers), from /proc."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == parent:
                    pids.append(int(entry.name))
    return sorted(pids)


def connection_owner(server_port: int, client_port: int, pids: list[int]) -> int | None:
    """The worker whose socket serves our connection (loopback IPv4), from /proc/net/tcp and /proc/<pid>/fd.

    The service's responses do not say which worker answered, and nothing is added to the API for a benchmark: the
    kernel knows which process holds the accepted socket of each connection.
    """
    inode = None
    with suppress(OSError):
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            parts = line.split()
            local, remote = parts[1], parts[2]
            if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
                inode = parts[9]
                break
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in pids:
        with suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return pid
    return None


@dataclass
class Probe:
    """One write followed by searches on new connections until every worker has returned it."""

    record_id: int
    lag_s: float | None  # the slowest worker's lag; None when some worker never showed it before the timeout
    per_worker_s: dict[int, float]
    polls: int
    polls_per_worker: dict[int, int]
    unattributed: int  # polls whose worker could not be identified


def probe_once(server: Server, words: list[str], serial: int, per_worker: int, timeout_s: float) -> Probe:
    """POST a new achievement, then poll the search on fresh connections (see the module docstring)."""
    import http.client
    import random

    text = f"时延探针{serial}号：" + "".join(random.Random(serial).sample(words, min(40, len(words))))
    body = {"title": text[:60], "summary": text, "field": "新材料", "region": "天津", "trl": 6}
    created = httpx.post(f"{server.url}/api/v1/achievements", json=body, headers=server.headers(), timeout=30)
    created.raise_for_status()
    written = time.perf_counter()
    record_id = int(created.json()["id"])
    assert server.process is not None
    pids = worker_pids(server.process.pid)
    payload = json.dumps({"text": text, "target": "achievements", "k": 10}).encode()
    headers = {**server.headers(), "Content-Type": "application/json"}
    first_found: dict[int, float] = {}
    found_count = {pid: 0 for pid in pids}
    polls_per_worker = {pid: 0 for pid in pids}
    polls = unattributed = 0
    while time.perf_counter() - written < timeout_s:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            conn.connect()
            client_port = conn.sock.getsockname()[1]
            sent = time.perf_counter()
            conn.request("POST", "/api/v1/search", body=payload, headers=headers)
            response = conn.getresponse()
            data = response.read()
            owner = connection_owner(server.port, client_port, pids)  # before closing: the socket still exists
        finally:
            conn.close()
        polls += 1
        found = response.status == 200 and any(
            item.get("achievement", {}).get("id") == record_id for item in json.loads(data).get("items", [])
        )
        if owner is None:
            unattributed += 1
            continue
        polls_per_worker[owner] = polls_per_worker.get(owner, 0) + 1
        if found:
            first_found.setdefault(owner, sent - written)
            found_count[owner] = found_count.get(owner, 0) + 1
        elif owner in first_found:  # a worker never loses an applied change; if it does, the first sighting was wrong
            first_found.pop(owner)
            found_count[owner] = 0
        # The serve process may have helper children besides its workers (multiprocessing's resource tracker):
        # done when as many processes as there are workers have each returned the record `per_worker` times.
        confirmed = [pid for pid, n in found_count.items() if n >= per_worker]
        if len(confirmed) >= server.workers:
            lags = {pid: max(0.0, first_found[pid]) for pid in confirmed}
            return Probe(record_id, max(lags.values()), lags, polls, polls_per_worker, unattributed)
        time.sleep(POLL_INTERVAL_S)
    lags = {pid: max(0.0, t) for pid, t in first_found.items()}
    return Probe(record_id, None, lags, polls, polls_per_worker, unattributed)


class Prober(threading.Thread):
    """Runs probes every ``interval`` seconds while the load runs."""

    def __init__(self, server: Server, words: list[str], interval: float, confirm: int, stop_at: float) -> None:
        super().__init__(daemon=True)
        self.server, self.words, self.interval, self.confirm, self.stop_at = server, words, interval, confirm, stop_at
        self.probes: list[Probe] = []
        self.errors: list[str] = []
        self.timeout_s = 15.0

    def run(self) -> None:
        serial = int(time.time()) % 100_000
        time.sleep(min(2.0, self.interval))
        while time.monotonic() + 1.0 < self.stop_at:
            began = time.monotonic()
            serial += 1
            try:
                self.probes.append(probe_once(self.server, self.words, serial, self.confirm, self.timeout_s))
            except Exception as exc:  # reported, never hidden: a failing probe is a result
                self.errors.append(f"{exc.__class__.__name__}: {exc}")
            time.sleep(max(0.0, self.interval - (time.monotonic() - began)))


# ----------------------------------------------------------------------------------------------- load generators

WRK_KINDS = {"get": MATCH_NAME, "patch": "PATCH /achievements/{id}", "post": "POST /achievements"}


def _load_env(server: Server, args: argparse.Namespace, demand_ids: list[int], achievement_ids: list[int]) -> dict:
    """What both load generators' scripts read: token, ids, write share, words (see _locustfile.py)."""
    return {
        **os.environ,
        "BENCH_TOKEN": server.token,
        "BENCH_DEMAND_IDS": ",".join(map(str, demand_ids)),
        "BENCH_ACHIEVEMENT_IDS": ",".join(map(str, achievement_ids)),
        "BENCH_WRITE_SHARE": str(args.write_share),
        "BENCH_WORDS": str(server.tmp / "words.txt"),
    }


def run_wrk(
    server: Server, connections: int, args: argparse.Namespace, demand_ids: list[int], achievement_ids: list[int]
) -> dict[str, dict[str, Any]]:
    """Run wrk (closed loop, ``connections`` connections, one thread each) with _wrk_mix.lua; per-kind figures."""
    out = server.tmp / f"wrk-{time.time_ns()}.txt"
    env = {**_load_env(server, args, demand_ids, achievement_ids), "BENCH_WRK_OUT": str(out)}
    c = str(connections)
    cmd = ["wrk", "-t", c, "-c", c, "-d", f"{args.duration}s", "--timeout", "10s", "-s", str(WRK_SCRIPT), server.url]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.duration + 60, check=False)
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return parse_wrk(out)


def parse_wrk(path: Path) -> dict[str, dict[str, Any]]:
    """Per-endpoint figures (as :func:`parse_stats` gives for locust) from _wrk_mix.lua's files (``path`` and
    ``path.<thread>``): a non-2xx answer or a socket error counts as a failure."""
    samples: dict[str, list[float]] = {kind: [] for kind in WRK_KINDS}
    failed = dict.fromkeys(WRK_KINDS, 0)
    for part in sorted(path.parent.glob(f"{path.name}.*")):
        for line in part.read_text(encoding="utf-8").splitlines():
            kind, status, latency = line.split()
            samples[kind].append(float(latency))
            failed[kind] += not 200 <= int(status) <= 299
    head, *rest = path.read_text(encoding="utf-8").split()
    assert head == "summary", head
    counters = {k: int(v) for k, v in (item.split("=") for item in rest)}
    duration = counters["duration_us"] / 1e6
    socket_errors = sum(counters[k] for k in ("connect", "read", "write", "timeout"))
    out = {WRK_KINDS[kind]: _figures(values, failed[kind], duration) for kind, values in samples.items() if values}
    everything = [v for values in samples.values() for v in values]
    out["Aggregated"] = _figures(everything, sum(failed.values()) + socket_errors, duration)
    out["Aggregated"]["socket_errors"] = socket_errors
    return out


def _figures(values: list[float], failures: int, duration: float) -> dict[str, Any]:
    ordered = sorted(values)

    def pct(q: float) -> float | None:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2) if ordered else None

    return {
        "requests": len(values),
        "failures": failures,
        "rps": round(len(values) / duration, 1),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "mean_ms": round(sum(values) / len(values), 2) if values else None,
        "max_ms": pct(1.0),
    }


def run_locust(server: Server, args: argparse.Namespace, demand_ids: list[int], achievement_ids: list[int]) -> Path:
    """Run locust headless for the configured duration; returns the CSV prefix."""
    prefix = server.tmp / f"locust-{time.time_ns()}"
    env = {
        **_load_env(server, args, demand_ids, achievement_ids),
        "BENCH_USER_RATE": str(args.rate / args.users if args.rate > 0 else 0),
    }
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--only-summary",
        "--host",
        server.url,
        "-u",
        str(args.users),
        "-r",
        str(args.users),
        "-t",
        f"{args.duration}s",
        "--stop-timeout",
        "5",
        "--csv",
        str(prefix),
        "--exit-code-on-error",
        "0",
        "--loglevel",
        "WARNING",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.duration + 120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"locust failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return prefix


def parse_stats(prefix: Path, duration: float) -> dict[str, dict[str, Any]]:
    """Per-endpoint figures from locust's <prefix>_stats.csv."""
    out: dict[str, dict[str, Any]] = {}
    with Path(f"{prefix}_stats.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            name = row["Name"]
            count = int(row["Request Count"])
            out[name] = {
                "requests": count,
                "failures": int(row["Failure Count"]),
                "rps": round(count / duration, 1),
                "p50_ms": _num(row["50%"]),
                "p95_ms": _num(row["95%"]),
                "p99_ms": _num(row["99%"]),
                "mean_ms": round(float(row["Average Response Time"] or 0), 2),
                "max_ms": _num(row["Max Response Time"]),
            }
    failures = Path(f"{prefix}_failures.csv")
    if failures.exists():
        with failures.open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        if rows:
            out.setdefault("Aggregated", {})["failure_kinds"] = [
                {"name": r.get("Name"), "error": r.get("Error"), "count": r.get("Occurrences")} for r in rows[:10]
            ]
    return out


def _num(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def one_run(
    server: Server, generator: str, args: argparse.Namespace, demand_ids: list[int], achievement_ids: list[int]
) -> dict:
    """One load run with lag probes beside it."""
    words = (server.tmp / "words.txt").read_text(encoding="utf-8").split()
    stop_at = time.monotonic() + args.duration
    prober = Prober(server, words, args.probe_interval, args.confirm, stop_at)
    prober.timeout_s = max(3.0, min(15.0, args.duration / 2))
    prober.start()
    started = time.perf_counter()
    if generator.startswith("wrk-c"):
        stats = run_wrk(server, int(generator.removeprefix("wrk-c")), args, demand_ids, achievement_ids)
    else:
        stats = parse_stats(run_locust(server, args, demand_ids, achievement_ids), float(args.duration))
    elapsed = time.perf_counter() - started
    prober.join(timeout=30)
    lags = [p.lag_s for p in prober.probes if p.lag_s is not None]
    return {
        "backend": server.backend,
        "server": server.label,
        "generator": generator,
        "duration_s": args.duration,
        "load_wall_s": round(elapsed, 1),
        "endpoints": stats,
        "lag": {
            "probes": len(prober.probes),
            "unresolved": sum(1 for p in prober.probes if p.lag_s is None),
            "max_s": round(max(lags), 3) if lags else None,
            "p50_s": round(sorted(lags)[len(lags) // 2], 3) if lags else None,
            "polls": sum(p.polls for p in prober.probes),
            "polls_unattributed": sum(p.unattributed for p in prober.probes),
            "workers_seen": sorted({pid for p in prober.probes for pid, n in p.polls_per_worker.items() if n}),
            "per_worker_max_s": _per_worker_max(prober.probes),
            "errors": prober.errors,
            "per_probe_s": [round(x, 3) for x in lags],
        },
    }


def _per_worker_max(probes: list[Probe]) -> dict[str, float]:
    out: dict[str, float] = {}
    for p in probes:
        for pid, lag in p.per_worker_s.items():
            out[str(pid)] = round(max(out.get(str(pid), 0.0), lag), 3)
    return out


def _words() -> list[str]:
    samples = load_sample_lists()
    words = sorted({t for doc in samples.achievement_tokens for t in doc if len(t) >= 2 and not t.isascii()})
    return words


def _generators(spec: str, connections: str) -> list[str]:
    """The requested load generators that can run here (wrk from Debian, locust from PyPI), in order; wrk once per
    number of connections, as ``wrk-c<connections>``."""
    wanted = [g.strip() for g in spec.split(",") if g.strip()]
    unknown = set(wanted) - {"wrk", "locust"}
    if unknown:
        raise SystemExit(f"unknown generator(s): {', '.join(sorted(unknown))} (wrk, locust)")
    found = {"wrk": shutil.which("wrk") is not None, "locust": importlib.util.find_spec("locust") is not None}
    for g in wanted:
        if not found[g]:
            log(f"{g} is not installed here: skipped ({'apt-get install wrk' if g == 'wrk' else 'pip install locust'})")
    usable = [g for g in wanted if found[g]]
    if not usable:
        raise SystemExit("no load generator available: install wrk (Debian) or locust (pip install -e '.[dev]')")
    counts = [int(c) for c in connections.split(",") if c.strip()]
    return [v for g in usable for v in ([f"wrk-c{c}" for c in counts] if g == "wrk" else [g])]


def summarize(runs: list[dict[str, Any]], servers: dict[str, Server]) -> dict[str, dict[str, Any]]:
    """Medians over repeats for each (generator, server): ``summary[generator][label]``, the label being the backend
    (``revision/backend`` when revisions are compared)."""
    summary: dict[str, dict[str, Any]] = {}
    for generator in dict.fromkeys(r["generator"] for r in runs):
        for backend in dict.fromkeys(r["server"] for r in runs):
            mine = [r for r in runs if r["server"] == backend and r["generator"] == generator]
            matches = [r["endpoints"].get(MATCH_NAME, {}) for r in mine]
            total = [r["endpoints"].get("Aggregated", {}) for r in mine]
            lag_max = [r["lag"]["max_s"] for r in mine if r["lag"]["max_s"] is not None]
            s: dict[str, Any] = {
                "match_rps": round(median([m.get("rps", 0.0) for m in matches]), 1),
                "match_p50_ms": round(median([m.get("p50_ms") or 0.0 for m in matches]), 2),
                "match_p95_ms": round(median([m.get("p95_ms") or 0.0 for m in matches]), 2),
                "match_p99_ms": round(median([m.get("p99_ms") or 0.0 for m in matches]), 2),
                "all_rps": round(median([t.get("rps", 0.0) for t in total]), 1),
                "errors": sum(t.get("failures", 0) for t in total),
                "lag_max_s": max(lag_max) if lag_max else None,
                "lag_probes": sum(r["lag"]["probes"] for r in mine),
                "lag_unresolved": sum(r["lag"]["unresolved"] for r in mine),
                "startup_s": round(servers[backend].startup_s, 1),
                "auth": servers[backend].auth_note,
            }
            s["meets_targets"] = bool(
                s["match_rps"] >= TARGET_RPS
                and s["match_p99_ms"] <= TARGET_P99_MS
                and s["errors"] == 0
                and s["lag_max_s"] is not None
                and s["lag_max_s"] <= TARGET_LAG_S
                and s["lag_unresolved"] == 0
            )
            for endpoint in sorted({name for r in mine for name in r["endpoints"]} - {MATCH_NAME, "Aggregated"}):
                values = [r["endpoints"][endpoint] for r in mine if endpoint in r["endpoints"]]
                s.setdefault("writes", {})[endpoint] = {
                    "rps": round(median([v["rps"] for v in values]), 1),
                    "p50_ms": round(median([v["p50_ms"] or 0.0 for v in values]), 2),
                    "p99_ms": round(median([v["p99_ms"] or 0.0 for v in values]), 2),
                    "failures": sum(v["failures"] for v in values),
                }
            summary.setdefault(generator, {})[backend] = s
    return summary


def compare_revisions(
    runs: list[dict[str, Any]], revisions: list[Revision], backends: list[str], generators: list[str]
) -> dict[str, dict[str, Any]]:
    """``comparison[generator][backend][revision]``: each revision against the first, repeat by repeat."""
    out: dict[str, dict[str, Any]] = {}
    for generator in generators:
        for backend in backends:
            per_repeat: dict[str, list[dict[str, float]]] = {}
            for revision in revisions:
                mine = [r for r in runs if r["server"] == f"{revision.name}/{backend}" and r["generator"] == generator]
                per_repeat[revision.name] = [_repeat_figures(r) for r in sorted(mine, key=lambda r: r["repeat"])]
            out.setdefault(generator, {})[backend] = compare(per_repeat, revisions[0].name)
    return out


def _repeat_figures(run: dict[str, Any]) -> dict[str, float]:
    match, total = run["endpoints"].get(MATCH_NAME, {}), run["endpoints"].get("Aggregated", {})
    return {
        "match_rps": match.get("rps"),
        "match_p50_ms": match.get("p50_ms"),
        "match_p99_ms": match.get("p99_ms"),
        "all_rps": total.get("rps"),
    }


def print_comparison(comparison: dict[str, dict[str, Any]]) -> None:
    """One table per generator: each revision's medians and its median ratio to the first revision."""
    headers = ["backend", "revision", "match req/s", "ratio", "p50 ms", "ratio", "p99 ms", "ratio", "verdict"]
    for generator, by_backend in comparison.items():
        print(f"\nside by side, {generator} (ratios: revision / first revision, median over repeats)")
        rows = [
            [
                backend,
                revision,
                *(f[m][key] for m in ("match_rps", "match_p50_ms", "match_p99_ms") for key in ("median", "ratio")),
                f.get("verdict", "baseline"),
            ]
            for backend, by_revision in by_backend.items()
            for revision, f in by_revision.items()
        ]
        print(format_table(headers, rows))


def describe(generator: str, args: argparse.Namespace) -> str:
    if generator.startswith("wrk-c"):
        return f"wrk, {generator.removeprefix('wrk-c')} connections (closed loop, as fast as the service answers)"
    rate = f"at {args.rate:g} tasks/s" if args.rate > 0 else "as fast as they can"
    return f"locust, {args.users} users {rate}"


def run_group(live: list[Server], generators: list[str], args: argparse.Namespace, words: list[str]) -> list[dict]:
    """Start the servers, run every repeat with their load runs alternating, stop them (whatever happens)."""
    runs = []
    try:
        for server in live:
            log(f"starting {server.label} server on {server.url} ({args.workers} workers) ...")
            server.start()
            (server.tmp / "words.txt").write_text("\n".join(words), encoding="utf-8")
            log(f"  ready in {server.startup_s:.1f} s; {server.auth_note}")
        ids = {s.label: (s.ids("demands"), s.ids("achievements")) for s in live}
        for server in live:  # each worker's first requests load what they need (slow on a loaded machine): not timed
            for demand_id in ids[server.label][0][: 2 * server.workers]:  # new connections: any worker may take one
                url = f"{server.url}/api/v1/demands/{demand_id}/matches"
                httpx.get(url, headers=server.headers(), timeout=120).raise_for_status()
        if args.warmup > 0 and shutil.which("wrk"):  # then a short unmeasured load
            for server in live:
                log(f"warming {server.label} up for {args.warmup} s ...")
                run_wrk(server, 2, argparse.Namespace(**{**vars(args), "duration": args.warmup}), *ids[server.label])
        for rep in range(args.repeats):
            for generator in generators:
                for server in live:
                    log(f"repeat {rep + 1}: {server.label}, {describe(generator, args)}, {args.duration} s ...")
                    run = one_run(server, generator, args, *ids[server.label])
                    run["repeat"] = rep + 1
                    runs.append(run)
                    m = run["endpoints"].get(MATCH_NAME, {})
                    log(f"  {m.get('rps')} match req/s, p99 {m.get('p99_ms')} ms; lag max {run['lag']['max_s']} s")
    finally:
        for server in live:
            server.stop()
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--generators", default="wrk", help="wrk and/or locust, comma-separated")
    parser.add_argument("--duration", type=int, default=60, help="seconds of load per run")
    parser.add_argument(
        "--connections", default="2,4", help="wrk: connections (one thread each); a comma-separated list runs each"
    )
    parser.add_argument("--rate", type=float, default=340.0, help="locust: total tasks/s (0: as fast as possible)")
    parser.add_argument("--users", type=int, default=34, help="locust: users")
    parser.add_argument("--write-share", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--probe-interval", type=float, default=3.0)
    parser.add_argument("--confirm", type=int, default=3, help="polls per worker that must find a probe")
    parser.add_argument("--tiny", action="store_true", help="SQLite, 5 s, a sliced sample list: a smoke run")
    parser.add_argument("--out", type=Path, help="JSON path (default benchmarks/results/http_load.json)")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of unmeasured load per server before the runs")
    parser.add_argument("--port", type=int, default=0, help="first of consecutive ports for the servers (0: free ones)")
    parser.add_argument(
        "--revisions",
        default="",
        help=f"git revisions to measure side by side, the first as the baseline ({WORKTREE}: this checkout as it is)",
    )
    args = parser.parse_args(argv)
    if args.tiny:
        args.backends, args.duration, args.repeats, args.rate, args.users = "sqlite", 5, 1, 60.0, 6
        args.probe_interval, args.confirm, args.connections = 2.0, 2, "2"
    generators = _generators(args.generators, args.connections)
    machine_info = machine()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    words = _words()
    sample_tmp = Path(tempfile.mkdtemp(prefix="mm-bench-sample-"))
    sample_dir = SAMPLE_DIR
    if args.tiny:  # 12 achievements and 4 needs: the workers embed 16 texts on start, not 400
        sample_dir = sample_tmp
        for name, keep in (("achievements.jsonl", 12), ("demands.jsonl", 4)):
            lines = (SAMPLE_DIR / name).read_text(encoding="utf-8").splitlines(keepends=True)
            (sample_dir / name).write_text("".join(lines[:keep]), encoding="utf-8")

    names = [r.strip() for r in args.revisions.split(",") if r.strip()]
    trees = Path(tempfile.mkdtemp(prefix="mm-bench-revisions-"))
    servers: dict[str, Server] = {}
    runs: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    try:
        revisions = resolve(ROOT, names, trees)
        # Servers that run at the same time, their load runs alternating: every backend at once, or, when revisions
        # are compared, every revision of one backend at once (the comparison is what must share the same minutes).
        groups = [[(r, b) for r in revisions] for b in backends] if revisions else [[(None, b) for b in backends]]
        for group in groups:
            live = [Server(backend, args.workers, sample_dir, revision, bool(revisions)) for revision, backend in group]
            if args.port:  # fixed ports on a shared machine: the same ones for every group, one after another
                for offset, server in enumerate(live):
                    server.port = args.port + offset
            servers.update((server.label, server) for server in live)
            try:
                runs.extend(run_group(live, generators, args, words))
            except RuntimeError as exc:  # a server that never came up: the other groups' figures still count
                log(f"group {[s.label for s in live]} failed: {exc}")
                failures.append({"servers": [s.label for s in live], "error": str(exc)[-2000:]})
    finally:
        shutil.rmtree(sample_tmp, ignore_errors=True)
        shutil.rmtree(trees, ignore_errors=True)

    summary = summarize(runs, servers)
    comparison = compare_revisions(runs, revisions, backends, generators) if revisions else {}
    headers = ["backend", "match req/s", "p50 ms", "p95 ms", "p99 ms", "all req/s", "errors", "max lag s", "probes"]
    for generator, by_backend in summary.items():
        print(
            f"\n{args.workers} workers, {describe(generator, args)}, {args.write_share:.0%} writes, "
            f"{args.duration} s per run, median of {args.repeats} run(s)"
        )
        rows = [
            [
                backend,
                s["match_rps"],
                s["match_p50_ms"],
                s["match_p95_ms"],
                s["match_p99_ms"],
                s["all_rps"],
                s["errors"],
                s["lag_max_s"] if s["lag_max_s"] is not None else "n/a",
                s["lag_probes"],
            ]
            for backend, s in by_backend.items()
        ]
        print(format_table(headers, rows))
        for backend, s in by_backend.items():
            for endpoint, w in s.get("writes", {}).items():
                print(f"  {backend} {endpoint}: {w['rps']} req/s, p50 {w['p50_ms']} ms, p99 {w['p99_ms']} ms")
            print(
                f"{backend}: targets (≥ {TARGET_RPS:.0f} match req/s at p99 ≤ {TARGET_P99_MS:.0f} ms, 0 errors, "
                f"lag ≤ {TARGET_LAG_S:.0f} s): {'met' if s['meets_targets'] else 'MISSED'}; {s['auth']}"
            )
    write_results(
        results_path("http_load", args.out, args.tiny),
        "http_load",
        {
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "generators": {g: describe(g, args) for g in generators},
            "targets": {"match_rps": TARGET_RPS, "match_p99_ms": TARGET_P99_MS, "lag_s": TARGET_LAG_S},
            "summary": summary,
            "runs": runs,
            "sample_dir": str(sample_dir.relative_to(ROOT)) if sample_dir == SAMPLE_DIR else "sliced sample",
            "revisions": [{"name": r.name, "commit": r.commit} for r in revisions],
            "comparison": comparison,
            "failures": failures,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        machine_info=machine_info,
    )
    if revisions:
        print_comparison(comparison)
    print(json.dumps({g: {b: s["meets_targets"] for b, s in by.items()} for g, by in summary.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
