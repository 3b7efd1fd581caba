"""Command line for events: `matchmaker event load-sample | schedule | export`."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from matchmaker.cli_common import command_session, console
from matchmaker.config import project_path

events_app = typer.Typer(help="Matchmaking events (项目推介, 供需对接会, 融资路演).", no_args_is_help=True)


class Output(StrEnum):
    table_plan = "table-plan"
    agenda = "agenda"


@events_app.command("load-sample")
def load_sample(
    path: Annotated[Path | None, typer.Option(help="event JSON (default: data/sample/event.json)")] = None,
) -> None:
    """Create the sample event from the sample lists, open for registration."""
    from matchmaker.services.event_samples import load_event_file

    with command_session() as session:
        event = load_event_file(session, path or project_path("data") / "sample" / "event.json")
        console.print(f"event {event.id}: {event.title} ({len(event.slots)} slots, {event.tables} tables)")


@events_app.command("schedule")
def schedule(
    event_id: Annotated[int, typer.Argument(help="the event")],
    time_limit: Annotated[float, typer.Option(help="CP-SAT time limit, seconds")] = 8.0,
) -> None:
    """Schedule the accepted requests (CP-SAT, pinned meetings kept) and print the report as JSON."""
    from matchmaker.services.event_schedule import run_schedule

    with command_session() as session:
        report = run_schedule(session, event_id, time_limit, None)
    print(json.dumps(report, ensure_ascii=False, indent=1))


@events_app.command("export")
def export(
    event_id: Annotated[int, typer.Argument(help="the event")],
    what: Annotated[Output, typer.Argument(help="table-plan or agenda")],
    out: Annotated[Path, typer.Option("--out", "-o", help="file: .xlsx, .html (table plan), .ics or .json (agenda)")],
    participant: Annotated[int | None, typer.Option(help="the participant (agenda)")] = None,
) -> None:
    """Write the table plan (.xlsx, .html) or a participant's agenda (.xlsx, .ics, .json)."""
    from matchmaker.services import event_outputs as outputs
    from matchmaker.services.event_schedule import agenda, get_schedule
    from matchmaker.services.events import get_event

    suffix = out.suffix.lower()
    with command_session() as session:
        event = get_event(session, event_id, None)
        if what is Output.table_plan:
            schedule_ = get_schedule(session, event_id, None)
            if suffix not in (".xlsx", ".html"):
                raise typer.BadParameter("the table plan is written as .xlsx or .html", param_hint="--out")
            content = (
                outputs.table_plan_xlsx(schedule_)
                if suffix == ".xlsx"
                else outputs.table_plan_html(schedule_, event).encode()
            )
        else:
            if participant is None:
                raise typer.BadParameter("an agenda needs --participant", param_hint="--participant")
            data = agenda(session, event_id, participant, None)
            writers = {
                ".xlsx": lambda: outputs.agenda_xlsx(data),
                ".ics": lambda: outputs.agenda_ics(data, event),
                ".json": lambda: json.dumps(data, ensure_ascii=False, indent=1).encode(),
            }
            if suffix not in writers:
                raise typer.BadParameter("an agenda is written as .xlsx, .ics or .json", param_hint="--out")
            content = writers[suffix]()
    out.write_bytes(content)
    console.print(f"wrote {out} ({len(content):,} bytes)")
