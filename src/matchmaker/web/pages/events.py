"""Matchmaking events in the workspace: the list, one event (participants, requests, the schedule grid with the
unplaced requests), a participant's agenda and the printable table plan — the same services as /api/v1/events."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query, Request, Response
from fastapi.responses import HTMLResponse

from matchmaker.api.deps import SessionDep
from matchmaker.api.downloads import agenda_names, attachment
from matchmaker.services import event_outputs as outputs
from matchmaker.services import event_participants, event_requests, event_schedule
from matchmaker.services import events as svc
from matchmaker.web.deps import WebPrincipalDep, page_router
from matchmaker.web.templating import render

router = page_router()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/events")
def events_page(request: Request, session: SessionDep, principal: WebPrincipalDep) -> Response:
    """Events, newest first (members: those past draft)."""
    items, total = svc.list_events(session, principal, status=None, year=None, limit=200, offset=0)
    return render(request, "events.html", {"events": [svc.present_event(e) for e in items], "total": total})


@router.get("/events/{event_id}")
def event_page(request: Request, session: SessionDep, principal: WebPrincipalDep, event_id: int) -> Response:
    """One event: its facts, participants, requests and, for staff, the schedule grid with the unplaced requests."""
    event = svc.get_event(session, event_id, principal)
    context = {
        "event": svc.present_event(event),
        "participants": event_participants.list_participants(session, event_id, principal),
        "requests": event_requests.list_requests(session, event_id, principal),
        "mine": event_participants.own_participant(session, event_id, principal),
        "schedule": None,
    }
    if principal.is_staff:
        schedule = event_schedule.get_schedule(session, event_id, principal)
        schedule["grid"] = {(m["slot"], m["table"]): m for m in schedule["meetings"]}
        context["schedule"] = schedule
    return render(request, "event.html", context)


@router.get("/events/{event_id}/agenda/{participant_id}")
def agenda_page(
    request: Request,
    session: SessionDep,
    principal: WebPrincipalDep,
    event_id: int,
    participant_id: int,
    format: Annotated[Literal["html", "xlsx", "ics"], Query()] = "html",
) -> Response:
    """A participant's agenda (its organisation or staff), as a page, a spreadsheet or an .ics calendar."""
    agenda = event_schedule.agenda(session, event_id, participant_id, principal)
    if format == "xlsx":
        return attachment(outputs.agenda_xlsx(agenda), XLSX, *agenda_names(event_id, participant_id, "xlsx"))
    if format == "ics":
        event = svc.get_event(session, event_id, principal)
        names = agenda_names(event_id, participant_id, "ics")
        return attachment(outputs.agenda_ics(agenda, event), "text/calendar", *names)
    return render(request, "event_agenda.html", {"agenda": agenda})


@router.get("/events/{event_id}/table-plan")
def table_plan_page(request: Request, session: SessionDep, principal: WebPrincipalDep, event_id: int) -> Response:
    """The printable table plan (staff)."""
    schedule = event_schedule.get_schedule(session, event_id, principal)
    return HTMLResponse(outputs.table_plan_html(schedule, svc.get_event(session, event_id, principal)))
