"""CLI commands over the matcher: `matchmaker reindex`, `match` and `match-list` (registered by :mod:`matchmaker.cli`).

Embedding and a matching run report their progress (:func:`matchmaker.cli_common.progress_reporter`).
"""

from __future__ import annotations

import json
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from matchmaker import db
from matchmaker.cli_common import Quiet, Report, console, fail, progress_reporter
from matchmaker.config import Settings
from matchmaker.errors import MatchmakerError
from matchmaker.services.indexing import SearchService
from matchmaker.services.search_setup import build_search_service

POLL_S = 0.5
"""How often `match-list` reads the run's progress (each batch commits it)."""


def open_search(settings: Settings, engine: Engine, *, rebuild: bool = False, quiet: bool = False) -> SearchService:
    """A search service over the configured database, reporting progress while vectors are embedded."""
    service = build_search_service(settings, db.create_session_factory(engine))
    with ExitStack() as stack:
        reporters: dict[str, Report] = {}

        def report(kind: str, done: int, total: int) -> None:
            if kind not in reporters:  # one bar (or log line) per list, in the order they are embedded
                description = f"embedding {kind} ({service.embedder.name})"
                reporters[kind] = stack.enter_context(progress_reporter(description, quiet=quiet))
            reporters[kind](done, total)

        if rebuild:
            service.rebuild(progress=report, save=True)
        else:
            service.start(follow=False, progress=report)
    return service


def reindex(quiet: Quiet = False) -> None:
    """Rebuild both indexes from the database (cached vectors reused; changed text re-embedded)."""
    settings = Settings()
    engine = db.create_db_engine(settings)
    try:
        db.upgrade(settings, engine) if settings.auto_migrate else None
        if settings.job_broker:  # the missing vectors are embedded by the broker's workers first
            from matchmaker.services.job_broker import reindex_on_workers

            factory = db.create_session_factory(engine)
            sent = reindex_on_workers(factory, build_search_service(settings, factory).embedder.name)
            console.print(f"embedded on the workers: {sent} vectors")
        service = open_search(settings, engine, rebuild=True, quiet=quiet)
        status = service.status()
        calls = service.cache.model_calls
    finally:
        engine.dispose()
    for kind, info in status["lists"].items():
        console.print(f"{kind}: {info['records']} records, index {info['index']}")
    console.print(f"model {status['model']} ({status['dimension']}-d); texts embedded this time: {calls}")


def match(
    demand_id: Annotated[int, typer.Argument(help="id of the need")],
    k: Annotated[int, typer.Option(min=1, max=100, help="how many achievements")] = 10,
    constraints: Annotated[str, typer.Option(help="flag or strict")] = "flag",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Rank achievements for one need and explain each pairing."""
    from rich.table import Table

    from matchmaker.models import Demand
    from matchmaker.search.bands import NO_GOOD_ACHIEVEMENT, is_good
    from matchmaker.services.matching import match_record

    if constraints not in ("flag", "strict"):
        raise typer.BadParameter("constraints must be flag or strict", param_hint="--constraints")
    settings = Settings()
    engine = db.create_db_engine(settings)
    try:
        service = open_search(settings, engine)
        with db.unit_of_work(db.create_session_factory(engine)) as session:
            items = match_record(session, service, "demands", demand_id, k=k, policy=constraints)  # type: ignore[arg-type]
            need = session.get(Demand, demand_id)
            title = f"需求 {need.external_id or need.id}：{need.title}" if need is not None else f"需求 {demand_id}"
    except MatchmakerError as exc:
        raise fail(exc) from exc
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(items, ensure_ascii=False, indent=1))
        return
    out = Console(soft_wrap=False)
    out.print(title, highlight=False)
    # The explanation wraps inside its column (never cut): managers read all of it.
    table = Table("#", "score", "band", "achievement", "region", "trl", show_lines=True)
    table.add_column("why", overflow="fold", ratio=3)
    for column in table.columns[:6]:
        column.overflow = "fold"
    for item in items:
        a = item["achievement"]
        table.add_row(
            str(item["rank"]),
            f"{item['score']:.3f}",
            item.get("band", ""),
            f"{a['external_id'] or a['id']} {a['title']}",
            a["region"],
            str(a["trl"] or "?"),
            item["explanation"]["sentence"],
        )
    out.print(table)
    if not any(is_good(item.get("band", "")) for item in items):
        out.print(NO_GOOD_ACHIEVEMENT, highlight=False)


def run_with_progress(
    factory: sessionmaker[Session], service: SearchService, settings: Settings, run_id: int, *, quiet: bool
) -> None:
    """Execute a matching run on every core (``MATCHMAKER_RUN_WORKERS``), reporting the needs ranked so far (the
    run commits them per chunk) until it ends."""
    from matchmaker.services.chunk_pool import default_workers
    from matchmaker.services.run_jobs import execute_run
    from matchmaker.services.runs import get_run

    failure: list[BaseException] = []
    workers = settings.run_workers or default_workers()

    def work() -> None:
        try:
            execute_run(factory, service, run_id, workers=workers, chunk_size=settings.run_chunk_size)
        except BaseException as exc:  # re-raised in the command's thread below
            failure.append(exc)

    worker = threading.Thread(target=work, name=f"matching-run-{run_id}", daemon=True)
    worker.start()
    with progress_reporter(f"matching run {run_id}: needs ranked", quiet=quiet) as report:
        while True:
            worker.join(POLL_S)
            with factory() as session:
                run = get_run(session, run_id)
                report(run.done, run.total)
            if not worker.is_alive():
                break
    if failure:
        raise failure[0]


def match_list(
    out: Annotated[Path, typer.Option("--out", "-o", help="FILE.xlsx or FILE.csv")],
    k: Annotated[int, typer.Option(min=1, max=100, help="achievements per need")] = 10,
    field: Annotated[list[str] | None, typer.Option(help="only needs of this industrial chain (repeatable)")] = None,
    constraints: Annotated[str, typer.Option(help="flag or strict")] = "flag",
    quiet: Quiet = False,
) -> None:
    """Run the matching list (供需对接清单) over all open needs and write it to a spreadsheet."""
    from matchmaker.schemas.matching import MatchFilters
    from matchmaker.services.runs import create_run, export_run

    fmt = out.suffix.lstrip(".").lower()
    if fmt not in ("xlsx", "csv"):
        raise typer.BadParameter("the output must end in .xlsx or .csv", param_hint="--out")
    settings = Settings()
    engine = db.create_db_engine(settings)
    factory = db.create_session_factory(engine)
    try:
        db.upgrade(settings, engine) if settings.auto_migrate else None
        service = open_search(settings, engine, quiet=quiet)
        with db.unit_of_work(factory) as session:
            run = create_run(
                session,
                k=k,
                filters=MatchFilters(field=field or []),
                achievement_filters=MatchFilters(),
                constraints=constraints,  # type: ignore[arg-type]
                model=service.embedder.name,
            )
            run_id = run.id
        run_with_progress(factory, service, settings, run_id, quiet=quiet)
        with db.unit_of_work(factory) as session:
            content, _ = export_run(session, run_id, fmt)
    except MatchmakerError as exc:
        raise fail(exc) from exc
    finally:
        engine.dispose()
    out.write_bytes(content)
    console.print(f"matching run {run_id}: wrote {out}")
