"""Engine, sessions and the declarative base; migrations are the only way tables are created."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from matchmaker.config import Settings, project_path

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC that always comes back aware (SQLite hands ``DateTime(timezone=True)`` back naive, so
    the API would answer timestamps without a time zone there and with one on PostgreSQL)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Aware values are converted to UTC; naive ones are taken as UTC."""
        if value is None:
            return None
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Stored values are UTC: give them their time zone back."""
        if value is None:
            return None
        return value if value.tzinfo else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers go on while one writer commits; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_db_engine(settings: Settings) -> Engine:
    """Build the engine for the configured database (SQLite file under data_dir by default)."""
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, pool_size=settings.db_pool_size, max_overflow=10)
    ping_idle_connections(engine)
    return engine


PING_AFTER_IDLE_S = 1.0
"""Seconds a pooled connection may sit idle before its next checkout pings it (:func:`ping_idle_connections`)."""


def ping_idle_connections(engine: Engine, idle_s: float = PING_AFTER_IDLE_S) -> None:
    """Ping a pooled connection at checkout only when it has been idle for more than ``idle_s`` seconds.

    ``pool_pre_ping`` pings at every checkout: one more round trip per request, which a busy service pays hundreds of
    times a second while a connection idle for a few milliseconds is as good as the last statement it ran. A dead
    connection (the database restarted while the pool was idle) fails its ping and is replaced before the caller sees
    it, as with ``pool_pre_ping``. A restart under load fails the statements in flight either way; the first error
    then invalidates every older pooled connection (SQLAlchemy's disconnect handling), so later requests reconnect.
    """
    dialect = engine.dialect

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.pop("matchmaker_checked_in", None)
        if returned is None or time.monotonic() - returned <= idle_s:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool discards this connection and checks out a fresh one
            raise DisconnectionError(f"stale pooled connection: {exc}") from exc

    def checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["matchmaker_checked_in"] = time.monotonic()

    event.listen(engine.pool, "checkout", checkout)
    event.listen(engine.pool, "checkin", checkin)


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (responses are built after the commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


class UnitOfWork:
    """One transaction: commit on success, roll back on any error, close the session either way; then, after a
    commit, ``after_commit(session)`` (the request's index catch-up).

    A context manager whose two halves may run in different places: the request dependency opens it on the event
    loop (no I/O) and ends it in a worker thread; the matching routes and the CLI run all of it in one ``with``.
    """

    __slots__ = ("_after_commit", "_factory", "session")

    def __init__(self, factory: sessionmaker[Session], after_commit: Callable[[Session], None] | None = None) -> None:
        self._factory = factory
        self._after_commit = after_commit
        self.session: Session | None = None

    def __enter__(self) -> Session:
        self.session = self._factory()
        return self.session

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> Literal[False]:
        session = self.session
        assert session is not None, "the unit of work was not entered"
        try:
            if exc_type is None:
                session.commit()
            else:
                session.rollback()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        if exc_type is None and self._after_commit is not None:
            self._after_commit(session)
        return False  # an error in the work propagates


def unit_of_work(factory: sessionmaker[Session], after_commit: Callable[[Session], None] | None = None) -> UnitOfWork:
    """One transaction (see :class:`UnitOfWork`): ``with unit_of_work(factory) as session: ...``."""
    return UnitOfWork(factory, after_commit)


def alembic_config(settings: Settings, engine: Engine | None = None) -> Config:
    """Alembic configuration pointing at migrations/ and at this settings' database."""
    script_location = settings.migrations_dir or project_path("migrations")
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", settings.resolved_database_url.replace("%", "%%"))
    cfg.attributes["settings"] = settings
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def upgrade(settings: Settings, engine: Engine | None = None, revision: str = "head") -> None:
    """Run the migrations up to `revision`."""
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings, engine), revision)


def migration_state(settings: Settings, engine: Engine) -> tuple[str | None, tuple[str, ...]]:
    """The database's current revision and the heads of the migration scripts."""
    script = ScriptDirectory.from_config(alembic_config(settings))
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, tuple(script.get_heads())
