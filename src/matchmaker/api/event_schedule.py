"""An event's schedule: solve, the grid, move / pin meetings, check-in, agendas, the table plan and the results."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import HTMLResponse

from matchmaker.api.deps import PrincipalDep, SessionDep
from matchmaker.api.downloads import agenda_names, attachment
from matchmaker.schemas.common import Id
from matchmaker.schemas.events import (
    AgendaParams,
    AgendaRead,
    CheckIn,
    MeetingChange,
    MeetingRead,
    ResultsRead,
    ScheduleBody,
    ScheduleRead,
    TablePlanParams,
)
from matchmaker.services import event_outputs as outputs
from matchmaker.services import event_results
from matchmaker.services import event_schedule as svc
from matchmaker.services.events import get_event

router = APIRouter(prefix="/events/{event_id}", tags=["events"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {XLSX: {}, "text/calendar": {}, "application/json": {}}, "description": "JSON, .xlsx or .ics"}
}


@router.post("/schedule", response_model=ScheduleRead, summary="Schedule the meetings")
def schedule(event_id: Id, body: ScheduleBody, session: SessionDep, principal: PrincipalDep) -> ScheduleRead:
    """Place the accepted requests in slots and at tables with CP-SAT, keeping pinned meetings (staff)."""
    svc.run_schedule(session, event_id, body.time_limit_s, principal)
    return ScheduleRead(**svc.get_schedule(session, event_id, principal))


@router.get("/schedule", response_model=ScheduleRead, summary="The schedule grid")
def get_schedule(event_id: Id, session: SessionDep, principal: PrincipalDep) -> ScheduleRead:
    """Slots, tables, meetings and the accepted requests not placed with the reason (staff)."""
    return ScheduleRead(**svc.get_schedule(session, event_id, principal))


def _meeting(session: SessionDep, principal: PrincipalDep, event_id: Id, meeting_id: Id) -> MeetingRead:
    event = get_event(session, event_id, principal)
    meeting = svc.get_meeting(session, event_id, meeting_id)
    return MeetingRead(**svc.present_meetings(session, event, [meeting], principal)[0])


@router.patch("/meetings/{meeting_id}", response_model=MeetingRead, summary="Move or pin a meeting")
def change_meeting(
    event_id: Id, meeting_id: Id, body: MeetingChange, session: SessionDep, principal: PrincipalDep
) -> MeetingRead:
    """Move a meeting to a free table or slot, or pin it, so that a re-solve keeps it (staff)."""
    svc.change_meeting(session, event_id, meeting_id, body.model_dump(exclude_unset=True), principal)
    return _meeting(session, principal, event_id, meeting_id)


@router.post("/meetings/{meeting_id}/check-in", response_model=MeetingRead, summary="Check a meeting in")
def check_in(event_id: Id, meeting_id: Id, body: CheckIn, session: SessionDep, principal: PrincipalDep) -> MeetingRead:
    """On the day: the meeting was held (met) or not (no_show, with who was missing) (staff)."""
    svc.check_in(session, event_id, meeting_id, body.attendance, body.no_show_participant_ids, principal)
    return _meeting(session, principal, event_id, meeting_id)


@router.get(
    "/participants/{participant_id}/agenda",
    response_model=AgendaRead,
    responses=FILE_RESPONSES,
    summary="A participant's agenda",
)
def participant_agenda(
    event_id: Id,
    participant_id: Id,
    session: SessionDep,
    principal: PrincipalDep,
    params: Annotated[AgendaParams, Query()],
) -> AgendaRead | Response:
    """The participant's meetings in time order, as JSON, a spreadsheet or an .ics calendar (its organisation or
    staff)."""
    agenda = svc.agenda(session, event_id, participant_id, principal)
    if params.format == "xlsx":
        return attachment(outputs.agenda_xlsx(agenda), XLSX, *agenda_names(event_id, participant_id, "xlsx"))
    if params.format == "ics":
        event = get_event(session, event_id, principal)
        names = agenda_names(event_id, participant_id, "ics")
        return attachment(outputs.agenda_ics(agenda, event), "text/calendar", *names)
    return AgendaRead(**agenda)


@router.get(
    "/table-plan",
    response_class=Response,
    response_model=None,
    responses={200: {"content": {XLSX: {}, "text/html": {}}, "description": "spreadsheet or printable page"}},
    summary="The table plan",
)
def table_plan(
    event_id: Id,
    session: SessionDep,
    principal: PrincipalDep,
    params: Annotated[TablePlanParams, Query()],
) -> Response:
    """Every meeting by slot and table, as a spreadsheet or a printable page (staff)."""
    schedule = svc.get_schedule(session, event_id, principal)
    if params.format == "html":
        return HTMLResponse(outputs.table_plan_html(schedule, get_event(session, event_id, principal)))
    name = f"{event_id}.xlsx"
    return attachment(outputs.table_plan_xlsx(schedule), XLSX, f"桌位安排-{name}", f"table-plan-{name}")


@router.get("/results", response_model=ResultsRead, summary="The event's results")
def results(event_id: Id, session: SessionDep, principal: PrincipalDep) -> ResultsRead:
    """Meetings held, no-shows, pairings created and advanced, and how many are signed or landed since (staff)."""
    return ResultsRead(**event_results.results(session, event_id, principal))
