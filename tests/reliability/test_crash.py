"""The crash test: kill -9 of a 2-worker server during writes, an atomic import and a matching run, on SQLite and
PostgreSQL; after the restart every acknowledged write is in the database and in every worker's index, nothing
deleted comes back, the import is all or nothing, and the run is not left `running`. The soak is
``benchmarks/crash_soak.py``."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.conftest import POSTGRES_ADMIN_URL, _admin_engine
from tests.reliability.conftest import free_port
from tests.reliability.crash_harness import Chaos, Findings, Server, drop_database, new_database, verify

CHAOS_S = 4.0


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def crashed(request: pytest.FixtureRequest) -> Iterator[tuple[Chaos, Findings]]:
    """One cycle: start, write, kill -9 mid-way, restart, look."""
    database = None
    url = None
    if request.param == "postgresql":
        admin = _admin_engine()
        if isinstance(admin, Exception):
            pytest.skip(f"no PostgreSQL: {admin}")
        admin.dispose()
        database, url = new_database(POSTGRES_ADMIN_URL)
    server = Server(port=free_port(), database_url=url)
    try:
        server.start()
        chaos = Chaos(server, cycle=1)
        chaos.prepare()
        chaos.run_and_kill(CHAOS_S)
        restart_s = server.start()
        assert "database is locked" not in server.log_text()
        findings = verify(chaos)
        findings.restart_s = restart_s
        yield chaos, findings
    finally:
        server.stop()
        if database is not None:
            drop_database(POSTGRES_ADMIN_URL, database)


def test_the_chaos_wrote_before_the_kill(crashed: tuple[Chaos, Findings]) -> None:
    chaos, _ = crashed
    assert chaos.created, "no create was acknowledged before the kill: the test would prove nothing"
    assert chaos.deleted


def test_every_acknowledged_write_is_in_the_database(crashed: tuple[Chaos, Findings]) -> None:
    _, found = crashed
    assert found.lost == []


def test_nothing_deleted_comes_back(crashed: tuple[Chaos, Findings]) -> None:
    _, found = crashed
    assert found.resurrected == []


def test_the_atomic_import_is_all_or_nothing(crashed: tuple[Chaos, Findings]) -> None:
    _, found = crashed
    assert not found.import_partial


def test_every_worker_index_finds_every_acknowledged_record(crashed: tuple[Chaos, Findings]) -> None:
    _, found = crashed
    assert found.missing_in_index == {}


def test_the_run_finishes_or_is_not_left_running(crashed: tuple[Chaos, Findings]) -> None:
    chaos, _ = crashed
    assert chaos.run_id is not None
    with chaos.server.client() as c:
        deadline = time.monotonic() + 30
        status = c.get(f"/api/v1/matching-runs/{chaos.run_id}").json()["status"]
        while status in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.5)
            status = c.get(f"/api/v1/matching-runs/{chaos.run_id}").json()["status"]
    assert status not in ("queued", "running")
