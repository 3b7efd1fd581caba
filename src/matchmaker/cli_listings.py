"""Command line for duplicate listings: `matchmaker duplicates scan | list | merge | undo | not-duplicates`."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from matchmaker.cli_common import command_session, console
from matchmaker.config import Settings

duplicates_app = typer.Typer(help="Duplicate listings: scan, review, merge, undo.", no_args_is_help=True)
KIND_HELP = "achievements or demands"


def _in_session(work: Callable[[Session, Settings], Any]) -> Any:
    settings = Settings()
    with command_session(settings, migrate=True) as session:
        return work(session, settings)


def _print(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, default=str))


@duplicates_app.command("scan")
def scan(kind: Annotated[str, typer.Argument(help=KIND_HELP)]) -> None:
    """Find the probable duplicates of a list (cached embeddings of the configured model) and store them."""
    from matchmaker.search.embedding import create_embedder
    from matchmaker.services.duplicates import scan as run_scan

    def work(session: Session, settings: Settings) -> Any:
        model = create_embedder(settings.embedder, to_simplified=settings.embed_to_simplified).name
        return run_scan(session, kind, model, workers=os.cpu_count() or 1)

    result = _in_session(work)
    console.print(f"{result.records} {kind}: {result.pairs} probable duplicate pairs in {result.groups} groups")
    _print(result.__dict__)


@duplicates_app.command("list")
def list_groups(
    kind: Annotated[str, typer.Argument(help=KIND_HELP)],
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
) -> None:
    """Candidate groups, most probable first (one JSON object)."""
    from matchmaker.services.duplicates import list_groups as groups

    result = _in_session(lambda session, _s: groups(session, kind, None, limit=limit))
    for group in result["items"]:
        console.print(f"[bold]{group['key']}[/bold]  p={group['probability']}")
        for record in group["records"]:
            console.print(
                f"  #{record['id']}  {record['external_id'] or '-'}  {record['title']}  ({record['owner'] or '-'})"
            )
    _print(result)


@duplicates_app.command("merge")
def merge(
    kind: Annotated[str, typer.Argument(help=KIND_HELP)],
    survivor: Annotated[int, typer.Argument(help="id of the record that stays")],
    others: Annotated[list[int], typer.Argument(help="ids of the copies to archive into it")],
) -> None:
    """Merge copies into one survivor (pairings, history and audit move to it; undo restores)."""
    from matchmaker.services.merging import merge as do_merge

    row = _in_session(lambda session, _s: _merge_summary(do_merge(session, kind, survivor, others)))
    console.print(f"merge {row['id']}: {row['merged_ids']} archived into {row['survivor_id']}")
    _print(row)


@duplicates_app.command("undo")
def undo(merge_id: Annotated[int, typer.Argument(help="the merge to undo")]) -> None:
    """Undo a merge exactly."""
    from matchmaker.services.merging import undo as do_undo

    row = _in_session(lambda session, _s: _merge_summary(do_undo(session, merge_id)))
    console.print(f"merge {merge_id} undone: {row['merged_ids']} restored")
    _print(row)


@duplicates_app.command("not-duplicates")
def not_duplicates(
    kind: Annotated[str, typer.Argument(help=KIND_HELP)],
    ids: Annotated[list[int], typer.Argument(help="records that are not duplicates of each other")],
) -> None:
    """Mark records as not duplicates: never proposed again."""
    from matchmaker.services.merging import not_duplicates as mark

    pairs = _in_session(lambda session, _s: len(mark(session, kind, ids)))
    _print({"kind": kind, "pairs": pairs})


def _merge_summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "survivor_id": row.survivor_id,
        "merged_ids": list(row.merged_ids),
        "status": row.status,
        "moved_pairings": len(row.journal.get("moved", [])),
        "folded_pairings": len(row.journal.get("folded", [])),
    }
