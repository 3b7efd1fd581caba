"""What every command-line group shares: the error console, how a service error ends a command, and a command's
unit of work on the configured database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from matchmaker import db
from matchmaker.config import Settings
from matchmaker.errors import MatchmakerError

console = Console(stderr=True)


def fail(exc: MatchmakerError) -> typer.Exit:
    """Print a service error with its fields (and rows) and give the exit that ends the command with status 1."""
    console.print(f"[red]error:[/red] {exc.detail}")
    for item in exc.fields[:20]:
        where = f"row {item['row']}, " if "row" in item else ""
        console.print(f"  {where}{item.get('field')}: {item.get('message')}")
    return typer.Exit(code=1)


@contextmanager
def command_session(settings: Settings | None = None, *, migrate: bool = False) -> Iterator[Session]:
    """One unit of work for a command (committed when the block ends); a service error ends the command with status
    1 and its fields; the engine is disposed either way. ``migrate`` first upgrades the schema when auto-migrate is
    on."""
    settings = settings or Settings()
    engine = db.create_db_engine(settings)
    try:
        if migrate and settings.auto_migrate:
            db.upgrade(settings, engine)
        with db.unit_of_work(db.create_session_factory(engine)) as session:
            yield session
    except MatchmakerError as exc:
        raise fail(exc) from exc
    finally:
        engine.dispose()
