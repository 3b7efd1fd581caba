"""Command line of 揭榜挂帅: `matchmaker challenges publish | export`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from matchmaker.cli_common import command_session, console

challenges_app = typer.Typer(help="揭榜挂帅 challenges (榜单).", no_args_is_help=True)


class BoardFormat(StrEnum):
    xlsx = "xlsx"
    html = "html"


@challenges_app.command("publish")
def publish(
    challenge_id: Annotated[int, typer.Argument(help="id of a challenge in 专家论证 (vetting)")],
    reason: Annotated[str | None, typer.Option(help="note kept in the history")] = None,
) -> None:
    """张榜: publish a vetted challenge (the same checks as the API: indicators, future deadline, expert opinion)."""
    from matchmaker.schemas.challenges import Move
    from matchmaker.services.challenge_flow import move

    with command_session() as session:
        move(session, challenge_id, Move(to="published", reason=reason), None)
    console.print(f"challenge {challenge_id} published (张榜)")


@challenges_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", "-o", help="FILE.xlsx (榜单 spreadsheet) or FILE.html (printable)")],
    format: Annotated[BoardFormat | None, typer.Option(help="default: from the --out extension")] = None,
    ids: Annotated[list[int] | None, typer.Option("--id", help="only these challenges (repeat)")] = None,
) -> None:
    """Write the published challenges (张榜 and later) as a 榜单 spreadsheet or a printable HTML page."""
    from matchmaker.services.challenge_export import board, to_html, to_xlsx

    fmt = format.value if format else out.suffix.lstrip(".").lower()
    if fmt not in ("xlsx", "html"):
        console.print(f"[red]error:[/red] unknown format {fmt!r}: use .xlsx or .html")
        raise typer.Exit(code=2)
    with command_session() as session:
        rows = board(session, ids)
    content = to_xlsx(rows) if fmt == "xlsx" else to_html(rows)
    out.write_bytes(content)
    console.print(f"wrote {out}: {len(rows)} challenge(s), {len(content):,} bytes")
