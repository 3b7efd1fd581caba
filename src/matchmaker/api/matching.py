"""Ranked pairings for a need or an achievement, free-text search, and matching runs (供需对接清单)."""

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from matchmaker.api.deps import CredentialsDep, PrincipalDep, SessionDep, in_unit_of_work
from matchmaker.api.records import reject_unknown_params
from matchmaker.errors import ValidationFailed, field_error
from matchmaker.schemas import Id
from matchmaker.search.matcher import Target
from matchmaker.search.ranking import ConstraintPolicy
from matchmaker.services import matching as svc
from matchmaker.services.access import Principal, require_staff
from matchmaker.services.indexing import SearchService
from matchmaker.services.transfer import MEDIA_TYPES

router = APIRouter(tags=["matching"])

MATCH_PARAMS = {"k", "constraints", "field", "region", "trl_min", "trl_max", "modes"}
K = Annotated[int, Query(ge=1, le=100, description="how many pairings (1–100)")]
Policy = Annotated[ConstraintPolicy, Query(description="flag: keep violators ranked down and marked; strict: drop")]
ListParam = Annotated[list[str] | None, Query()]


def _search(request: Request) -> SearchService:
    search: SearchService = request.app.state.search
    return search


def _filters(**values: Any) -> svc.MatchFilters:
    try:
        return svc.MatchFilters(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        fields = [
            field_error(".".join(str(p) for p in e["loc"]), e["msg"].removeprefix("Value error, "))
            for e in exc.errors()
        ]
        raise ValidationFailed("; ".join(f"{f['field']}: {f['message']}" for f in fields), fields=fields) from exc


@dataclass(frozen=True)
class MatchParams:
    """The query parameters both match routes take: how many, the constraint policy and the filters."""

    k: int
    constraints: ConstraintPolicy
    filters: svc.MatchFilters


async def match_params(  # async: no I/O, so it runs on the event loop rather than in a worker thread
    request: Request,
    k: K = 10,
    constraints: Policy = "flag",
    field: ListParam = None,
    region: ListParam = None,
    trl_min: Annotated[int | None, Query(ge=1, le=9)] = None,
    trl_max: Annotated[int | None, Query(ge=1, le=9)] = None,
    modes: ListParam = None,
) -> MatchParams:
    """Validate the match parameters; an unknown one answers 422 (a typo must not silently widen a filter)."""
    reject_unknown_params(request, MATCH_PARAMS)
    filters = _filters(field=field, region=region, trl_min=trl_min, trl_max=trl_max, modes=modes)
    return MatchParams(k=k, constraints=constraints, filters=filters)


MatchParamsDep = Annotated[MatchParams, Depends(match_params)]


async def _matches(
    request: Request, credentials: CredentialsDep, source: Target, record_id: Id, params: MatchParams
) -> dict[str, Any]:
    def work(session: Session, principal: Principal) -> dict[str, Any]:
        items = svc.match_record(
            session,
            _search(request),
            source,
            record_id,
            k=params.k,
            policy=params.constraints,
            filters=params.filters,
            principal=principal,
        )
        return {"items": items, "k": params.k, "constraints": params.constraints}

    return await in_unit_of_work(request, credentials, work)


# The matching routes are async and run authentication, the ranking and the commit in one worker-thread call
# (in_unit_of_work): the hottest path hands work to the thread pool once per request instead of three times, and
# FastAPI validates the returned dict on the event loop (for a sync route it takes one more thread for that).


@router.get("/demands/{record_id}/matches", summary="Achievements that solve a need")
async def demand_matches(
    record_id: Id, request: Request, credentials: CredentialsDep, params: MatchParamsDep
) -> dict[str, Any]:
    """Achievements ranked for one need, each with its explanation; filters apply to the achievements."""
    return await _matches(request, credentials, "demands", record_id, params)


@router.get("/achievements/{record_id}/matches", summary="Needs an achievement fits")
async def achievement_matches(
    record_id: Id, request: Request, credentials: CredentialsDep, params: MatchParamsDep
) -> dict[str, Any]:
    """Open needs ranked for one achievement, each with its explanation; filters apply to the needs."""
    return await _matches(request, credentials, "achievements", record_id, params)


class SearchRequest(BaseModel):
    """A free-text search of one list."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "text": "注塑件表面有银纹，良品率只有85%",
                    "target": "achievements",
                    "k": 10,
                    "filters": {"region": ["北京", "河北"]},
                }
            ]
        },
    )

    text: str = Field(min_length=1, description=f"at most {svc.MAX_QUERY_CHARS} characters (longer: 413)")
    target: Literal["achievements", "demands"] = "achievements"
    k: int = Field(default=10, ge=1, le=100)
    constraints: ConstraintPolicy = "flag"
    filters: svc.MatchFilters = Field(default_factory=svc.MatchFilters)


@router.post("/search", summary="Free-text search")
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
    )
    return {"items": items, "k": body.k, "target": body.target}


class RunRequest(BaseModel):
    """What a matching run ranks."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"k": 10, "filters": {"field": ["新材料"], "region": ["天津"]}, "constraints": "flag"}]
        },
    )

    k: int = Field(default=10, ge=1, le=100)
    filters: svc.MatchFilters = Field(default_factory=svc.MatchFilters, description="which open needs to rank")
    achievement_filters: svc.MatchFilters = Field(
        default_factory=svc.MatchFilters, description="which achievements may be proposed"
    )
    constraints: ConstraintPolicy = "flag"


@router.post("/matching-runs", status_code=status.HTTP_202_ACCEPTED, summary="Start a matching run")
def start_run(
    body: RunRequest, request: Request, session: SessionDep, principal: PrincipalDep, tasks: BackgroundTasks
) -> dict[str, Any]:
    """Rank achievements for every open need in the background; poll GET /matching-runs/{id} for progress."""
    search_service = _search(request)
    run = svc.create_run(
        session,
        k=body.k,
        filters=body.filters,
        achievement_filters=body.achievement_filters,
        constraints=body.constraints,
        model=search_service.embedder.name,
        principal=principal,
    )
    # The session commits when this function returns (before the response and before background tasks).
    tasks.add_task(
        request.app.state.run_in_background, svc.execute_run, request.app.state.session_factory, search_service, run.id
    )
    return svc.run_summary(run)


@router.get("/matching-runs/{run_id}", summary="Progress of a matching run")
def get_run(run_id: Id, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Status and progress of a run."""
    require_staff(principal, "see matching runs")
    return svc.run_summary(svc.get_run(session, run_id))


@router.get(
    "/matching-runs/{run_id}/export",
    summary="Export a matching list",
    response_class=Response,
    responses={200: {"content": {MEDIA_TYPES["xlsx"]: {}, MEDIA_TYPES["csv"]: {}}}},
)
def export_run(
    run_id: Id,
    session: SessionDep,
    principal: PrincipalDep,
    format: Annotated[str, Query(description="xlsx or csv")] = "xlsx",
) -> Response:
    """One row per pairing with Chinese headers, sorted by need then rank."""
    require_staff(principal, "export matching lists")
    content = svc.export_run(session, run_id, format)
    return Response(
        content,
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="matching-run-{run_id}.{format}"'},
    )
