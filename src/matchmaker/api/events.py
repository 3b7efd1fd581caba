"""Matchmaking events (项目推介, 供需对接会, 融资路演): the event, its status, participants and meeting requests."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from matchmaker.api.deps import PrincipalDep, SessionDep
from matchmaker.errors import ValidationFailed, field_error
from matchmaker.schemas.common import Id
from matchmaker.schemas.events import (
    EventCreate,
    EventList,
    EventListParams,
    EventRead,
    EventStatsRead,
    EventUpdate,
    ParticipantCreate,
    ParticipantList,
    ParticipantRead,
    ParticipantUpdate,
    ProposeBody,
    ProposeResult,
    RequestCreate,
    RequestList,
    RequestListParams,
    RequestRead,
    StatusChange,
)
from matchmaker.schemas.events import (
    Response as Answer,
)
from matchmaker.services import event_participants as participants_svc
from matchmaker.services import event_requests as requests_svc
from matchmaker.services import event_results
from matchmaker.services import events as svc
from matchmaker.services.indexing import SearchService

router = APIRouter(prefix="/events", tags=["events"])


@router.get("/stats", response_model=EventStatsRead, summary="Event figures")
def event_stats(session: SessionDep, principal: PrincipalDep) -> EventStatsRead:
    """Events per year against the target of 10+, meetings per event, conversion to signed deals, region flows."""
    return EventStatsRead(**event_results.stats(session, principal))


@router.post("", response_model=EventRead, status_code=status.HTTP_201_CREATED, summary="Create an event")
def create_event(body: EventCreate, session: SessionDep, principal: PrincipalDep) -> EventRead:
    """A new event in draft (草稿), its slots computed from the day, meeting length and breaks (staff)."""
    event = svc.create_event(session, body.model_dump(), principal)
    return EventRead(**svc.present_event(event))


@router.get("", response_model=EventList, summary="List events")
def list_events(params: Annotated[EventListParams, Query()], session: SessionDep, principal: PrincipalDep) -> EventList:
    """Events, newest first; members see events past draft."""
    items, total = svc.list_events(
        session, principal, status=params.status, year=params.year, limit=params.limit, offset=params.offset
    )
    return EventList(items=[EventRead(**svc.present_event(e)) for e in items], total=total)


@router.get("/{event_id}", response_model=EventRead, summary="Get an event")
def get_event(event_id: Id, session: SessionDep, principal: PrincipalDep) -> EventRead:
    """One event with its slots and the status moves allowed."""
    return EventRead(**svc.present_event(svc.get_event(session, event_id, principal)))


@router.patch("/{event_id}", response_model=EventRead, summary="Change an event")
def update_event(event_id: Id, body: EventUpdate, session: SessionDep, principal: PrincipalDep) -> EventRead:
    """Change an event (staff); slots and tables only while no meeting is scheduled."""
    event = svc.update_event(session, event_id, body.model_dump(exclude_unset=True), principal)
    return EventRead(**svc.present_event(event))


@router.post("/{event_id}/status", response_model=EventRead, summary="Move an event to another status")
def move_event(event_id: Id, body: StatusChange, session: SessionDep, principal: PrincipalDep) -> EventRead:
    """草稿 → 报名中 → 排期 → 已发布日程 → 进行中 → 已结束; illegal moves answer 409 with the allowed ones. Finishing
    advances the pairings of the meetings held."""
    return EventRead(**svc.present_event(svc.move_event(session, event_id, body.status, principal)))


@router.get("/{event_id}/participants", response_model=ParticipantList, summary="List participants")
def list_participants(event_id: Id, session: SessionDep, principal: PrincipalDep) -> ParticipantList:
    """The organisations taking part, with their records (another member's confidential needs are left out)."""
    items = participants_svc.list_participants(session, event_id, principal)
    return ParticipantList(items=[ParticipantRead(**i) for i in items], total=len(items))


@router.post(
    "/{event_id}/participants",
    response_model=ParticipantRead,
    status_code=status.HTTP_201_CREATED,
    summary="Register a participant",
)
def add_participant(
    event_id: Id, body: ParticipantCreate, session: SessionDep, principal: PrincipalDep
) -> ParticipantRead:
    """Staff register any organisation; a member registers its own while registration is open."""
    participant = participants_svc.add_participant(session, event_id, body.model_dump(exclude_unset=True), principal)
    return ParticipantRead(**participants_svc.present_participants(session, [participant], principal)[0])


@router.patch(
    "/{event_id}/participants/{participant_id}", response_model=ParticipantRead, summary="Change a participant"
)
def update_participant(
    event_id: Id, participant_id: Id, body: ParticipantUpdate, session: SessionDep, principal: PrincipalDep
) -> ParticipantRead:
    """People, records, available slots or cap (staff, or the organisation itself)."""
    participant = participants_svc.update_participant(
        session, event_id, participant_id, body.model_dump(exclude_unset=True), principal
    )
    return ParticipantRead(**participants_svc.present_participants(session, [participant], principal)[0])


@router.delete(
    "/{event_id}/participants/{participant_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    response_model=None,
    summary="Remove a participant",
)
def remove_participant(event_id: Id, participant_id: Id, session: SessionDep, principal: PrincipalDep) -> Response:
    """Remove a participant with its requests and meetings (staff)."""
    participants_svc.remove_participant(session, event_id, participant_id, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{event_id}/requests/propose", response_model=ProposeResult, summary="Propose meetings")
def propose(
    event_id: Id, body: ProposeBody, request: Request, session: SessionDep, principal: PrincipalDep
) -> ProposeResult:
    """Propose meetings from the ranked pairings among the participants' needs and achievements (staff)."""
    search: SearchService = request.app.state.search
    return ProposeResult(**requests_svc.propose(session, search, event_id, body.per_need, body.min_score, principal))


@router.get("/{event_id}/requests", response_model=RequestList, summary="List meeting requests")
def list_requests(
    event_id: Id, params: Annotated[RequestListParams, Query()], session: SessionDep, principal: PrincipalDep
) -> RequestList:
    """Staff see every request; a member those of its organisation (a confidential need's enterprise masked until
    both sides accept)."""
    items = requests_svc.list_requests(session, event_id, principal, status=params.status)
    return RequestList(items=[RequestRead(**i) for i in items], total=len(items))


def _one(session: SessionDep, principal: PrincipalDep, event_id: Id, request_id: Id) -> RequestRead:
    request = requests_svc.get_request(session, event_id, request_id, principal)
    mine = participants_svc.own_participant(session, event_id, principal)
    return RequestRead(**requests_svc.present_requests(session, [request], principal, mine)[0])


@router.post(
    "/{event_id}/requests", response_model=RequestRead, status_code=status.HTTP_201_CREATED, summary="Ask for a meeting"
)
def ask(event_id: Id, body: RequestCreate, session: SessionDep, principal: PrincipalDep) -> RequestRead:
    """A participant asks to meet another (with_participant_id); staff add one between two participants."""
    if body.with_participant_id is None and body.first_participant_id is None:
        raise ValidationFailed(
            "请指明会谈对象",
            fields=[field_error("with_participant_id", "required (staff: first/second_participant_id)")],
        )
    meeting_request = requests_svc.ask(session, event_id, body.model_dump(), principal)
    return _one(session, principal, event_id, meeting_request.id)


@router.post("/{event_id}/requests/{request_id}/response", response_model=RequestRead, summary="Accept or decline")
def respond(event_id: Id, request_id: Id, body: Answer, session: SessionDep, principal: PrincipalDep) -> RequestRead:
    """One side accepts or declines (staff answer for a side named in ``side``)."""
    requests_svc.respond(session, event_id, request_id, body.decision, body.side, principal)
    return _one(session, principal, event_id, request_id)


@router.delete(
    "/{event_id}/requests/{request_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    response_model=None,
    summary="Remove a meeting request",
)
def remove_request(event_id: Id, request_id: Id, session: SessionDep, principal: PrincipalDep) -> Response:
    """A manager removes a request and its meeting."""
    requests_svc.remove(session, event_id, request_id, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
