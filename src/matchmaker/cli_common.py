"""What every command-line group shares: the error console, how a service error ends a command, a command's unit of
work on the configured database, and progress reports of long commands.

Progress (``match-list``, ``reindex``, ``import``, ``eval``) goes to stderr, so results on stdout stay clean: a rich
progress bar in a terminal; elsewhere (a cron job's log, CI) a plain line every :data:`LOG_EVERY_S` seconds and one
at the end; nothing at all with ``--quiet``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.orm import Session

from matchmaker import db
from matchmaker.config import Settings
from matchmaker.errors import MatchmakerError

console = Console(stderr=True)
LOG_EVERY_S = 10.0
Report = Callable[[int, int], None]
"""``report(done, total)``: how far a long command has got."""
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="no progress output (results and errors only)")]


@contextmanager
def progress_reporter(description: str, *, quiet: bool = False, every_s: float = LOG_EVERY_S) -> Iterator[Report]:
    """A ``report(done, total)`` callback: a rich progress bar in a terminal, else a line every ``every_s`` seconds
    (and one when done) on stderr; silent when ``quiet``."""
    if quiet:
        yield lambda done, total: None
        return
    if console.is_terminal:
        columns = (TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn())  # fmt: skip
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(description, total=None)
            yield lambda done, total: progress.update(task, completed=done, total=total)
        return
    last = [float("-inf")]  # the first report is printed at once

    def line(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= every_s or done >= total:
            last[0] = now
            share = f" ({100 * done / total:.0f}%)" if total else ""
            console.print(f"{description}: {done}/{total}{share}", soft_wrap=True, highlight=False)

    yield line


def fail(exc: MatchmakerError) -> typer.Exit:
    """Print a service error with its fields (and rows) and give the exit that ends the command with status 1."""
    console.print(f"[red]error:[/red] {exc.detail}")
    for item in exc.fields[:20]:
        if "column" in item:  # an import row's error names its row and column itself
            console.print(f"  {item.get('message')}", highlight=False)
            continue
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
