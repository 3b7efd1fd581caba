"""The pairings managers review: list, one, move / assign / annotate / disclose, history, and statistics."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from matchmaker.api.deps import PrincipalDep, SessionDep, StaffDep
from matchmaker.schemas.common import Id, Items, Page
from matchmaker.schemas.queries import PairingListParams
from matchmaker.schemas.review import HistoryEvent, MatchChange, Pairing, Stats
from matchmaker.services import stats as stats_svc
from matchmaker.services import workflow as svc

router = APIRouter(tags=["review"])


@router.get("/matches", response_model=Page[Pairing], summary="List pairings")
def list_matches(
    params: Annotated[PairingListParams, Query()], session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Pairings the caller may see, filtered, by need then rank."""
    query = svc.MatchQuery(
        statuses=tuple(params.status),
        assignee_id=params.assignee,
        fields=tuple(params.field),
        regions=tuple(params.region),
        run_id=params.run,
        demand_id=params.need,
        achievement_id=params.achievement,
        need_kind=params.need_kind.value if params.need_kind else None,
        limit=params.limit,
        offset=params.offset,
    )
    items, total = svc.list_matches(session, query, principal)
    return {"items": items, "total": total, "limit": params.limit, "offset": params.offset}


@router.get("/matches/{match_id}", response_model=Pairing, summary="Get a pairing")
def get_match(match_id: Id, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """One pairing with its explanation and the moves allowed from its status."""
    return svc.get_match(session, match_id, principal)


@router.patch("/matches/{match_id}", response_model=Pairing, summary="Move, assign or annotate a pairing")
def update_match(match_id: Id, body: MatchChange, session: SessionDep, principal: StaffDep) -> dict[str, Any]:
    """Managers move a pairing (illegal moves answer 409 with the allowed ones), assign it, add notes, disclose."""
    svc.update_match(session, match_id, body.model_dump(mode="json", exclude_unset=True), principal)
    return svc.get_match(session, match_id, principal)


@router.get("/matches/{match_id}/history", response_model=Items[HistoryEvent], summary="History of a pairing")
def match_history(match_id: Id, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Every move of the pairing: from, to, reason, note, who and when."""
    return {"items": svc.history(session, match_id, principal)}


@router.get("/stats", response_model=Stats, summary="Figures for managers")
def stats(
    session: SessionDep, principal: StaffDep, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Any]:
    """Pairings by status, funnel with conversion rates, time in each stage, chains, region flows, managers."""
    return stats_svc.compute(session, principal, since=since, until=until)
