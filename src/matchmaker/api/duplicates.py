"""Duplicate listings for managers: candidate groups, scan, merge, undo, not duplicates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from matchmaker.api.deps import PrincipalDep, SessionDep
from matchmaker.models.dedup import DuplicateMerge
from matchmaker.schemas.common import MAX_DB_INT, Id
from matchmaker.schemas.listings import (
    DupKind,
    DuplicateGroupList,
    DuplicateScanRead,
    DuplicateScanRequest,
    MergeList,
    MergeRead,
    MergeRequest,
    NotDuplicatesRead,
    NotDuplicatesRequest,
)
from matchmaker.services import duplicates as svc
from matchmaker.services import merging

router = APIRouter(prefix="/duplicates", tags=["duplicates"])


def _merge_read(row: DuplicateMerge) -> MergeRead:
    return MergeRead(
        id=row.id,
        kind=row.kind,
        survivor_id=row.survivor_id,
        merged_ids=list(row.merged_ids),
        status=row.status,
        actor_id=row.actor_id,
        created_at=row.created_at,
        undone_at=row.undone_at,
        moved_pairings=len(row.journal.get("moved", [])),
        folded_pairings=len(row.journal.get("folded", [])),
    )


def _model_name(request: Request) -> str | None:
    search = getattr(request.app.state, "search", None)
    return search.embedder.name if search is not None else None


@router.get("", response_model=DuplicateGroupList, summary="List candidate duplicate groups")
def list_groups(
    session: SessionDep,
    principal: PrincipalDep,
    kind: DupKind = "achievements",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0,
) -> DuplicateGroupList:
    """Groups of records that are probably one achievement or need, most probable first."""
    return DuplicateGroupList.model_validate(svc.list_groups(session, kind, principal, limit=limit, offset=offset))


@router.post("/scan", response_model=DuplicateScanRead, summary="Scan a list for duplicates")
def scan(
    body: DuplicateScanRequest, request: Request, session: SessionDep, principal: PrincipalDep
) -> DuplicateScanRead:
    """Find every probable duplicate pair of a list and store the undecided ones as candidates."""
    result = svc.scan(session, body.kind, _model_name(request), principal)
    return DuplicateScanRead(
        kind=body.kind, records=result.records, pairs=result.pairs, groups=result.groups, new_pairs=result.new_pairs
    )


@router.post("/merge", response_model=MergeRead, status_code=201, summary="Merge duplicates into one record")
def merge(body: MergeRequest, session: SessionDep, principal: PrincipalDep) -> MergeRead:
    """Keep the survivor; archive the others, pointing to it, and move their pairings, history and audit to it."""
    return _merge_read(merging.merge(session, body.kind, body.survivor_id, body.record_ids, principal))


@router.get("/merges", response_model=MergeList, summary="List merges")
def list_merges(
    session: SessionDep,
    principal: PrincipalDep,
    kind: DupKind | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> MergeList:
    """The latest merges, newest first."""
    return MergeList(items=[_merge_read(m) for m in merging.list_merges(session, kind, principal, limit)])


@router.post("/merges/{merge_id}/undo", response_model=MergeRead, summary="Undo a merge")
def undo(merge_id: Id, session: SessionDep, principal: PrincipalDep) -> MergeRead:
    """Put back every record, pairing, history line and audit entry the merge moved."""
    return _merge_read(merging.undo(session, merge_id, principal))


@router.post("/not-duplicates", response_model=NotDuplicatesRead, summary="Mark records as not duplicates")
def not_duplicates(body: NotDuplicatesRequest, session: SessionDep, principal: PrincipalDep) -> NotDuplicatesRead:
    """Every pair among these records is not a duplicate: never proposed again."""
    return NotDuplicatesRead(
        kind=body.kind, pairs=len(merging.not_duplicates(session, body.kind, body.record_ids, principal))
    )
