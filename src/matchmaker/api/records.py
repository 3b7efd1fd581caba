"""CRUD, list and export routes, built once per list (achievements and demands share every rule)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from matchmaker.api.deps import PrincipalDep, SessionDep
from matchmaker.api.downloads import attachment, dated
from matchmaker.domain import with_article
from matchmaker.kinds import ACHIEVEMENTS, DEMANDS, KindSpec
from matchmaker.schemas import Page
from matchmaker.schemas.common import Id
from matchmaker.schemas.queries import RecordExportParams, RecordListParams
from matchmaker.services import records as svc
from matchmaker.services.transfer import MEDIA_TYPES, export_records


def make_router(spec: KindSpec) -> APIRouter:
    """The routes of one list."""
    router = APIRouter(prefix=f"/{spec.kind}", tags=[spec.kind])
    noun = spec.noun
    create, update, read = spec.create, spec.update, spec.read

    @router.post("", status_code=status.HTTP_201_CREATED, response_model=read, summary=f"Create {with_article(noun)}")
    def create_route(body: create, session: SessionDep, principal: PrincipalDep) -> Any:  # type: ignore[valid-type]
        """Create a record; 409 when its external_id is already used."""
        return svc.present(session, spec, [svc.create_record(session, spec, body, principal=principal)], principal)[0]

    @router.get("", response_model=Page[read], summary=f"List {spec.kind}")  # type: ignore[valid-type]
    def list_route(params: Annotated[RecordListParams, Query()], session: SessionDep, principal: PrincipalDep) -> Any:
        """Filtered, sorted page of records with the total count."""
        items, total = svc.list_records(session, spec, svc.list_query(spec, params), principal)
        items = svc.present(session, spec, items, principal)
        return {"items": items, "total": total, "limit": params.limit, "offset": params.offset}

    @router.get(
        "/export",
        summary=f"Export {spec.kind}",
        response_class=Response,
        responses={200: {"content": {v: {} for v in MEDIA_TYPES.values()}}},
    )
    def export_route(
        params: Annotated[RecordExportParams, Query()], session: SessionDep, principal: PrincipalDep
    ) -> Response:
        """Every matching record as a file that re-imports to the same records."""
        query = svc.list_query(spec, params)
        content = export_records(session, spec, query, params.format, headers=params.headers, principal=principal)
        return attachment(
            content,
            MEDIA_TYPES[params.format],
            dated(spec.sheet_name, params.format),
            dated(spec.kind, params.format),
        )

    @router.get("/{record_id}", response_model=read, summary=f"Get {with_article(noun)}")
    def get_route(record_id: Id, session: SessionDep, principal: PrincipalDep) -> Any:
        """One record by id (404 when the caller may not see it)."""
        return svc.present(session, spec, [svc.get_record(session, spec, record_id, principal)], principal)[0]

    @router.patch("/{record_id}", response_model=read, summary=f"Change {with_article(noun)}")
    def patch_route(record_id: Id, body: update, session: SessionDep, principal: PrincipalDep) -> Any:  # type: ignore[valid-type]
        """Change the given fields (404 when the caller may not change the record)."""
        record = svc.update_record(session, spec, record_id, body, principal)
        return svc.present(session, spec, [record], principal)[0]

    @router.delete("/{record_id}", status_code=status.HTTP_204_NO_CONTENT, summary=f"Delete {with_article(noun)}")
    def delete_route(record_id: Id, session: SessionDep, principal: PrincipalDep) -> Response:
        """Delete a record (404 when the caller may not change it)."""
        svc.delete_record(session, spec, record_id, principal)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router


achievements_router = make_router(ACHIEVEMENTS)
demands_router = make_router(DEMANDS)
