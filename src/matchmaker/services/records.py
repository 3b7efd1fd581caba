"""Rules for both lists: create, read, update, delete, list, and the change log every write appends to."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from pydantic import BaseModel
from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.orm import Session

from matchmaker.errors import Conflict, NotFound, ValidationFailed, field_error
from matchmaker.kinds import Kind, KindSpec, Record
from matchmaker.models import Demand, Embedding, RecordChange
from matchmaker.schemas.queries import RecordFilterParams, RecordListParams
from matchmaker.search.text import detect_language, normalize_text, to_simplified, to_traditional
from matchmaker.services.access import (
    MASKED_ENTERPRISE,
    ORG_KIND_OF_ROLE,
    Principal,
    can_read,
    can_write,
    masking,
    owner_org,
    require_writer,
    scope_read,
)
from matchmaker.services.audit import audit
from matchmaker.services.paging import page, sort_order
from matchmaker.services.text_search import forget_grams, holds_grams, refresh_grams

SORTABLE = ("id", "created_at", "updated_at", "title", "trl", "external_id", "price_wan", "budget_wan", "deadline")


@dataclass
class ListQuery:
    """Filters, sort and page of a list request."""

    fields: Sequence[str] = ()
    regions: Sequence[str] = ()
    statuses: Sequence[str] = ()
    trl_min: int | None = None
    trl_max: int | None = None
    external_id: str | None = None
    q: str | None = None
    sort: str = "id"
    limit: int = 50
    offset: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def list_query(spec: KindSpec, params: RecordFilterParams) -> ListQuery:
    """The list query of validated query parameters; 422 for a status the list does not have or trl_min > trl_max."""
    problems = [
        field_error("status", f"status must be one of {', '.join(spec.statuses)} (got {value!r})")
        for value in params.status
        if value not in spec.statuses
    ]
    if params.trl_min is not None and params.trl_max is not None and params.trl_min > params.trl_max:
        problems.append(field_error("trl_min", "trl_min is greater than trl_max"))
    if params.need_kind is not None and spec.kind != "demands":
        problems.append(field_error("need_kind", "only needs have a kind (技术需求 / 应用场景)"))
    if problems:
        raise ValidationFailed("; ".join(p["message"] for p in problems), fields=problems)
    query = ListQuery(
        fields=params.field,
        regions=params.region,
        statuses=params.status,
        trl_min=params.trl_min,
        trl_max=params.trl_max,
        external_id=params.external_id,
        q=params.q,
    )
    if params.need_kind is not None and spec.kind == "demands":
        query.extra["need_kind"] = params.need_kind.value
    if isinstance(params, RecordListParams):
        query.sort, query.limit, query.offset = params.sort, params.limit, params.offset
    return query


def content_hash(text: str) -> str:
    """SHA-256 of the embedded text; an unchanged hash means an unchanged vector."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _refresh_derived(record: Record) -> None:
    text = record.embed_text()
    record.content_hash = content_hash(text)
    record.language = detect_language(text)


def refresh_text_index(session: Session, spec: KindSpec, record: Record) -> None:
    """Keep the text search's bigrams of a written record (its title, body or external id may have changed)."""
    refresh_grams(session, spec.kind, record.id, (record.title, getattr(record, spec.body), record.external_id))


def log_change(session: Session, kind: Kind | str, record_id: int, op: Literal["upsert", "delete"]) -> None:
    """Append to the change log that indexes follow (``kind``: a list, or the thesaurus); the request's index
    catch-up applies the changes it finds in ``session.info["record_changes"]`` once they are committed."""
    change = RecordChange(kind=kind, record_id=record_id, op=op)
    session.add(change)
    session.info.setdefault("record_changes", []).append(change)


def _ensure_external_id_free(
    session: Session,
    spec: KindSpec,
    external_id: str | None,
    own_id: int | None,
    org_id: int | None,
    principal: Principal | None = None,
) -> None:
    """409 when the organisation (``org_id``; None: the records without one) already has a record with this
    external_id. Other organisations' ids are another namespace: a member learns nothing about them."""
    if external_id is None:
        return
    model = spec.model
    stmt = select(model.id).where(model.external_id == external_id, func.coalesce(model.org_id, 0) == (org_id or 0))
    existing = session.scalar(stmt)
    if existing is not None and existing != own_id:
        if principal is not None and not principal.is_staff:  # say no more than that the id is taken
            raise Conflict(
                f"external_id {external_id!r} is already used", fields=[field_error("external_id", "already used")]
            )
        raise Conflict(
            f"{spec.noun} with external_id {external_id!r} already exists (id {existing})",
            fields=[field_error("external_id", "already used", existing_id=existing)],
        )


def resolve_org(session: Session, spec: KindSpec, values: dict[str, Any], principal: Principal | None) -> int | None:
    """The owning organisation: the caller's own (enterprise / institution members), else the named owner."""
    own = owner_org(principal)
    if own is not None:
        return own
    name = values.get(spec.org_column)
    if not name:
        return None
    from matchmaker.services.auth import get_or_create_org

    return get_or_create_org(session, name, ORG_KIND_OF_ROLE[spec.writer]).id


def _fill_organisation_name(
    session: Session, spec: KindSpec, values: dict[str, Any], org_id: int | None, principal: Principal | None
) -> None:
    """A member's record names the member's organisation (需求单位 / 完成单位) when the record names none; a value
    given explicitly (a manager's, say) is kept."""
    name_field = "owner" if spec.kind == "achievements" else "enterprise"
    if values.get(name_field) or org_id is None or owner_org(principal) is None:
        return
    from matchmaker.models import Organisation

    org = session.get(Organisation, org_id)
    if org is not None:
        values[name_field] = org.name


def _audit_values(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v not in (None, [], "")}


def create_record(
    session: Session,
    spec: KindSpec,
    data: BaseModel,
    *,
    source: str = "api",
    import_batch_id: int | None = None,
    principal: Principal | None = None,
) -> Record:
    """Insert a record owned by the caller's organisation; 403 for a role that never writes this list, 409 when
    its external_id is taken."""
    require_writer(principal, spec.kind)
    values = data.model_dump()
    org_id = resolve_org(session, spec, values, principal)
    _ensure_external_id_free(session, spec, values.get("external_id"), None, org_id, principal)
    _fill_organisation_name(session, spec, values, org_id, principal)
    record = spec.model(**values, source=source, import_batch_id=import_batch_id, org_id=org_id)
    _refresh_derived(record)
    session.add(record)
    session.flush()
    refresh_text_index(session, spec, record)
    log_change(session, spec.kind, record.id, "upsert")
    audit(session, spec.noun, record.id, "create", _audit_values(values))
    return record


def get_record(
    session: Session, spec: KindSpec, record_id: int, principal: Principal | None = None, *, write: bool = False
) -> Record:
    """A record by id; 404 when there is none or the caller may not see (or, with write, change) it."""
    record = cast(Record | None, session.get(spec.model, record_id))
    allowed = record is not None and (can_write(principal, record) if write else can_read(principal, record))
    if record is None or not allowed:
        raise NotFound(f"{spec.noun} {record_id} not found")
    return record


def apply_changes(
    session: Session,
    spec: KindSpec,
    record: Record,
    changes: dict[str, Any],
    *,
    source: str | None = None,
    principal: Principal | None = None,
) -> bool:
    """Set changed fields on a record; returns whether anything changed."""
    for name in ("title", spec.body, "field", "region", "status"):
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be null", fields=[field_error(name, "cannot be null")])
    if "external_id" in changes:
        _ensure_external_id_free(session, spec, changes["external_id"], record.id, record.org_id, principal)
    diff: dict[str, list[Any]] = {}
    for name, value in changes.items():
        old = getattr(record, name)
        if old != value:
            setattr(record, name, value)
            diff[name] = [old, value]
    if diff:
        if source is not None:
            record.source = source
        _refresh_derived(record)
        session.flush()
        if diff.keys() & {"title", spec.body, "external_id"}:
            refresh_text_index(session, spec, record)
        log_change(session, spec.kind, record.id, "upsert")
        audit(session, spec.noun, record.id, "update", diff)
    return bool(diff)


def update_record(
    session: Session, spec: KindSpec, record_id: int, patch: BaseModel, principal: Principal | None = None
) -> Record:
    """Change the fields given in a PATCH body."""
    require_writer(principal, spec.kind)
    record = get_record(session, spec, record_id, principal, write=True)
    apply_changes(session, spec, record, patch.model_dump(exclude_unset=True), principal=principal)
    return record


def delete_record(session: Session, spec: KindSpec, record_id: int, principal: Principal | None = None) -> None:
    """Delete a record (and log it, so indexes drop it)."""
    require_writer(principal, spec.kind)
    record = get_record(session, spec, record_id, principal, write=True)
    audit(session, spec.noun, record_id, "delete", {"external_id": record.external_id, "title": record.title})
    session.delete(record)
    session.execute(delete(Embedding).where(Embedding.kind == spec.kind, Embedding.record_id == record_id))
    forget_grams(session, spec.kind, record_id)
    session.flush()
    log_change(session, spec.kind, record_id, "delete")


def _text_variants(q: str) -> list[str]:
    """The query as typed, in Simplified and in Traditional (with Taiwan phrasing): records keep their own script."""
    base = normalize_text(q)
    variants = {base, to_simplified(base)}
    variants.update(to_traditional(base))
    return sorted(v for v in variants if v)


def filtered_select(spec: KindSpec, query: ListQuery) -> Select[Any]:
    """SELECT of the records matching the filters (no order, no page)."""
    model = spec.model
    stmt = select(model)
    if query.fields:
        stmt = stmt.where(model.field.in_(list(query.fields)))
    if query.regions:
        stmt = stmt.where(model.region.in_(list(query.regions)))
    if query.statuses:
        stmt = stmt.where(model.status.in_(list(query.statuses)))
    trl_col = getattr(model, spec.trl_column)
    if query.trl_min is not None:
        stmt = stmt.where(trl_col >= query.trl_min)
    if query.trl_max is not None:
        stmt = stmt.where(trl_col <= query.trl_max)
    if query.external_id:
        stmt = stmt.where(model.external_id == query.external_id)
    if query.q:
        body = getattr(model, spec.body)
        variants = _text_variants(query.q)
        index = holds_grams(spec.kind, model.id, variants)  # the few records that may hold the text
        if index is not None:
            stmt = stmt.where(index)
        conditions = []
        for variant in variants:
            # autoescape: % and _ in the text are matched literally, never as LIKE wildcards
            conditions += [
                model.title.icontains(variant, autoescape=True),
                body.icontains(variant, autoescape=True),
                model.external_id.icontains(variant, autoescape=True),
            ]
        stmt = stmt.where(or_(*conditions))
    for name, value in query.extra.items():
        stmt = stmt.where(getattr(model, name) == value)
    return stmt


def list_records(
    session: Session, spec: KindSpec, query: ListQuery, principal: Principal | None = None
) -> tuple[list[Record], int]:
    """One page of the records the caller may see, and their total count."""
    stmt = scope_read(filtered_select(spec, query), spec.kind, principal)
    order = sort_order(spec.model, query.sort, SORTABLE)
    return page(session, stmt, order_by=order, limit=query.limit, offset=query.offset)


def find_by_external_ids(
    session: Session, spec: KindSpec, rows: Sequence[dict[str, Any]], principal: Principal | None
) -> dict[str, Record]:
    """The record each import row (with an external_id) updates: a member's within their own organisation; a manager's
    within the organisation the row names, or, when it names none, the one record with that id (in chunks, so a
    large import stays within parameter limits)."""
    from matchmaker.models import Organisation

    own = owner_org(principal)
    ids = [row["external_id"] for row in rows]
    candidates: dict[str, list[Record]] = {}
    for start in range(0, len(ids), 500):
        stmt = select(spec.model).where(spec.model.external_id.in_(ids[start : start + 500]))
        if own is not None:
            stmt = stmt.where(spec.model.org_id == own)
        for record in cast(list[Record], session.scalars(stmt).all()):
            candidates.setdefault(cast(str, record.external_id), []).append(record)
    names = {row[spec.org_column] for row in rows if row.get(spec.org_column)}
    org_ids = dict(
        session.execute(select(Organisation.name, Organisation.id).where(Organisation.name.in_(names))).all()
    )
    found: dict[str, Record] = {}
    for row in rows:
        records = candidates.get(row["external_id"], [])
        named = row.get(spec.org_column) if own is None else None
        if named:
            records = [r for r in records if r.org_id == org_ids.get(named)]
        if len(records) == 1:
            found[row["external_id"]] = records[0]
    return found


def present(session: Session, spec: KindSpec, records: Sequence[Record], principal: Principal | None) -> list[Any]:
    """Records as the caller may see them: needs' enterprise hidden where confidential and not disclosed."""
    reads = [spec.read.model_validate(r) for r in records]
    if spec.kind != "demands":
        return reads
    masks = masking(session, principal, [r.id for r in records])
    return [
        read.model_copy(update=MASKED_ENTERPRISE) if masks.hides(cast(Demand, record)) else read
        for record, read in zip(records, reads, strict=True)
    ]


def count_records(session: Session, spec: KindSpec) -> int:
    """Number of records in a list."""
    return session.scalar(select(func.count()).select_from(spec.model)) or 0
