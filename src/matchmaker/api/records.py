"""CRUD, list and export routes, built once per list (achievements and demands share every rule)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from matchmaker.api.deps import PrincipalDep, SessionDep
from matchmaker.domain import normalise_chain, normalise_region
from matchmaker.errors import ValidationFailed, field_error
from matchmaker.schemas import (
    AchievementCreate,
    AchievementRead,
    AchievementUpdate,
    DemandCreate,
    DemandRead,
    DemandUpdate,
    Id,
    Offset,
    Page,
)
from matchmaker.services import records as svc
from matchmaker.services.transfer import MEDIA_TYPES, export_records

LIST_PARAMS = {"field", "region", "status", "trl_min", "trl_max", "external_id", "q", "sort", "limit", "offset"}


def reject_unknown_params(request: Request, allowed: set[str]) -> None:
    """422 for a query parameter the route does not know (a typo must not silently widen a filter)."""
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise ValidationFailed(
            f"unknown query parameter(s): {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}",
            fields=[field_error(name, "unknown parameter") for name in unknown],
        )


def build_list_query(
    spec: svc.KindSpec,
    *,
    field: list[str] | None,
    region: list[str] | None,
    status_: list[str] | None,
    trl_min: int | None,
    trl_max: int | None,
    external_id: str | None,
    q: str | None,
    sort: str = "id",
    limit: int = 50,
    offset: int = 0,
) -> svc.ListQuery:
    """Validate and normalise list filters (Traditional spellings of enumerations are accepted)."""
    problems: list[dict[str, Any]] = []

    def norm(values: list[str] | None, fn: Any, name: str) -> list[str]:
        out = []
        for value in values or []:
            try:
                out.append(fn(value))
            except ValueError as exc:
                problems.append(field_error(name, str(exc)))
        return out

    statuses = list(status_ or [])
    for value in statuses:
        if value not in spec.statuses:
            problems.append(field_error("status", f"status must be one of {', '.join(spec.statuses)} (got {value!r})"))
    query = svc.ListQuery(
        fields=norm(field, normalise_chain, "field"),
        regions=norm(region, normalise_region, "region"),
        statuses=statuses,
        trl_min=trl_min,
        trl_max=trl_max,
        external_id=external_id,
        q=q,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    if trl_min is not None and trl_max is not None and trl_min > trl_max:
        problems.append(field_error("trl_min", "trl_min is greater than trl_max"))
    if problems:
        raise ValidationFailed("; ".join(p["message"] for p in problems), fields=problems)
    return query


def make_router(spec: svc.KindSpec, create: type[Any], update: type[Any], read: type[Any]) -> APIRouter:
    """The routes of one list."""
    router = APIRouter(prefix=f"/{spec.kind}", tags=[spec.kind])
    noun = spec.noun

    FieldQ = Annotated[list[str] | None, Query(description="industrial chain(s), e.g. 新材料")]
    RegionQ = Annotated[list[str] | None, Query(description="region(s): 北京, 天津, 河北, 其他")]
    StatusQ = Annotated[list[str] | None, Query(alias="status", description=f"status: {', '.join(spec.statuses)}")]
    TrlQ = Annotated[int | None, Query(ge=1, le=9)]
    TextQ = Annotated[str | None, Query(max_length=200, description="text in the title or body, e.g. 冷链")]

    @router.post("", status_code=status.HTTP_201_CREATED, response_model=read, summary=f"Create a {noun}")
    def create_route(body: create, session: SessionDep, principal: PrincipalDep) -> Any:  # type: ignore[valid-type]
        """Create a record; 409 when its external_id is already used."""
        return svc.present(session, spec, [svc.create_record(session, spec, body, principal=principal)], principal)[0]

    @router.get("", response_model=Page[read], summary=f"List {spec.kind}")  # type: ignore[valid-type]
    def list_route(
        request: Request,
        session: SessionDep,
        principal: PrincipalDep,
        field: FieldQ = None,
        region: RegionQ = None,
        status_: StatusQ = None,
        trl_min: TrlQ = None,
        trl_max: TrlQ = None,
        external_id: str | None = None,
        q: TextQ = None,
        sort: Annotated[
            str, Query(description="id, created_at, updated_at, title, ...; prefix - for descending")
        ] = "id",
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Offset = 0,
    ) -> Any:
        """Filtered, sorted page of records with the total count."""
        reject_unknown_params(request, LIST_PARAMS)
        query = build_list_query(
            spec,
            field=field,
            region=region,
            status_=status_,
            trl_min=trl_min,
            trl_max=trl_max,
            external_id=external_id,
            q=q,
            sort=sort,
            limit=limit,
            offset=offset,
        )
        items, total = svc.list_records(session, spec, query, principal)
        return {"items": svc.present(session, spec, items, principal), "total": total, "limit": limit, "offset": offset}

    @router.get(
        "/export",
        summary=f"Export {spec.kind}",
        response_class=Response,
        responses={200: {"content": {v: {} for v in MEDIA_TYPES.values()}}},
    )
    def export_route(
        request: Request,
        session: SessionDep,
        principal: PrincipalDep,
        format: Annotated[str, Query(description="csv, xlsx or json")] = "csv",
        headers: Annotated[str, Query(description="en: canonical field names; zh: Chinese column labels")] = "en",
        field: FieldQ = None,
        region: RegionQ = None,
        status_: StatusQ = None,
        trl_min: TrlQ = None,
        trl_max: TrlQ = None,
        external_id: str | None = None,
        q: TextQ = None,
    ) -> Response:
        """Every matching record as a file that re-imports to the same records."""
        reject_unknown_params(request, (LIST_PARAMS - {"sort", "limit", "offset"}) | {"format", "headers"})
        query = build_list_query(
            spec,
            field=field,
            region=region,
            status_=status_,
            trl_min=trl_min,
            trl_max=trl_max,
            external_id=external_id,
            q=q,
        )
        content = export_records(session, spec, query, format, headers=headers, principal=principal)
        filename = f"{spec.kind}.{format}"
        return Response(
            content,
            media_type=MEDIA_TYPES[format],
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @router.get("/{record_id}", response_model=read, summary=f"Get a {noun}")
    def get_route(record_id: Id, session: SessionDep, principal: PrincipalDep) -> Any:
        """One record by id (404 when the caller may not see it)."""
        return svc.present(session, spec, [svc.get_record(session, spec, record_id, principal)], principal)[0]

    @router.patch("/{record_id}", response_model=read, summary=f"Change a {noun}")
    def patch_route(record_id: Id, body: update, session: SessionDep, principal: PrincipalDep) -> Any:  # type: ignore[valid-type]
        """Change the given fields (404 when the caller may not change the record)."""
        record = svc.update_record(session, spec, record_id, body, principal)
        return svc.present(session, spec, [record], principal)[0]

    @router.delete("/{record_id}", status_code=status.HTTP_204_NO_CONTENT, summary=f"Delete a {noun}")
    def delete_route(record_id: Id, session: SessionDep, principal: PrincipalDep) -> Response:
        """Delete a record (404 when the caller may not change it)."""
        svc.delete_record(session, spec, record_id, principal)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router


achievements_router = make_router(svc.ACHIEVEMENTS, AchievementCreate, AchievementUpdate, AchievementRead)
demands_router = make_router(svc.DEMANDS, DemandCreate, DemandUpdate, DemandRead)
