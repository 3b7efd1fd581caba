"""Landing resources (载体与资源): the list, its import and export, and the resources that fit an achievement."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, Response, UploadFile, status
from starlette.concurrency import run_in_threadpool

from matchmaker.api.deps import LanguageDep, PrincipalDep, SessionDep, SettingsDep
from matchmaker.api.downloads import attachment, dated
from matchmaker.errors import ValidationFailed
from matchmaker.schemas import ImportReport, Page
from matchmaker.schemas.common import Id
from matchmaker.schemas.landing import (
    ResourceCreate,
    ResourceExportParams,
    ResourceFilterParams,
    ResourceFitList,
    ResourceListParams,
    ResourceRead,
    ResourceUpdate,
)
from matchmaker.services import resources as svc
from matchmaker.services.access import require_staff
from matchmaker.services.indexing import SearchService
from matchmaker.services.readers import detect_format
from matchmaker.services.transfer import MEDIA_TYPES, read_upload

router = APIRouter(tags=["resources"])


def _query(params: ResourceFilterParams, limit: int = 1_000_000, offset: int = 0) -> svc.ResourceQuery:
    return svc.ResourceQuery(
        kinds=params.kind,
        regions=params.region,
        chains=params.chain,
        trl=params.trl,
        q=params.q,
        limit=limit,
        offset=offset,
    )


@router.post("/resources", status_code=status.HTTP_201_CREATED, response_model=ResourceRead, summary="Add a resource")
def create_resource(body: ResourceCreate, session: SessionDep, principal: PrincipalDep) -> Any:
    """Add a park, incubator, platform or fund (managers)."""
    return svc.create_resource(session, body, principal)


@router.get("/resources", response_model=Page[ResourceRead], summary="List resources")
def list_resources(params: Annotated[ResourceListParams, Query()], session: SessionDep, principal: PrincipalDep) -> Any:
    """Filtered page of the resources (every member reads the list)."""
    items, total = svc.list_resources(session, _query(params, params.limit, params.offset))
    return {"items": items, "total": total, "limit": params.limit, "offset": params.offset}


@router.get(
    "/resources/export",
    response_class=Response,
    summary="Export resources",
    responses={200: {"content": {v: {} for v in MEDIA_TYPES.values()}}},
)
def export_resources(
    params: Annotated[ResourceExportParams, Query()], session: SessionDep, principal: PrincipalDep
) -> Response:
    """Every matching resource as a file that re-imports to the same resources."""
    content = svc.export_resources(session, _query(params), params.format, params.headers)
    format = params.format
    return attachment(content, MEDIA_TYPES[format], dated("载体与资源清单", format), dated("resources", format))


@router.get("/resources/{resource_id}", response_model=ResourceRead, summary="Get a resource")
def get_resource(resource_id: Id, session: SessionDep, principal: PrincipalDep) -> Any:
    """One resource."""
    return svc.get_resource(session, resource_id)


@router.patch("/resources/{resource_id}", response_model=ResourceRead, summary="Change a resource")
def update_resource(resource_id: Id, body: ResourceUpdate, session: SessionDep, principal: PrincipalDep) -> Any:
    """Change the given fields (managers)."""
    return svc.update_resource(session, resource_id, body, principal)


@router.delete("/resources/{resource_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a resource")
def delete_resource(resource_id: Id, session: SessionDep, principal: PrincipalDep) -> Response:
    """Delete a resource (managers)."""
    svc.delete_resource(session, resource_id, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/imports/resources", response_model=ImportReport, summary="Import resources")
async def import_resources(
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    lang: LanguageDep,
    file: UploadFile = File(...),
    dry_run: Annotated[bool, Query(description="validate and report without writing")] = False,
    atomic: Annotated[bool, Query(description="write nothing when any row fails")] = False,
    format: Annotated[str | None, Query(description="csv, xlsx, json or jsonl")] = None,
) -> Any:
    """Upsert resources by external_id from CSV / XLSX / JSON (Chinese headers with units accepted; managers)."""
    require_staff(principal, "import landing resources")
    fmt = detect_format(file.filename, format)
    content = await run_in_threadpool(read_upload, file.file, settings.max_upload_bytes)
    rows = await run_in_threadpool(svc.parse_resources, content, fmt, max_rows=settings.max_import_rows)
    return await run_in_threadpool(
        svc.import_resources, session, rows, dry_run=dry_run, atomic=atomic, principal=principal, lang=lang
    )


def _cache(request: Request) -> Any:
    search: SearchService | None = request.app.state.search
    if search is None:
        raise ValidationFailed("matching is switched off (MATCHMAKER_SEARCH_ENABLED=false)", fields=[])
    return search.cache


Limit = Annotated[int, Query(ge=1, le=50)]


@router.get("/achievements/{achievement_id}/resources", response_model=ResourceFitList, summary="Resources that fit")
def achievement_resources(
    achievement_id: Id, request: Request, session: SessionDep, principal: PrincipalDep, limit: Limit = 10
) -> Any:
    """The resources that fit an achievement (landing in 天津), ranked and explained."""
    return svc.fitting_resources(session, _cache(request), principal, achievement_id=achievement_id, limit=limit)


@router.get("/matches/{match_id}/resources", response_model=ResourceFitList, summary="Resources for a pairing")
def match_resources(
    match_id: Id, request: Request, session: SessionDep, principal: PrincipalDep, limit: Limit = 10
) -> Any:
    """The resources that fit a pairing's achievement, landing where its need is, ranked and explained."""
    return svc.fitting_resources(session, _cache(request), principal, match_id=match_id, limit=limit)
