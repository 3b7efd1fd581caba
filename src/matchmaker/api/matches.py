"""The pairings managers review: list, one, move / assign / annotate / disclose, history, and statistics."""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from matchmaker.api.deps import PrincipalDep, SessionDep
from matchmaker.api.records import reject_unknown_params
from matchmaker.domain import normalise_chain, normalise_region
from matchmaker.errors import ValidationFailed, field_error
from matchmaker.schemas import Id, Offset
from matchmaker.services import stats as stats_svc
from matchmaker.services import workflow as svc

router = APIRouter(tags=["review"])
LIST_PARAMS = {"status", "assignee", "field", "region", "run", "need", "achievement", "limit", "offset"}


def _normalise(values: list[str] | None, fn: Any, name: str) -> tuple[str, ...]:
    try:
        return tuple(fn(v) for v in values or [])
    except ValueError as exc:
        raise ValidationFailed(str(exc), fields=[field_error(name, str(exc))]) from exc


@router.get("/matches", summary="List pairings")
def list_matches(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    status: Annotated[list[str] | None, Query(description="proposed, shortlisted, contacted, ...")] = None,
    assignee: Id | None = None,
    field: Annotated[list[str] | None, Query(description="the need's industrial chain")] = None,
    region: Annotated[list[str] | None, Query(description="the need's region")] = None,
    run: Id | None = None,
    need: Id | None = None,
    achievement: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Pairings the caller may see, filtered, by need then rank."""
    reject_unknown_params(request, LIST_PARAMS)
    query = svc.MatchQuery(
        statuses=tuple(status or ()),
        assignee_id=assignee,
        fields=_normalise(field, normalise_chain, "field"),
        regions=_normalise(region, normalise_region, "region"),
        run_id=run,
        demand_id=need,
        achievement_id=achievement,
        limit=limit,
        offset=offset,
    )
    items, total = svc.list_matches(session, query, principal)
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.get("/matches/{match_id}", summary="Get a pairing")
def get_match(match_id: Id, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """One pairing with its explanation and the moves allowed from its status."""
    return svc.get_match(session, match_id, principal)


class MatchChange(BaseModel):
    """What to change on a pairing; every field is optional."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"status": "shortlisted", "assignee_id": 3, "note": "已电话联系企业，需求仍有效"},
                {"status": "rejected", "reject_reason": "immature", "note": "成熟度不足，企业要求中试验证"},
            ]
        },
    )

    status: Literal["proposed", "shortlisted", "contacted", "meeting", "signed", "landed", "rejected"] | None = None
    reject_reason: (
        Literal["not_relevant", "immature", "too_expensive", "mode_mismatch", "already_solved", "other"] | None
    ) = None
    assignee_id: Id | None = None
    note: str | None = Field(default=None, max_length=2000)
    disclosed: bool | None = Field(
        default=None, description="show a confidential need's enterprise to the institution of this pairing"
    )


@router.patch("/matches/{match_id}", summary="Move, assign or annotate a pairing")
def update_match(match_id: Id, body: MatchChange, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Managers move a pairing (illegal moves answer 409 with the allowed ones), assign it, add notes, disclose."""
    svc.update_match(session, match_id, body.model_dump(exclude_unset=True), principal)
    return svc.get_match(session, match_id, principal)


@router.get("/matches/{match_id}/history", summary="History of a pairing")
def match_history(match_id: Id, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Every move of the pairing: from, to, reason, note, who and when."""
    return {"items": svc.history(session, match_id, principal)}


@router.get("/stats", summary="Figures for managers")
def stats(
    session: SessionDep, principal: PrincipalDep, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Any]:
    """Pairings by status, funnel with conversion rates, time in each stage, chains, region flows, managers."""
    return stats_svc.compute(session, principal, since=since, until=until)
