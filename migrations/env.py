"""Alembic environment: the URL comes from matchmaker's Settings (or an engine handed over by the caller)."""

from __future__ import annotations

from alembic import context

from matchmaker import models  # noqa: F401  (registers the tables on Base.metadata)
from matchmaker.config import Settings
from matchmaker.db import Base, create_db_engine

config = context.config
target_metadata = Base.metadata


def run_offline() -> None:
    settings: Settings = config.attributes.get("settings") or Settings()
    context.configure(
        url=settings.resolved_database_url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = config.attributes.get("engine")
    owned = engine is None
    if engine is None:
        engine = create_db_engine(config.attributes.get("settings") or Settings())
    try:
        with engine.connect() as connection:
            # render_as_batch: SQLite cannot ALTER most things; batch mode rebuilds the table instead.
            context.configure(
                connection=connection, target_metadata=target_metadata, render_as_batch=True, compare_type=True
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
    finally:
        if owned:
            engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
