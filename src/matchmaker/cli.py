"""Command line: `matchmaker serve | db upgrade | import | export | demo`."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.engine import Engine

from matchmaker import db
from matchmaker.cli_common import console, fail
from matchmaker.cli_events import events_app
from matchmaker.cli_listings import duplicates_app
from matchmaker.cli_quality import thesaurus_app
from matchmaker.config import Settings
from matchmaker.errors import MatchmakerError
from matchmaker.services.indexing import SearchService, build_search_service

app = typer.Typer(
    help="matchmaker: technology-transfer supply–demand matchmaking (科技成果供需对接).",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(events_app, name="event")
app.add_typer(thesaurus_app, name="thesaurus")
app.add_typer(duplicates_app, name="duplicates")


class ListKind(StrEnum):
    achievements = "achievements"
    demands = "demands"


class ExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"
    json = "json"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
) -> None:
    """Run the HTTP service (migrates and loads the sample lists first, as configured)."""
    import uvicorn

    from matchmaker.app import prepare_database

    settings = Settings()
    engine = db.create_db_engine(settings)
    prepare_database(settings, engine, db.create_session_factory(engine))
    engine.dispose()
    # Preparation ran once here; the workers must not race each other through it again.
    os.environ["MATCHMAKER_AUTO_MIGRATE"] = "false"
    os.environ["MATCHMAKER_LOAD_SAMPLE_DATA"] = "false"
    console.print(f"matchmaker on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(
        "matchmaker.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="target revision")] = "head") -> None:
    """Run the migrations (to the newest by default)."""
    settings = Settings()
    db.upgrade(settings, revision=revision)
    engine = db.create_db_engine(settings)
    current, heads = db.migration_state(settings, engine)
    engine.dispose()
    console.print(f"database at revision {current} (head: {', '.join(heads)})")


@db_app.command("current")
def db_current() -> None:
    """Show the database's revision and the newest one."""
    settings = Settings()
    engine = db.create_db_engine(settings)
    current, heads = db.migration_state(settings, engine)
    engine.dispose()
    typer.echo(json.dumps({"current": current, "heads": list(heads), "up_to_date": current in heads}))


@app.command("import")
def import_file(
    kind: Annotated[ListKind, typer.Argument(help="which list")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV, XLSX, JSON or JSONL")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="validate and report without writing")] = False,
    atomic: Annotated[bool, typer.Option("--atomic", help="write nothing when any row fails")] = False,
    format: Annotated[str | None, typer.Option(help="file format; default from the extension")] = None,
) -> None:
    """Upsert records by external_id from a file, with a progress bar."""
    from matchmaker.kinds import SPECS
    from matchmaker.services.readers import detect_format, parse_file
    from matchmaker.services.transfer import import_rows

    settings = Settings()
    spec = SPECS[kind.value]
    engine = db.create_db_engine(settings)
    try:
        db.upgrade(settings, engine) if settings.auto_migrate else None
        fmt = detect_format(file.name, format)
        parsed = parse_file(spec, file.read_bytes(), fmt, max_rows=settings.max_import_rows)
        columns = [
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        ]
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(f"importing {kind.value}", total=len(parsed.rows))
            with db.unit_of_work(db.create_session_factory(engine)) as session:
                report = import_rows(
                    session,
                    spec,
                    parsed,
                    filename=file.name,
                    fmt=fmt,
                    dry_run=dry_run,
                    atomic=atomic,
                    progress=lambda n: progress.advance(task, n),
                )
    except MatchmakerError as exc:
        raise fail(exc) from exc
    finally:
        engine.dispose()
    for err in report.errors[:50]:
        console.print(f"[yellow]row {err.row}[/yellow] {err.field}: {err.message}")
    if parsed.ignored_columns:
        console.print(f"ignored columns: {', '.join(parsed.ignored_columns)}")
    typer.echo(report.model_dump_json(exclude={"errors"}))
    if report.failed:
        raise typer.Exit(code=2)


@app.command("export")
def export_file(
    kind: Annotated[ListKind, typer.Argument(help="which list")],
    out: Annotated[Path, typer.Option("--out", "-o", help="file to write")],
    format: Annotated[ExportFormat | None, typer.Option(help="default: from the --out extension")] = None,
    headers: Annotated[str, typer.Option(help="en (field names) or zh (Chinese labels)")] = "en",
) -> None:
    """Write a list to a CSV, XLSX or JSON file."""
    from matchmaker.kinds import SPECS
    from matchmaker.services.records import ListQuery
    from matchmaker.services.transfer import export_records

    fmt = format.value if format else out.suffix.lstrip(".").lower()
    settings = Settings()
    engine = db.create_db_engine(settings)
    try:
        with db.unit_of_work(db.create_session_factory(engine)) as session:
            content = export_records(session, SPECS[kind.value], ListQuery(), fmt, headers=headers)
    except MatchmakerError as exc:
        raise fail(exc) from exc
    finally:
        engine.dispose()
    out.write_bytes(content)
    console.print(f"wrote {out} ({len(content):,} bytes)")


users_app = typer.Typer(help="Accounts.", no_args_is_help=True)
app.add_typer(users_app, name="users")


class Role(StrEnum):
    admin = "admin"
    manager = "manager"
    enterprise = "enterprise"
    institution = "institution"
    expert = "expert"


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="the person's email (their login)")],
    role: Annotated[Role, typer.Option(help="admin, manager (技术经理人), enterprise, institution or expert (专家)")],
    org: Annotated[str | None, typer.Option(help="organisation name (created when new); required for members")] = None,
    password: Annotated[
        str | None, typer.Option(help="login password (≥ 8 characters); omit for a token-only account")
    ] = None,
    print_token: Annotated[
        bool, typer.Option("--print-token", help="also issue and print a personal API token")
    ] = False,
    token_days: Annotated[int, typer.Option(min=1, help="validity of that token in days")] = 365,
) -> None:
    """Create an account (bootstrap managers and members; admins can also use POST /api/v1/users)."""
    from datetime import timedelta

    from matchmaker.services.auth import create_user, issue_token

    settings = Settings()
    engine = db.create_db_engine(settings)
    try:
        db.upgrade(settings, engine) if settings.auto_migrate else None
        with db.unit_of_work(db.create_session_factory(engine)) as session:
            user = create_user(session, email=email, role=role.value, org=org, password=password)
            raw = None
            if print_token:
                _, raw = issue_token(session, user, kind="personal", name="cli", ttl=timedelta(days=token_days))
            user_id = user.id
    except MatchmakerError as exc:
        raise fail(exc) from exc
    finally:
        engine.dispose()
    console.print(f"user {user_id} created: {email} ({role.value}{', ' + org if org else ''})")
    if raw is not None:
        typer.echo(raw)


@app.command()
def demo() -> None:
    """Load (or refresh) the bundled sample supply and demand lists."""
    from matchmaker.services.samples import load_samples

    settings = Settings()
    engine = db.create_db_engine(settings)
    try:
        db.upgrade(settings, engine)
        with db.unit_of_work(db.create_session_factory(engine)) as session:
            created = load_samples(session, settings)
    finally:
        engine.dispose()
    console.print(
        f"sample lists loaded: {created['achievements']} achievements, {created['demands']} demands and "
        f"{created.get('challenges', 0)} challenges created"
    )


def _progress_columns() -> list[object]:
    return [
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    ]


def _open_search(settings: Settings, engine: Engine, *, rebuild: bool = False) -> SearchService:
    """A search service over the configured database, with a progress bar while vectors are embedded."""
    service = build_search_service(settings, db.create_session_factory(engine))
    embedder = service.embedder
    with Progress(*_progress_columns(), console=console, transient=True) as progress:  # type: ignore[arg-type]
        tasks: dict[str, object] = {}

        def report(kind: str, done: int, total: int) -> None:
            if kind not in tasks:
                tasks[kind] = progress.add_task(f"embedding {kind} ({embedder.name})", total=total)
            progress.update(tasks[kind], completed=done)  # type: ignore[arg-type]

        if rebuild:
            service.rebuild(progress=report, save=True)
        else:
            service.start(follow=False, progress=report)
    return service


@app.command()
def reindex() -> None:
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
        service = _open_search(settings, engine, rebuild=True)
        status = service.status()
        calls = service.cache.model_calls
    finally:
        engine.dispose()
    for kind, info in status["lists"].items():
        console.print(f"{kind}: {info['records']} records, index {info['index']}")
    console.print(f"model {status['model']} ({status['dimension']}-d); texts embedded this time: {calls}")


@app.command()
def match(
    demand_id: Annotated[int, typer.Argument(help="id of the need")],
    k: Annotated[int, typer.Option(min=1, max=100, help="how many achievements")] = 10,
    constraints: Annotated[str, typer.Option(help="flag or strict")] = "flag",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Rank achievements for one need and explain each pairing."""
    from rich.table import Table

    from matchmaker.models import Demand
    from matchmaker.services.matching import match_record

    if constraints not in ("flag", "strict"):
        raise typer.BadParameter("constraints must be flag or strict", param_hint="--constraints")
    settings = Settings()
    engine = db.create_db_engine(settings)
    try:
        service = _open_search(settings, engine)
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
    from matchmaker.search.bands import NO_GOOD_ACHIEVEMENT, is_good

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


@app.command("match-list")
def match_list(
    out: Annotated[Path, typer.Option("--out", "-o", help="FILE.xlsx or FILE.csv")],
    k: Annotated[int, typer.Option(min=1, max=100, help="achievements per need")] = 10,
    field: Annotated[list[str] | None, typer.Option(help="only needs of this industrial chain (repeatable)")] = None,
    constraints: Annotated[str, typer.Option(help="flag or strict")] = "flag",
) -> None:
    """Run the matching list (供需对接清单) over all open needs and write it to a spreadsheet."""
    from matchmaker.schemas.matching import MatchFilters
    from matchmaker.services.chunk_pool import default_workers
    from matchmaker.services.run_jobs import execute_run
    from matchmaker.services.runs import create_run, export_run

    fmt = out.suffix.lstrip(".").lower()
    if fmt not in ("xlsx", "csv"):
        raise typer.BadParameter("the output must end in .xlsx or .csv", param_hint="--out")
    settings = Settings()
    engine = db.create_db_engine(settings)
    factory = db.create_session_factory(engine)
    try:
        db.upgrade(settings, engine) if settings.auto_migrate else None
        service = _open_search(settings, engine)
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
        workers = settings.run_workers or default_workers()
        execute_run(factory, service, run_id, workers=workers, chunk_size=settings.run_chunk_size)
        with db.unit_of_work(factory) as session:
            content, _ = export_run(session, run_id, fmt)
    except MatchmakerError as exc:
        raise fail(exc) from exc
    finally:
        engine.dispose()
    out.write_bytes(content)
    console.print(f"matching run {run_id}: wrote {out}")


@app.command("eval")
def evaluate(
    split: Annotated[
        str, typer.Option(help="dev, test, heldout or a split folder (held out: never tune on it)")
    ] = "dev",
    embedders: Annotated[
        str | None, typer.Option(help="comma-separated embedders (default: the one `serve` uses)")
    ] = None,
    thesaurus: Annotated[
        str | None, typer.Option(help="thesaurus file, or 'none' (default: the starter thesaurus, as `serve` seeds)")
    ] = None,
    baselines: Annotated[bool, typer.Option(help="also the BM25 and dense-only rows")] = True,
    as_json: Annotated[Path | None, typer.Option("--json", help="also write the reports as JSON")] = None,
) -> None:
    """Measure what `serve` runs (embedder, Traditional→Simplified, weights, thesaurus) on a judged split: nDCG@10,
    recall@10, MRR, constraint accuracy per slice, beside baselines, and the confidence bands' precision."""
    from matchmaker.cli_quality import run_eval

    run_eval(split, embedders, thesaurus, baselines, as_json)


@app.command("learn-weights")
def learn_weights_command(
    split: Annotated[str, typer.Option(help="evaluation split to compare on (dev: never tune on test)")] = "dev",
    min_each: Annotated[int, typer.Option(min=1, help="fewest accepted and rejected pairings to learn from")] = 10,
) -> None:
    """Learn ranking weights from the managers' decisions and compare them with the current ones on the dev set."""
    from matchmaker.config import project_path
    from matchmaker.search import evaluation
    from matchmaker.search.eval_data import load_split
    from matchmaker.search.ranking import Weights
    from matchmaker.services.learning import learn_weights

    settings = Settings()
    current = Weights.from_dict(settings.ranking_weights)
    engine = db.create_db_engine(settings)
    try:
        with db.unit_of_work(db.create_session_factory(engine)) as session:
            learned = learn_weights(session, current, min_each=min_each)
    except MatchmakerError as exc:
        raise fail(exc) from exc
    finally:
        engine.dispose()
    console.print(
        f"learned from {learned.accepted} accepted and {learned.rejected} rejected pairings "
        f"(training accuracy {learned.train_accuracy:.2f}); coefficients {learned.coefficients}"
    )
    data = load_split(project_path("data") / "eval" / split)
    configs = [
        evaluation.Config(kind="full", embedder=settings.embedder, weights=current, name="current weights"),
        evaluation.Config(kind="full", embedder=settings.embedder, weights=learned.weights, name="learned weights"),
    ]
    reports = evaluation.compare(data, configs)
    typer.echo(evaluation.format_table(reports))
    better = reports[1].mean("ndcg@10") >= reports[0].mean("ndcg@10")
    changed = {k: v for k, v in learned.weights.as_dict().items() if v != current.as_dict()[k]}
    typer.echo(f"MATCHMAKER_RANKING_WEIGHTS='{json.dumps({**settings.ranking_weights, **changed})}'")
    console.print(
        "the learned weights do at least as well on the dev set: set the line above to adopt them"
        if better
        else "the learned weights do worse on the dev set: keep the current ones"
    )


if __name__ == "__main__":  # pragma: no cover
    app()


from matchmaker.cli_challenges import challenges_app  # noqa: E402  (揭榜挂帅 commands)
from matchmaker.cli_jobs import worker  # noqa: E402

app.add_typer(challenges_app, name="challenges")
app.command()(worker)  # `matchmaker worker`: the broker's job worker
