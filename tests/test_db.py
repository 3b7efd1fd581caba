"""Pooled PostgreSQL connections: pinged at checkout only after being idle, replaced when the database dropped them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from matchmaker.db import ping_idle_connections


@pytest.fixture
def engine(postgres_database: str) -> Iterator[Engine]:
    engine = create_engine(postgres_database, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _count_pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    real = engine.dialect.do_ping

    def counting(dbapi_connection: Any) -> bool:
        pings.append(1)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counting)
    return pings


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(postgres_database: str, pid: int) -> None:
    admin = create_engine(postgres_database, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    finally:
        admin.dispose()
    time.sleep(0.1)  # the backend exits asynchronously


def test_a_connection_in_steady_use_is_not_pinged(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    pings = _count_pings(engine, monkeypatch)
    ping_idle_connections(engine, idle_s=60.0)
    pids = {_backend_pid(engine) for _ in range(20)}
    assert len(pids) == 1  # one pooled connection, reused twenty times
    assert pings == []


def test_an_idle_connection_the_database_dropped_is_replaced_unseen(
    engine: Engine, postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = _count_pings(engine, monkeypatch)
    ping_idle_connections(engine, idle_s=0.05)
    first = _backend_pid(engine)
    _terminate(postgres_database, first)  # what a database restart does to every pooled connection
    time.sleep(0.1)
    second = _backend_pid(engine)  # the ping failed, the pool reconnected: the caller never sees the dead one
    assert second != first
    assert len(pings) == 1
    assert _backend_pid(engine) == second  # back in steady use: no ping


def test_without_the_idle_ping_one_statement_fails_and_the_pool_recovers(
    engine: Engine, postgres_database: str
) -> None:
    ping_idle_connections(engine, idle_s=60.0)
    first = _backend_pid(engine)
    _terminate(postgres_database, first)
    with pytest.raises(DBAPIError) as failure:
        _backend_pid(engine)
    assert failure.value.connection_invalidated
    assert _backend_pid(engine) != first  # the disconnect invalidated the pool; the next checkout reconnects


def test_the_suite_finds_a_server_without_a_database_named_test() -> None:
    """Where the configured database does not exist, the suite uses the server's maintenance database to create its
    own (rather than skipping the PostgreSQL half)."""
    from sqlalchemy.engine import make_url

    from tests import conftest

    missing = make_url(conftest.POSTGRES_ADMIN_URL).set(database="no_such_database_for_matchmaker")
    original = conftest.POSTGRES_ADMIN_URL
    conftest.POSTGRES_ADMIN_URL = missing.render_as_string(hide_password=False)
    try:
        engine = conftest._admin_engine()
    finally:
        conftest.POSTGRES_ADMIN_URL = original
    if isinstance(engine, Exception) and "does not exist" not in str(engine):
        pytest.skip(f"no PostgreSQL server answers: {engine}")
    assert not isinstance(engine, Exception), engine
    assert engine.url.database == "postgres"
    engine.dispose()
