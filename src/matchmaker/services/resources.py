"""Landing resources (载体与资源): the third list (CRUD, import, export; managers write, every member reads), and the
resources that fit an achievement or a signed pairing, ranked and explained by :mod:`matchmaker.search.resource_fit`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from matchmaker.domain import RESOURCE_LABELS, header_map
from matchmaker.errors import Conflict, InvalidImport, NotFound, ValidationFailed, field_error
from matchmaker.kinds import ACHIEVEMENTS
from matchmaker.models import Achievement, Demand, Match
from matchmaker.models.landing import LandingResource
from matchmaker.schemas import ImportReport, RowError
from matchmaker.schemas.landing import ResourceCreate, ResourceRead
from matchmaker.search.ranking import TARGET_REGION, OfferFacts
from matchmaker.search.resource_fit import ResourceFacts, rank_resources
from matchmaker.services import workflow
from matchmaker.services.access import Principal, require_staff
from matchmaker.services.audit import audit
from matchmaker.services.embedding_cache import EmbeddingCache
from matchmaker.services.readers import FileFormat, ParsedFile, map_rows, read_rows, require_columns
from matchmaker.services.records import content_hash, get_record
from matchmaker.services.row_errors import Language, custom_error, row_errors
from matchmaker.services.tables import TableFormat, write_table

LIST_COLUMNS = {"chains"}
MONEY = {"ticket_min_wan", "ticket_max_wan"}


@dataclass
class ResourceQuery:
    """Filters and page of the resource list."""

    kinds: Sequence[str] = ()
    regions: Sequence[str] = ()
    chains: Sequence[str] = ()
    trl: int | None = None  # resources whose stated range takes this readiness
    q: str | None = None
    limit: int = 50
    offset: int = 0


def _check(values: dict[str, Any]) -> None:
    problems = []
    low, high = values.get("trl_min"), values.get("trl_max")
    if low is not None and high is not None and low > high:
        problems.append(field_error("trl_max", f"适用成熟度上限 {high} 小于下限 {low}"))
    low, high = values.get("ticket_min_wan"), values.get("ticket_max_wan")
    if low is not None and high is not None and low > high:
        problems.append(field_error("ticket_max_wan", f"单笔投资上限 {high} 万元小于下限 {low} 万元"))
    if values.get("kind") != "基金" and any(values.get(k) is not None for k in ("fund_stage", *MONEY)):
        name = next(k for k in ("fund_stage", *MONEY) if values.get(k) is not None)
        problems.append(field_error(name, "投资阶段和投资额只用于基金 (only a fund has a stage and a ticket size)"))
    if problems:
        raise ValidationFailed("; ".join(p["message"] for p in problems), fields=problems)


def _external_id_free(session: Session, external_id: str | None, own_id: int | None) -> None:
    if external_id is None:
        return
    existing = session.scalar(select(LandingResource.id).where(LandingResource.external_id == external_id))
    if existing is not None and existing != own_id:
        raise Conflict(
            f"resource with external_id {external_id!r} already exists (id {existing})",
            fields=[field_error("external_id", "already used", existing_id=existing)],
        )


def _refresh(resource: LandingResource) -> None:
    resource.content_hash = content_hash(resource.embed_text())


def create_resource(session: Session, data: BaseModel, principal: Principal | None) -> LandingResource:
    """Add a resource (managers); 409 when its external_id is taken."""
    require_staff(principal, "change landing resources")
    values = data.model_dump()
    _check(values)
    _external_id_free(session, values["external_id"], None)
    resource = LandingResource(**values)
    _refresh(resource)
    session.add(resource)
    session.flush()
    audit(session, "resource", resource.id, "create", {k: v for k, v in values.items() if v not in (None, [])})
    return resource


def get_resource(session: Session, resource_id: int) -> LandingResource:
    """One resource (every member reads the list)."""
    resource = session.get(LandingResource, resource_id)
    if resource is None:
        raise NotFound(f"resource {resource_id} not found")
    return resource


def update_resource(
    session: Session, resource_id: int, data: BaseModel, principal: Principal | None
) -> LandingResource:
    """Change the given fields (managers)."""
    require_staff(principal, "change landing resources")
    resource = get_resource(session, resource_id)
    changes = data.model_dump(exclude_unset=True)
    for name in ("name", "kind", "region", "description", "chains"):
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be null", fields=[field_error(name, "cannot be null")])
    _apply(session, resource, changes)
    return resource


def _apply(session: Session, resource: LandingResource, changes: dict[str, Any]) -> bool:
    _check({**{k: getattr(resource, k) for k in RESOURCE_LABELS}, **changes})
    if "external_id" in changes:
        _external_id_free(session, changes["external_id"], resource.id)
    diff = {k: [getattr(resource, k), v] for k, v in changes.items() if getattr(resource, k) != v}
    for name, value in changes.items():
        setattr(resource, name, value)
    if diff:
        _refresh(resource)
        session.flush()
        audit(session, "resource", resource.id, "update", diff)
    return bool(diff)


def delete_resource(session: Session, resource_id: int, principal: Principal | None) -> None:
    """Delete a resource (managers)."""
    require_staff(principal, "change landing resources")
    resource = get_resource(session, resource_id)
    audit(session, "resource", resource.id, "delete", {"name": resource.name})
    session.delete(resource)
    session.flush()


def _filtered(query: ResourceQuery) -> Any:
    stmt = select(LandingResource)
    if query.kinds:
        stmt = stmt.where(LandingResource.kind.in_(list(query.kinds)))
    if query.regions:
        stmt = stmt.where(LandingResource.region.in_(list(query.regions)))
    if query.q:
        pattern = f"%{query.q}%"
        stmt = stmt.where(or_(LandingResource.name.ilike(pattern), LandingResource.description.ilike(pattern)))
    return stmt.order_by(LandingResource.id)


def _post_filter(items: list[LandingResource], query: ResourceQuery) -> list[LandingResource]:
    """Chain and readiness filters (a JSON list and a default range: applied in Python, the list is small)."""
    out = items
    if query.chains:
        wanted = set(query.chains)
        out = [r for r in out if not r.chains or wanted & set(r.chains)]
    if query.trl is not None:
        trl = query.trl
        out = [r for r in out if _facts(r).trl_range()[0] <= trl <= _facts(r).trl_range()[1]]
    return out


def list_resources(session: Session, query: ResourceQuery) -> tuple[list[LandingResource], int]:
    """One page of resources and the total matching the filters."""
    items = _post_filter(list(session.scalars(_filtered(query))), query)
    return items[query.offset : query.offset + query.limit], len(items)


def count_resources(session: Session) -> int:
    """Number of resources."""
    return session.scalar(select(func.count()).select_from(LandingResource)) or 0


# ------------------------------------------------------------------------------------------------- import / export


def parse_resources(content: bytes, fmt: FileFormat, *, max_rows: int) -> ParsedFile:
    """Rows of an import file with canonical field names (Chinese headers, with or without units, accepted)."""
    mapping = header_map(RESOURCE_LABELS)
    raw_rows = read_rows(content, fmt, mapping, max_rows=max_rows)  # the two lists' bounded readers
    parsed = map_rows(raw_rows, mapping, max_rows=max_rows)
    require_columns(parsed, fmt, ("name", "kind", "description"), RESOURCE_LABELS)
    return parsed


def import_resources(
    session: Session,
    parsed: ParsedFile,
    *,
    dry_run: bool = False,
    atomic: bool = False,
    principal: Principal | None = None,
    lang: Language = "zh",
) -> ImportReport:
    """Validate every row, then upsert by external_id (rows without one are created); errors name each column as
    the file spelled it, in ``lang``."""
    require_staff(principal, "import landing resources")
    rows, headers = parsed.rows, parsed.headers
    errors: list[RowError] = []
    valid: list[tuple[int, dict[str, Any], set[str]]] = []
    seen: dict[str, int] = {}
    for number, row in rows:
        try:
            values = ResourceCreate.model_validate(row).model_dump()
            _check(values)
        except ValidationError as exc:
            errors += row_errors(number, exc, headers, RESOURCE_LABELS, lang)
            continue
        except ValidationFailed as exc:
            errors += [
                custom_error(number, f["field"], f["message"], headers, RESOURCE_LABELS, lang, row.get(f["field"]))
                for f in exc.fields
            ]
            continue
        ext = values["external_id"]
        if ext is not None and ext in seen:
            problem = f"与第 {seen[ext]} 行重复" if lang == "zh" else f"repeats row {seen[ext]}"
            errors.append(custom_error(number, "external_id", problem, headers, RESOURCE_LABELS, lang, ext))
            continue
        if ext is not None:
            seen[ext] = number
        valid.append((number, values, set(row) & set(values)))
    existing = {
        r.external_id: r
        for r in session.scalars(select(LandingResource).where(LandingResource.external_id.in_(list(seen))))
    }
    created = updated = unchanged = 0
    write = not dry_run and not (atomic and errors)
    for _, values, present in valid:
        resource = existing.get(values["external_id"]) if values["external_id"] else None
        if resource is None:
            created += 1
            if write:
                create_resource(session, ResourceCreate.model_validate(values), principal)
        elif any(getattr(resource, k) != values[k] for k in present):
            updated += 1
            if write:
                _apply(session, resource, {k: values[k] for k in present})
        else:
            unchanged += 1
    failed = len({e.row for e in errors})
    report = ImportReport(
        batch_id=None,
        dry_run=dry_run,
        atomic=atomic,
        written=write and bool(created or updated),
        rows=len(rows),
        created=created,
        updated=updated,
        unchanged=unchanged,
        failed=failed,
        errors=errors,
    )
    if atomic and errors and not dry_run:
        raise InvalidImport(
            f"{failed} of {len(rows)} rows failed validation; nothing was written (atomic import)",
            fields=[e.model_dump() for e in errors],
            report=report.model_dump(),
        )
    return report


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return "、".join(value)
    if value is not None and not isinstance(value, int | str):
        return float(value)
    return value


def export_resources(session: Session, query: ResourceQuery, fmt: str, headers: str = "zh") -> bytes:
    """Every matching resource as CSV, XLSX (frozen header) or JSON that re-imports to the same resources."""
    if fmt not in ("csv", "xlsx", "json"):
        raise ValidationFailed("format must be csv, xlsx or json", fields=[field_error("format", f"unknown {fmt!r}")])
    if headers not in ("en", "zh"):
        raise ValidationFailed("headers must be en or zh", fields=[field_error("headers", "must be en or zh")])
    items = _post_filter(list(session.scalars(_filtered(query))), query)
    columns = list(RESOURCE_LABELS)
    titles = [RESOURCE_LABELS[c] if headers == "zh" else c for c in columns]
    if fmt == "json":
        data = [{t: _cell(getattr(r, c)) for c, t in zip(columns, titles, strict=True)} for r in items]
        return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")
    rows = [["" if (v := _cell(getattr(r, c))) is None else v for c in columns] for r in items]
    return write_table(cast(TableFormat, fmt), titles, rows, sheet="载体与资源清单")


# ------------------------------------------------------------------------------------------------------------ fit


def _facts(r: LandingResource) -> ResourceFacts:
    return ResourceFacts(r.id, r.kind, r.region, frozenset(r.chains), r.trl_min, r.trl_max, r.fund_stage)


def fitting_resources(
    session: Session,
    cache: EmbeddingCache,
    principal: Principal | None,
    *,
    achievement_id: int | None = None,
    match_id: int | None = None,
    limit: int = 10,
) -> dict[str, Any]:
    """The resources that fit an achievement (or a pairing's achievement, landing where its need is), best first."""
    target = TARGET_REGION
    if match_id is not None:
        workflow.get_match(session, match_id, principal)  # 404 unless the caller sees the pairing
        match = session.get(Match, match_id)
        assert match is not None
        achievement = cast(Achievement, session.get(Achievement, match.achievement_id))
        need = session.get(Demand, match.demand_id)
        target = need.region if need is not None and need.region != "其他" else TARGET_REGION
    else:
        assert achievement_id is not None
        achievement = cast(Achievement, get_record(session, ACHIEVEMENTS, achievement_id, principal))
    resources = list(session.scalars(select(LandingResource).order_by(LandingResource.id)))
    items: list[dict[str, Any]] = []
    if resources:
        query = cache.vectors(session, "achievements", [achievement])[0]
        docs = cache.vectors(session, "resources", cast(list[Any], resources))
        similarities = [float(v) for v in np.asarray(docs) @ np.asarray(query)]
        offer = OfferFacts(field=achievement.field, region=achievement.region, trl=achievement.trl)
        by_id = {r.id: r for r in resources}
        fits = rank_resources(offer, [_facts(r) for r in resources], similarities, target, limit)
        for rank, fit in enumerate(fits, start=1):
            items.append(
                {
                    "rank": rank,
                    "score": round(fit.score, 4),
                    "components": {k: round(v, 4) for k, v in fit.components.items()},
                    "checks": [
                        {
                            "name": c.name,
                            "ok": c.ok,
                            "resource_value": c.need_value,
                            "achievement_value": c.offer_value,
                            "message": c.message,
                        }
                        for c in fit.checks
                    ],
                    "sentence": fit.sentence,
                    "resource": ResourceRead.model_validate(by_id[fit.id]),
                }
            )
    return {"achievement_id": achievement.id, "match_id": match_id, "target_region": target, "items": items}
