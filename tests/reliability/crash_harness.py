"""Kill -9 of a whole `matchmaker serve --workers N` during writes, an import and a matching run; restart; check that
every acknowledged write survived in the database and in every worker's index. Used by ``test_crash.py`` (one short
cycle per backend) and by ``benchmarks/crash_soak.py`` (many cycles)."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
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

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))  # the benchmarks are scripts, not a package
from http_load import connection_owner, worker_pids  # noqa: E402 - which worker holds a connection, from /proc

ADMIN = {"email": "admin@localhost", "password": "crash-admin-password"}
IMPORT_ROWS = 300
INDEX_SAMPLE = 15  # acknowledged creates (and import rows) looked for in every worker's index
STARTUP_TIMEOUT_S = 240.0


def token_of(n: int, cycle: int, what: str = "rec") -> str:
    """A word no other record has, so that a text search finds exactly its record."""
    return f"crash{what}{cycle}x{n}z"


@dataclass
class Server:
    """One `matchmaker serve --workers N` in its own process group, over SQLite or a PostgreSQL database."""

    port: int
    workers: int = 2
    database_url: str | None = None
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mm-crash-")))
    process: subprocess.Popen[bytes] | None = None
    token: str = ""
    starts: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. PYTHONPATH of another checkout's sources

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Start and wait until every worker is up; the seconds it took."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("MATCHMAKER_")}
        env.update(
            MATCHMAKER_DATA_DIR=str(self.root / "data"),
            MATCHMAKER_LOAD_SAMPLE_DATA="false",
            MATCHMAKER_ADMIN_PASSWORD=ADMIN["password"],
            MATCHMAKER_SYNC_INTERVAL_S="0.2",
            MATCHMAKER_JOB_STALE_AFTER_S="5",  # a run the kill interrupted is resumed within seconds
            MATCHMAKER_LOGIN_LIMIT_PER_ADDRESS="1000/minute",
            OMP_NUM_THREADS="1",
        )
        if self.database_url is not None:
            env["MATCHMAKER_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        self.starts += 1
        log_path = self.root / f"server-{self.starts}.log"
        started = time.monotonic()
        with log_path.open("wb") as out:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / "matchmaker"), "serve", "--port", str(self.port),
                 "--workers", str(self.workers)],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        while log_path.read_text(errors="replace").count("Application startup complete") < self.workers:
            text = log_path.read_text(errors="replace")
            if self.process.poll() is not None or "startup failed" in text:
                raise RuntimeError(f"the server did not come up (start {self.starts}):\n{text[-4000:]}")
            if time.monotonic() - started > STARTUP_TIMEOUT_S:
                raise RuntimeError(f"the server was not up after {STARTUP_TIMEOUT_S:.0f} s:\n{text[-4000:]}")
            time.sleep(0.2)
        if not self.token:
            answer = httpx.post(f"{self.url}/api/v1/auth/login", json=ADMIN, timeout=30)
            answer.raise_for_status()
            self.token = answer.json()["access_token"]
        return time.monotonic() - started

    def log_text(self) -> str:
        return (self.root / f"server-{self.starts}.log").read_text(errors="replace")

    def kill(self) -> None:
        """kill -9 of the supervisor and its workers at once."""
        assert self.process is not None
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=120)


def _achievement(token: str) -> dict[str, Any]:
    return {
        "external_id": token,
        "title": f"崩溃测试成果 {token}",
        "summary": f"相变储能材料与温控技术，编号 {token}。",
        "field": "新材料",
        "owner": "北方理工大学",
        "region": "北京",
        "trl": 6,
    }


def _demand(n: int, cycle: int) -> dict[str, Any]:
    return {
        "title": f"冷链运输温控需求 {cycle}-{n}",
        "description": "夏季末端配送时箱内温度超过8℃，需要相变蓄冷材料保持2～8℃。",
        "field": "新材料",
        "enterprise": "津南医药物流有限公司",
        "region": "天津",
    }


@dataclass
class Chaos:
    """Writes while the server is killed; what the server acknowledged (2xx) is what must survive."""

    server: Server
    cycle: int
    created: dict[str, int] = field(default_factory=dict)  # token → id, acknowledged creates
    deleted: set[int] = field(default_factory=set)  # acknowledged deletes
    doomed: list[int] = field(default_factory=list)  # records created before the chaos, to delete during it
    import_tokens: list[str] = field(default_factory=list)
    import_acknowledged: bool = False
    run_id: int | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def prepare(self) -> None:
        """Records to delete during the chaos, and needs for the matching run."""
        with self.server.client() as c:
            for n in range(8):
                token = token_of(n, self.cycle, "del")
                answer = c.post("/api/v1/achievements", json=_achievement(token))
                answer.raise_for_status()
                self.doomed.append(answer.json()["id"])
            for n in range(40):
                c.post("/api/v1/demands", json=_demand(n, self.cycle)).raise_for_status()

    def _creates(self) -> None:
        with self.server.client() as c:
            n = 0
            while not self._stop.is_set():
                token = token_of(n, self.cycle)
                with suppress(httpx.HTTPError):
                    answer = c.post("/api/v1/achievements", json=_achievement(token))
                    if answer.status_code == 201:
                        self.created[token] = answer.json()["id"]
                n += 1

    def _deletes(self) -> None:
        with self.server.client() as c:
            for record_id in self.doomed:
                if self._stop.is_set():
                    return
                with suppress(httpx.HTTPError):
                    if c.delete(f"/api/v1/achievements/{record_id}").status_code == 204:
                        self.deleted.add(record_id)
                time.sleep(0.2)

    def _import(self) -> None:
        self.import_tokens = [token_of(n, self.cycle, "imp") for n in range(IMPORT_ROWS)]
        lines = ["external_id,title,summary,field,owner,region,trl"]
        lines += [",".join(str(v) for v in _achievement(t).values()) for t in self.import_tokens]
        body = ("\n".join(lines) + "\n").encode()
        with self.server.client() as c, suppress(httpx.HTTPError):
            answer = c.post("/api/v1/imports/achievements?atomic=true", files={"file": ("a.csv", body, "text/csv")})
            self.import_acknowledged = answer.status_code == 200

    def run_and_kill(self, seconds: float) -> None:
        """Writes, an import and a matching run for ``seconds``, then kill -9 of the whole server."""
        with self.server.client() as c:
            answer = c.post("/api/v1/matching-runs", json={"k": 5})
            answer.raise_for_status()
            self.run_id = answer.json()["id"]
        threads = [threading.Thread(target=t, daemon=True) for t in (self._creates, self._deletes, self._import)]
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        self.server.kill()
        self._stop.set()
        for thread in threads:
            thread.join(timeout=60)


def _search_once(server: Server, token: str, pids: list[int]) -> tuple[int | None, set[int]]:
    """One free-text search on a new connection: the worker that answered, and the ids it found."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.connect()
        assert conn.sock is not None
        owner = connection_owner(server.port, conn.sock.getsockname()[1], pids)
        body = json.dumps({"text": token, "target": "achievements", "k": 5})
        headers = {"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"}
        conn.request("POST", "/api/v1/search", body=body, headers=headers)
        answer = json.loads(conn.getresponse().read())
        return owner, {item["achievement"]["id"] for item in answer.get("items", [])}
    finally:
        conn.close()


@dataclass
class Findings:
    """What one cycle found after the restart."""

    acknowledged: int = 0  # creates, deletes and import rows the server acknowledged
    lost: list[str] = field(default_factory=list)  # acknowledged, not in the database
    resurrected: list[int] = field(default_factory=list)  # acknowledged deletes that came back
    import_partial: bool = False  # some but not all rows of the atomic import
    missing_in_index: dict[int, list[str]] = field(default_factory=dict)  # worker pid → tokens its index lacks
    run_status: str | None = None
    restart_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.lost or self.resurrected or self.import_partial or self.missing_in_index)


def verify(chaos: Chaos, *, index_wait_s: float = 20.0) -> Findings:
    """After the restart: the database holds every acknowledged write, no acknowledged delete came back, the atomic
    import is all or nothing, and every worker's index finds a sample of the acknowledged records (spread over the
    chaos, so the last creates before the kill are among them)."""
    server, found = chaos.server, Findings()
    assert server.process is not None
    with server.client() as c:
        for token, record_id in chaos.created.items():
            if c.get(f"/api/v1/achievements/{record_id}").status_code != 200:
                found.lost.append(token)
        found.resurrected = [i for i in chaos.deleted if c.get(f"/api/v1/achievements/{i}").status_code != 404]
        imported = c.get("/api/v1/achievements", params={"q": f"crashimp{chaos.cycle}x", "limit": 100}).json()
        sample = {item["external_id"]: item["id"] for item in imported["items"]}
        found.import_partial = 0 < imported["total"] < len(chaos.import_tokens)
        if chaos.import_acknowledged and imported["total"] < len(chaos.import_tokens):
            found.lost.append(f"import: {imported['total']} of {len(chaos.import_tokens)} rows")
        if chaos.run_id is not None:
            found.run_status = c.get(f"/api/v1/matching-runs/{chaos.run_id}").json()["status"]
    found.acknowledged = len(chaos.created) + len(chaos.deleted) + (IMPORT_ROWS if chaos.import_acknowledged else 0)
    pids = [p for p in worker_pids(server.process.pid) if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
    # What every worker must find: the acknowledged creates and a sample of the import (the follower embeds it).
    created = list(chaos.created.items())
    spread = created[:: max(1, len(created) // INDEX_SAMPLE)] + created[-1:]
    expected = dict(spread) | dict(list(sample.items())[:INDEX_SAMPLE])
    for token, record_id in expected.items():
        seen: dict[int, bool] = {}
        deadline = time.monotonic() + index_wait_s
        while time.monotonic() < deadline and not (len(seen) == len(pids) and all(seen.values())):
            owner, ids = _search_once(server, token, pids)
            if owner is not None:
                seen[owner] = seen.get(owner, False) or record_id in ids
        for pid in pids:
            if not seen.get(pid, False):
                found.missing_in_index.setdefault(pid, []).append(token)
    return found


def new_database(admin_url: str) -> tuple[str, str]:
    """A fresh PostgreSQL database: (its name, its SQLAlchemy URL)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"mm_crash_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return name, make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()
