"""Ranked pairings for a need or an achievement, free-text search, and matching runs (供需对接清单)."""

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response, status
from sqlalchemy.orm import Session

from matchmaker.api.deps import CredentialsDep, PrincipalDep, SessionDep, StaffDep, in_unit_of_work
from matchmaker.api.downloads import attachment, run_list_names
from matchmaker.kinds import Kind
from matchmaker.schemas.common import Id
from matchmaker.schemas.matching import (
    AchievementMatches,
    DemandMatches,
    MatchParams,
    RunRead,
    RunRequest,
    SearchRequest,
    SearchResult,
    UnmatchedNeeds,
)
from matchmaker.schemas.queries import RunExportParams
from matchmaker.services import matching as svc
from matchmaker.services import runs
from matchmaker.services.access import Principal
from matchmaker.services.indexing import SearchService
from matchmaker.services.transfer import MEDIA_TYPES

router = APIRouter(tags=["matching"])
MatchParamsQ = Annotated[MatchParams, Query()]


def _search(request: Request) -> SearchService:
    search: SearchService = request.app.state.search
    return search


async def _matches(
    request: Request, credentials: CredentialsDep, source: Kind, record_id: Id, params: MatchParams
) -> dict[str, Any]:
    def work(session: Session, principal: Principal) -> dict[str, Any]:
        items = svc.match_record(
            session,
            _search(request),
            source,
            record_id,
            k=params.k,
            policy=params.constraints,
            filters=params,
            principal=principal,
            collapse=params.collapse,
        )
        target: Kind = "achievements" if source == "demands" else "demands"
        return {
            "items": items,
            "k": params.k,
            "constraints": params.constraints,
            "verdict": svc.verdict(items, target),
        }

    return await in_unit_of_work(request, credentials, work)


# The matching routes are async and run authentication, the ranking and the commit in one worker-thread call
# (in_unit_of_work): the hottest path hands work to the thread pool once per request instead of three times, and
# FastAPI validates the returned dict on the event loop (for a sync route it takes one more thread for that).


@router.get("/demands/{record_id}/matches", response_model=AchievementMatches, summary="Achievements that solve a need")
async def demand_matches(
    record_id: Id, request: Request, credentials: CredentialsDep, params: MatchParamsQ
) -> dict[str, Any]:
    """Achievements ranked for one need, each with its explanation; filters apply to the achievements."""
    return await _matches(request, credentials, "demands", record_id, params)


@router.get("/achievements/{record_id}/matches", response_model=DemandMatches, summary="Needs an achievement fits")
async def achievement_matches(
    record_id: Id, request: Request, credentials: CredentialsDep, params: MatchParamsQ
) -> dict[str, Any]:
    """Open needs ranked for one achievement, each with its explanation; filters apply to the needs."""
    return await _matches(request, credentials, "achievements", record_id, params)


@router.post("/search", response_model=SearchResult, summary="Free-text search")
def search(body: SearchRequest, request: Request, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Rank achievements (or needs) for a text, e.g. a need typed by a manager during a phone call."""
    items = svc.search_text(
        session,
        _search(request),
        body.text,
        body.target,
        k=body.k,
        filters=body.filters,
        policy=body.constraints,
        principal=principal,
        collapse=body.collapse,
    )
    return {"items": items, "k": body.k, "target": body.target, "verdict": svc.verdict(items, body.target)}


@router.post(
    "/matching-runs", status_code=status.HTTP_202_ACCEPTED, response_model=RunRead, summary="Start a matching run"
)
def start_run(
    body: RunRequest, request: Request, session: SessionDep, principal: StaffDep, tasks: BackgroundTasks
) -> dict[str, Any]:
    """Rank achievements for every open need in the background; poll GET /matching-runs/{id} for progress."""
    search_service = _search(request)
    run = runs.create_run(
        session,
        k=body.k,
        filters=body.filters,
        achievement_filters=body.achievement_filters,
        constraints=body.constraints,
        model=search_service.embedder.name,
        principal=principal,
        skip_stale=body.skip_stale,
    )
    # The session commits when this function returns (before the response and before background tasks).
    tasks.add_task(request.app.state.jobs.submit_run, run.id)
    return runs.run_summary(run)


@router.get("/matching-runs/{run_id}", response_model=RunRead, summary="Progress of a matching run")
def get_run(run_id: Id, session: SessionDep, principal: StaffDep) -> dict[str, Any]:
    """Status and progress of a run."""
    return runs.run_summary(runs.get_run(session, run_id))


@router.get("/matching-runs/{run_id}/unmatched", response_model=UnmatchedNeeds, summary="Needs without a good match")
def run_unmatched(run_id: Id, session: SessionDep, principal: StaffDep) -> dict[str, Any]:
    """Needs of a run none of whose pairings reached the 可能 band (暂无合适成果): where to look for achievements."""
    items = runs.unmatched_needs(session, run_id)
    return {"items": items, "total": len(items)}


@router.get(
    "/matching-runs/{run_id}/export",
    summary="Export a matching list",
    response_class=Response,
    responses={200: {"content": {MEDIA_TYPES["xlsx"]: {}, MEDIA_TYPES["csv"]: {}}}},
)
def export_run(
    run_id: Id, params: Annotated[RunExportParams, Query()], session: SessionDep, principal: StaffDep
) -> Response:
    """One row per pairing with Chinese headers, sorted by need then rank. A run not done answers 409 unless
    ``partial=true``; its file is then named ``…-partial`` and its sheet says 部分 done/total."""
    content, complete = runs.export_run(session, run_id, params.format, principal, partial=params.partial)
    return attachment(content, MEDIA_TYPES[params.format], *run_list_names(run_id, params.format, partial=not complete))
