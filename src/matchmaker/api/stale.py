"""Stale listings: the prompt to confirm or close, the managers' list, and a pass of the job on demand."""

from __future__ import annotations

from fastapi import APIRouter, Request

from matchmaker.api.deps import PrincipalDep, SessionDep
from matchmaker.schemas.common import Id
from matchmaker.schemas.listings import DupKind, StaleCheckRead, StaleCloseRead, StaleConfirmRead, StaleList, StalePass
from matchmaker.services import staleness as svc

router = APIRouter(prefix="/stale", tags=["stale listings"])


def _policy(request: Request) -> svc.StalePolicy:
    return svc.StalePolicy.from_settings(request.app.state.settings)


@router.get("", response_model=StaleList, summary="List stale records")
def list_stale(request: Request, session: SessionDep, principal: PrincipalDep, kind: DupKind = "demands") -> StaleList:
    """Stale needs (or achievements): managers see all, an enterprise or institution its own, to confirm or close."""
    return StaleList.model_validate({"items": svc.list_stale(session, kind, _policy(request), principal)})


@router.post("/{kind}/{record_id}/confirm", response_model=StaleConfirmRead, summary="Confirm a record is current")
def confirm(kind: DupKind, record_id: Id, session: SessionDep, principal: PrincipalDep) -> StaleConfirmRead:
    """The need is still open (the achievement still available): touch it and drop its stale flag."""
    return StaleConfirmRead(kind=kind, id=record_id, updated_at=svc.confirm(session, kind, record_id, principal))


@router.post("/{kind}/{record_id}/close", response_model=StaleCloseRead, summary="Close a stale record")
def close(kind: DupKind, record_id: Id, session: SessionDep, principal: PrincipalDep) -> StaleCloseRead:
    """The need is solved (the achievement no longer offered): close it; it is kept, never deleted."""
    return StaleCloseRead(kind=kind, id=record_id, status=svc.close(session, kind, record_id, principal))


@router.post("/check", response_model=StaleCheckRead, summary="Run the stale-listing job now")
def check(request: Request, session: SessionDep, principal: PrincipalDep) -> StaleCheckRead:
    """Flag newly stale records, clear answered flags and close those past the grace period (managers only)."""
    result = svc.run_now(session, _policy(request), principal)
    return StaleCheckRead(
        demands=StalePass(**result["demands"].__dict__), achievements=StalePass(**result["achievements"].__dict__)
    )
