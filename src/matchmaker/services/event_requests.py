"""Meeting requests of an event: proposed from the ranked pairings among participants' records, asked for by a
participant, or added by a manager; each side accepts or declines.

Masking: while a request is not accepted by both sides, a confidential need's enterprise is shown to the other side as
（保密需求）, without its participant id or people; staff and the enterprise itself always see it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from matchmaker.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from matchmaker.models import Achievement, Demand, Organisation
from matchmaker.models.events import Event, EventMeeting, EventParticipant, MeetingRequest
from matchmaker.search.documents import need_doc
from matchmaker.search.matcher import Query
from matchmaker.search.ranking import Ranked
from matchmaker.services.access import MASKED_ENTERPRISE, Principal, require_staff
from matchmaker.services.audit import audit
from matchmaker.services.event_participants import own_participant
from matchmaker.services.events import ROLE_LABELS, get_event
from matchmaker.services.indexing import SearchService
from matchmaker.services.matching import achievement_brief, demand_brief

OPEN_FOR_REQUESTS = ("registration", "scheduling", "published")
HIDDEN_SIDE = "（保密需求）"  # what the other side sees instead of a confidential need's enterprise


def status_of(request: MeetingRequest) -> str:
    """accepted when both sides accepted, declined when one declined, else pending."""
    if "declined" in (request.first_response, request.second_response):
        return "declined"
    if request.first_response == request.second_response == "accepted":
        return "accepted"
    return "pending"


def _open(event: Event) -> None:
    if event.status not in OPEN_FOR_REQUESTS:
        raise Conflict(f"活动处于{event.status}，不能再改会谈申请", fields=[field_error("status", event.status)])


def rank_within(
    search: SearchService, demand: Demand, achievement_ids: list[int], k: int, today: date | None = None
) -> list[Ranked]:
    """The matching core's ranking of one need against only the given achievements (the participants' own).

    The same ranking stage as any match request (semantic + BM25 + constraints, with explanations); the candidates
    are the listed achievements instead of the index's nearest neighbours, with their cosine from the stored vectors.
    """
    matcher = search.matcher
    collection = matcher.lists["achievements"]
    search.sync()
    ids = [i for i in achievement_ids if i in collection.docs]
    if not ids:
        return []
    doc = need_doc(demand)
    vector = matcher.query_vectors([doc.text])[0]
    found, stored = collection.index.vectors(ids)
    hits = list(zip(found, (stored @ vector).tolist(), strict=True))
    tokens = matcher.query_tokens(doc.text)
    query = Query(text=doc.text, facts=doc.facts)
    return matcher.rank_candidates(query, tokens, vector, "achievements", hits, [], k, "flag", today or date.today())


def _pair(first: EventParticipant, second: EventParticipant) -> tuple[EventParticipant, EventParticipant]:
    """Order a pair: the enterprise first, then an investor, else the lower id (the unique key of a request)."""
    order = {"enterprise": 0, "investor": 1, "institution": 2}
    return (first, second) if (order[first.role], first.id) <= (order[second.role], second.id) else (second, first)


def _find(session: Session, event_id: int, first_id: int, second_id: int) -> MeetingRequest | None:
    return session.scalar(
        select(MeetingRequest).where(
            MeetingRequest.event_id == event_id,
            MeetingRequest.first_id == first_id,
            MeetingRequest.second_id == second_id,
        )
    )


def propose(
    session: Session, search: SearchService, event_id: int, per_need: int, min_score: float, principal: Principal | None
) -> dict[str, int]:
    """Propose meetings from the ranked pairings between the enterprises' needs and the institutions' achievements
    (staff). A pair already requested keeps its answers; a better-scoring pairing updates a proposed one."""
    require_staff(principal, "propose meetings")
    event = get_event(session, event_id, principal)
    _open(event)
    participants = list(session.scalars(select(EventParticipant).where(EventParticipant.event_id == event.id)))
    owner_of = {a: p for p in participants if p.role == "institution" for a in p.achievement_ids}
    needs = [(p, d) for p in participants if p.role == "enterprise" for d in p.demand_ids]
    demands = {d.id: d for d in session.scalars(select(Demand).where(Demand.id.in_([d for _, d in needs])))}
    proposed = updated = 0
    for holder, demand_id in needs:
        demand = demands.get(demand_id)
        candidates = [a for a, p in owner_of.items() if p.org_id != holder.org_id]
        if demand is None or not candidates:
            continue
        for ranked in rank_within(search, demand, candidates, per_need):
            if ranked.score < min_score:
                continue
            first, second = _pair(holder, owner_of[ranked.id])
            existing = _find(session, event.id, first.id, second.id)
            explanation = ranked.explanation()
            if existing is None:
                accepted = "accepted" if event.auto_accept else "pending"
                session.add(
                    MeetingRequest(
                        event_id=event.id, first_id=first.id, second_id=second.id, demand_id=demand.id,
                        achievement_id=ranked.id, origin="proposed", first_response=accepted,
                        second_response=accepted, score=ranked.score, explanation=explanation,
                    )
                )  # fmt: skip
                session.flush()
                proposed += 1
            elif existing.origin == "proposed" and (existing.score or 0) < ranked.score:
                existing.demand_id, existing.achievement_id = demand.id, ranked.id
                existing.score, existing.explanation = ranked.score, explanation
                updated += 1
    session.flush()
    audit(session, "event", event.id, "propose", {"proposed": proposed, "updated": updated})
    return {"proposed": proposed, "updated": updated, "needs": len(needs), "achievements": len(owner_of)}


def _participant(session: Session, event_id: int, participant_id: int | None, name: str) -> EventParticipant:
    participant = session.get(EventParticipant, participant_id) if participant_id is not None else None
    if participant is None or participant.event_id != event_id:
        raise ValidationFailed(f"参会单位 {participant_id} 不存在", fields=[field_error(name, "not a participant")])
    return participant


def _check_records(
    session: Session, first: EventParticipant, second: EventParticipant, body: dict[str, Any]
) -> tuple[int | None, int | None]:
    """The need and achievement named must be ones the two sides bring."""
    brought_d = set(first.demand_ids) | set(second.demand_ids)
    brought_a = set(first.achievement_ids) | set(second.achievement_ids)
    demand_id, achievement_id = body.get("demand_id"), body.get("achievement_id")
    if demand_id is not None and demand_id not in brought_d:
        raise ValidationFailed(
            "该需求不是双方携带的需求", fields=[field_error("demand_id", "not brought by either side")]
        )
    if achievement_id is not None and achievement_id not in brought_a:
        raise ValidationFailed(
            "该成果不是双方携带的成果", fields=[field_error("achievement_id", "not brought by either side")]
        )
    return demand_id, achievement_id


def ask(session: Session, event_id: int, body: dict[str, Any], principal: Principal | None) -> MeetingRequest:
    """A participant asks to meet another (its side accepted); staff add one between two participants. Asking for
    a pair already requested marks this side as asking (both asking: a mutual request, scheduled first)."""
    event = get_event(session, event_id, principal)
    _open(event)
    staff = principal is None or principal.is_staff
    if staff:
        a = _participant(session, event.id, body.get("first_participant_id"), "first_participant_id")
        b = _participant(session, event.id, body.get("second_participant_id"), "second_participant_id")
        asker = None
    else:
        asker = own_participant(session, event.id, principal)
        if asker is None:
            raise Forbidden("本单位未报名该活动，不能申请会谈")
        a, b = asker, _participant(session, event.id, body.get("with_participant_id"), "with_participant_id")
    if a.id == b.id:
        raise ValidationFailed("不能与自己会谈", fields=[field_error("with_participant_id", "same participant")])
    first, second = _pair(a, b)
    demand_id, achievement_id = _check_records(session, first, second, body)
    request = _find(session, event.id, first.id, second.id)
    accepted = "accepted" if event.auto_accept else "pending"
    if request is None:
        request = MeetingRequest(
            event_id=event.id, first_id=first.id, second_id=second.id, demand_id=demand_id,
            achievement_id=achievement_id, origin="manager" if staff else "asked", first_response=accepted,
            second_response=accepted, explanation={}, note=body.get("note"),
        )  # fmt: skip
        session.add(request)
    else:
        request.demand_id = demand_id or request.demand_id
        request.achievement_id = achievement_id or request.achievement_id
        request.note = body.get("note") or request.note
    if asker is not None:
        if asker.id == first.id:
            request.asked_by_first, request.first_response = True, "accepted"
        else:
            request.asked_by_second, request.second_response = True, "accepted"
    session.flush()
    audit(
        session,
        "meeting_request",
        request.id,
        "ask",
        {"by": asker.id if asker else "manager", "pair": [first.id, second.id]},
    )
    return request


def get_request(session: Session, event_id: int, request_id: int, principal: Principal | None) -> MeetingRequest:
    """A request of the event: staff any, a member only one its organisation is a side of (404 otherwise)."""
    get_event(session, event_id, principal)
    request = session.get(MeetingRequest, request_id)
    if request is None or request.event_id != event_id:
        raise NotFound(f"会谈申请 {request_id} 不存在")
    if principal is not None and not principal.is_staff:
        mine = own_participant(session, event_id, principal)
        if mine is None or mine.id not in (request.first_id, request.second_id):
            raise NotFound(f"会谈申请 {request_id} 不存在")
    return request


def respond(
    session: Session, event_id: int, request_id: int, decision: str, side: str | None, principal: Principal | None
) -> MeetingRequest:
    """One side accepts or declines; staff answer for the side named. A declined request loses its meeting."""
    request = get_request(session, event_id, request_id, principal)
    _open(get_event(session, event_id, principal))
    if principal is None or principal.is_staff:
        if side is None:
            raise ValidationFailed("请指明代哪一方答复", fields=[field_error("side", "first or second")])
    else:
        if side is not None:
            raise Forbidden("只能答复本单位的一方")
        mine = own_participant(session, event_id, principal)
        side = "first" if mine is not None and mine.id == request.first_id else "second"
    before = getattr(request, f"{side}_response")
    setattr(request, f"{side}_response", decision)
    if status_of(request) != "accepted":
        meeting = session.scalar(select(EventMeeting).where(EventMeeting.request_id == request.id))
        if meeting is not None:
            session.delete(meeting)
    session.flush()
    audit(session, "meeting_request", request.id, "respond", {f"{side}_response": [before, decision]})
    return request


def remove(session: Session, event_id: int, request_id: int, principal: Principal | None) -> None:
    """A manager removes a request (and its meeting)."""
    require_staff(principal, "remove meeting requests")
    request = get_request(session, event_id, request_id, principal)
    _open(get_event(session, event_id, principal))
    audit(session, "meeting_request", request.id, "delete", {"pair": [request.first_id, request.second_id]})
    session.delete(request)
    session.flush()


def list_requests(
    session: Session, event_id: int, principal: Principal | None, *, status: str | None = None
) -> list[dict[str, Any]]:
    """Requests of the event: staff all; a member those its organisation is a side of."""
    get_event(session, event_id, principal)
    stmt = select(MeetingRequest).where(MeetingRequest.event_id == event_id).order_by(MeetingRequest.id)
    mine = own_participant(session, event_id, principal)
    if principal is not None and not principal.is_staff:
        if mine is None:
            return []
        stmt = stmt.where(or_(MeetingRequest.first_id == mine.id, MeetingRequest.second_id == mine.id))
    requests = list(session.scalars(stmt))
    items = present_requests(session, requests, principal, mine)
    return [i for i in items if status is None or i["status"] == status]


def present_requests(
    session: Session, requests: list[MeetingRequest], principal: Principal | None, mine: EventParticipant | None
) -> list[dict[str, Any]]:
    """Requests with both sides, records, score and explanation, masked for the caller."""
    ids = {i for r in requests for i in (r.first_id, r.second_id)}
    parts = {p.id: p for p in session.scalars(select(EventParticipant).where(EventParticipant.id.in_(ids)))}
    names = dict(
        session.execute(
            select(Organisation.id, Organisation.name).where(Organisation.id.in_({p.org_id for p in parts.values()}))
        ).all()
    )
    demands = {
        d.id: d
        for d in session.scalars(select(Demand).where(Demand.id.in_({r.demand_id for r in requests if r.demand_id})))
    }
    achievements = {
        a.id: a
        for a in session.scalars(
            select(Achievement).where(Achievement.id.in_({r.achievement_id for r in requests if r.achievement_id}))
        )
    }
    meetings = dict(
        session.execute(
            select(EventMeeting.request_id, EventMeeting.id).where(
                EventMeeting.request_id.in_([r.id for r in requests])
            )
        ).all()
    )
    staff = principal is None or principal.is_staff
    out = []
    for r in requests:
        demand = demands.get(r.demand_id) if r.demand_id else None
        status = status_of(r)
        # The side holding a confidential need is hidden from the other side until both accept.
        hide_first = bool(
            not staff and demand is not None and demand.confidential and status != "accepted"
            and mine is not None and mine.id != r.first_id and demand.id in parts[r.first_id].demand_ids
        )  # fmt: skip
        sides = {}
        for key, pid, response, asked, hidden in (
            ("first", r.first_id, r.first_response, r.asked_by_first, hide_first),
            ("second", r.second_id, r.second_response, r.asked_by_second, False),
        ):
            p = parts[pid]
            sides[key] = {
                "participant_id": None if hidden else p.id,
                "organisation": HIDDEN_SIDE if hidden else names.get(p.org_id, ""),
                "role": p.role,
                "response": response,
                "asked": asked,
                "hidden": hidden,
            }
        achievement = achievements.get(r.achievement_id) if r.achievement_id else None
        out.append(
            {
                "id": r.id,
                "event_id": r.event_id,
                "origin": r.origin,
                "status": status,
                "mutual": r.asked_by_first and r.asked_by_second,
                "first": sides["first"],
                "second": sides["second"],
                "demand": _need(demand, hide_first),
                "achievement": achievement_brief(achievement) if achievement is not None else None,
                "score": round(r.score, 4) if r.score is not None else None,
                "explanation": r.explanation,
                "note": r.note,
                "meeting_id": meetings.get(r.id),
            }
        )
    return out


def _need(demand: Demand | None, hide: bool) -> dict[str, Any] | None:
    """A need's brief, its enterprise masked when ``hide``."""
    if demand is None:
        return None
    brief = demand_brief(demand)
    return {**brief, **MASKED_ENTERPRISE} if hide else brief


__all__ = ["ROLE_LABELS", "ask", "list_requests", "propose", "remove", "respond", "status_of"]
