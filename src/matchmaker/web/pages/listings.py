"""Duplicate and stale listings in the workspace: review candidate groups (merge, not duplicates, undo, scan) and
the stale records to confirm or close (managers: all of them; an enterprise or institution: its own)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request, Response

from matchmaker.api.deps import SessionDep
from matchmaker.errors import ValidationFailed, field_error
from matchmaker.services import duplicates, merging, staleness
from matchmaker.web.deps import WebPrincipalDep, page_router, redirect
from matchmaker.web.templating import render

router = page_router()
KINDS = ("achievements", "demands")


def _kind(value: str) -> str:
    if value not in KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(KINDS)}", fields=[field_error("kind", value)])
    return value


@router.get("/duplicates")
def duplicates_page(
    request: Request, session: SessionDep, principal: WebPrincipalDep, kind: str = "achievements"
) -> Response:
    """Candidate groups of one list, most probable first, and the latest merges."""
    kind = _kind(kind)
    groups = duplicates.list_groups(session, kind, principal, limit=50)
    merges = merging.list_merges(session, kind, principal, limit=20)
    return render(request, "duplicates.html", {"kind": kind, "groups": groups, "merges": merges})


@router.post("/duplicates/scan")
def scan(request: Request, session: SessionDep, principal: WebPrincipalDep, kind: Annotated[str, Form()]) -> Response:
    """Scan the list with the cached embeddings of this process's model."""
    search = request.app.state.search
    duplicates.scan(session, _kind(kind), search.embedder.name if search is not None else None, principal)
    return redirect(f"/duplicates?kind={kind}", request)


@router.post("/duplicates/merge")
def merge(
    request: Request,
    session: SessionDep,
    principal: WebPrincipalDep,
    kind: Annotated[str, Form()],
    survivor: Annotated[int, Form()],
    record: Annotated[list[int], Form()],
) -> Response:
    """Keep the chosen record; archive the group's others into it."""
    merging.merge(session, _kind(kind), survivor, [r for r in record if r != survivor], principal)
    return redirect(f"/duplicates?kind={kind}", request)


@router.post("/duplicates/not-duplicates")
def not_duplicates(
    request: Request,
    session: SessionDep,
    principal: WebPrincipalDep,
    kind: Annotated[str, Form()],
    record: Annotated[list[int], Form()],
) -> Response:
    """The group's records are different achievements (or needs): never proposed again."""
    merging.not_duplicates(session, _kind(kind), record, principal)
    return redirect(f"/duplicates?kind={kind}", request)


@router.post("/duplicates/merges/{merge_id}/undo")
def undo(request: Request, session: SessionDep, principal: WebPrincipalDep, merge_id: int) -> Response:
    """Undo a merge exactly."""
    row = merging.undo(session, merge_id, principal)
    return redirect(f"/duplicates?kind={row.kind}", request)


@router.get("/stale")
def stale_page(request: Request, session: SessionDep, principal: WebPrincipalDep, kind: str = "demands") -> Response:
    """Stale records with the date they close: the owner's prompt, the managers' list."""
    kind = _kind(kind)
    policy = staleness.StalePolicy.from_settings(request.app.state.settings)
    items = staleness.list_stale(session, kind, policy, principal)
    return render(request, "stale.html", {"kind": kind, "items": items})


@router.post("/stale/{kind}/{record_id}/{action}")
def answer(
    request: Request, session: SessionDep, principal: WebPrincipalDep, kind: str, record_id: int, action: str
) -> Response:
    """Confirm (still current) or close a stale record."""
    if action not in ("confirm", "close"):
        raise ValidationFailed("action must be confirm or close", fields=[field_error("action", action)])
    (staleness.confirm if action == "confirm" else staleness.close)(session, _kind(kind), record_id, principal)
    return redirect(f"/stale?kind={kind}", request)
