"""Command line: `matchmaker serve | db | import | export | users | demo | reindex | match | match-list | eval | ...`
(the matcher's commands are in :mod:`matchmaker.cli_matching`, the quality ones in :mod:`matchmaker.cli_quality`)."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from matchmaker import db
from matchmaker.cli_common import Quiet, console, fail, progress_reporter
from matchmaker.cli_events import events_app
from matchmaker.cli_listings import duplicates_app
from matchmaker.cli_matching import match, match_list, reindex
from matchmaker.cli_quality import learn_weights_command, thesaurus_app
from matchmaker.config import Settings
from matchmaker.errors import MatchmakerError

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

    from matchmaker.app import SUPERVISOR_ENV, prepare_database

    settings = Settings()
    engine = db.create_db_engine(settings)
    prepare_database(settings, engine, db.create_session_factory(engine))
    engine.dispose()
    # Preparation ran once here; the workers must not race each other through it again, nor outlive this process.
    os.environ.update(MATCHMAKER_AUTO_MIGRATE="false", MATCHMAKER_LOAD_SAMPLE_DATA="false")
    os.environ[SUPERVISOR_ENV] = str(os.getpid())
    console.print(f"matchmaker on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(
        "matchmaker.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        timeout_worker_healthcheck=settings.worker_healthcheck_timeout_s,  # a worker embedding is slow to answer
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
    quiet: Quiet = False,
) -> None:
    """Upsert records by external_id from a file, reporting progress while it writes."""
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
        done = [0]
        with progress_reporter(f"importing {kind.value}", quiet=quiet) as report:

            def advance(rows: int) -> None:
                done[0] += rows
                report(done[0], len(parsed.rows))

            with db.unit_of_work(db.create_session_factory(engine)) as session:
                result = import_rows(
                    session, spec, parsed, filename=file.name, fmt=fmt, dry_run=dry_run, atomic=atomic, progress=advance
                )
    except MatchmakerError as exc:
        raise fail(exc) from exc
    finally:
        engine.dispose()
    for err in result.errors[:50]:
        console.print(err.message, highlight=False)
    if parsed.ignored_columns:
        console.print(f"ignored columns: {', '.join(parsed.ignored_columns)}")
    typer.echo(result.model_dump_json(exclude={"errors"}))
    if result.failed:
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


app.command()(reindex)
app.command()(match)
app.command("match-list")(match_list)


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
    quiet: Quiet = False,
) -> None:
    """Measure what `serve` runs (embedder, Traditional→Simplified, weights, thesaurus) on a judged split: nDCG@10,
    recall@10, MRR, constraint accuracy per slice, beside baselines, and the confidence bands' precision."""
    from matchmaker.cli_quality import run_eval

    run_eval(split, embedders, thesaurus, baselines, as_json, quiet)


app.command("learn-weights")(learn_weights_command)


if __name__ == "__main__":  # pragma: no cover
    app()


from matchmaker.cli_challenges import challenges_app  # noqa: E402  (揭榜挂帅 commands)
from matchmaker.cli_jobs import worker  # noqa: E402

app.add_typer(challenges_app, name="challenges")
app.command()(worker)  # `matchmaker worker`: the broker's job worker
