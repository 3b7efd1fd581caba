"""Test databases built by the real migrations: SQLite always, PostgreSQL when a server answers (required in CI)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from matchmaker.app import create_app
from matchmaker.config import Settings
from matchmaker.models import User
from matchmaker.services.auth import create_user, issue_token

POSTGRES_ADMIN_URL = os.environ.get("MATCHMAKER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TABLES_IN_DELETE_ORDER = (
    "job_chunks",
    "proposal_scores",
    "challenge_proposals",
    "challenge_experts",
    "challenge_criteria",
    "challenge_indicators",
    "challenge_events",
    "challenges",
    "event_meetings",
    "meeting_requests",
    "event_participants",
    "events",
    "concept_links",
    "merged_records",
    "duplicate_merges",
    "duplicate_candidates",
    "stale_flags",
    "match_interests",
    "audit_log",
    "landings",
    "tech_contracts",
    "landing_resources",
    "centre_targets",
    "match_events",
    "matches",
    "matching_runs",
    "embeddings",
    "record_changes",
    "achievements",
    "demands",
    "import_batches",
)


def _postgres_required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("MATCHMAKER_TEST_REQUIRE_POSTGRES") == "1"


def _admin_engine() -> Engine | Exception:
    """An AUTOCOMMIT engine that may create databases: the configured URL, or, when its database does not exist
    (a server with no database named ``test``), the same server's ``postgres`` maintenance database."""
    candidates = [make_url(POSTGRES_ADMIN_URL)]
    if candidates[0].database != "postgres":
        candidates.append(candidates[0].set(database="postgres"))
    error: Exception = RuntimeError("no candidate URL")
    for url in candidates:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return engine
        except Exception as exc:
            engine.dispose()
            error = exc
            if "does not exist" not in str(exc):
                break  # no server, or refused: another database of it will not answer either
    return error


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    admin = _admin_engine()
    if isinstance(admin, Exception):
        if _postgres_required():
            pytest.fail(f"PostgreSQL is required here (CI) but {POSTGRES_ADMIN_URL} does not answer: {admin}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_ADMIN_URL}: {admin}")
    name = f"mm_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Which database the test runs against."""
    return str(request.param)


@pytest.fixture(scope="session")
def settings(backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Settings:
    """Settings of the test app: an empty, migrated database of the current backend."""
    data_dir = tmp_path_factory.mktemp(f"data-{backend}")
    url = None if backend == "sqlite" else request.getfixturevalue("postgres_database")
    return Settings(
        data_dir=data_dir,
        database_url=url,
        load_sample_data=False,
        auto_migrate=True,
        max_upload_mb=1,
        max_import_rows=500,
        embedder="use",
        sync_interval_s=0.2,
    )


@pytest.fixture(scope="session")
def app_client(settings: Settings) -> Iterator[TestClient]:
    """One running app per backend (its lifespan runs the migrations), calling as the first admin by default.

    Accounts (organisations, users, tokens) live for the whole session; everything else is emptied per test.
    """
    with TestClient(create_app(settings), raise_server_exceptions=True) as client:
        factory = client.app.state.session_factory  # type: ignore[attr-defined]
        with factory() as session:
            admin = session.scalar(select(User).where(User.email == settings.admin_email))
            assert admin is not None
            _, raw = issue_token(session, admin, kind="personal", name="tests")
            session.commit()
        client.headers["Authorization"] = f"Bearer {raw}"
        yield client


@pytest.fixture
def make_user(app_client: TestClient) -> Callable[..., str]:
    """Create a user with a role (and organisation) and return a bearer token for them."""

    def make(role: str, org: str | None = None, *, password: str | None = None) -> str:
        factory = app_client.app.state.session_factory  # type: ignore[attr-defined]
        with factory() as session:
            user = create_user(
                session, email=f"{role}-{uuid.uuid4().hex[:8]}@test.example", role=role, org=org, password=password
            )
            _, raw = issue_token(session, user, kind="personal", name="tests")
            session.commit()
        return raw

    return make


def _empty_tables(client: TestClient) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    search = client.app.state.search  # type: ignore[attr-defined]
    # The app's change-log follower must not read between the TRUNCATE's table locks (a deadlock on PostgreSQL).
    with search.paused() if search is not None else nullcontext(), engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(TABLES_IN_DELETE_ORDER)} RESTART IDENTITY CASCADE"))
        else:
            for table in TABLES_IN_DELETE_ORDER:
                conn.execute(text(f"DELETE FROM {table}"))
    # Truncation bypasses the change log (whose ids restart too): rebuild the in-memory indexes from the now empty
    # database, as `matchmaker reindex` would.
    if search is not None:
        search.rebuild(save=False)
        search.reload_thesaurus()


@pytest.fixture
def client(app_client: TestClient) -> Iterator[TestClient]:
    """The app's HTTP client over empty lists; every table is emptied after the test."""
    try:
        yield app_client
    finally:
        _empty_tables(app_client)


@pytest.fixture
def session(client: TestClient) -> Iterator[Session]:
    """A session on the test app's database (for checks the API does not expose)."""
    factory = client.app.state.session_factory  # type: ignore[attr-defined]
    with factory() as s:
        yield s


@pytest.fixture
def sample_dir() -> Path:
    """The bundled sample lists."""
    return Path(__file__).resolve().parents[1] / "data" / "sample"


def redis_up() -> bool:
    """Whether a Redis server answers on 127.0.0.1:6379 (the job engine's broker tests need one; CI starts it)."""
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True
