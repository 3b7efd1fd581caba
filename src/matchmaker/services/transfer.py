"""Import and export of the lists as CSV, XLSX, JSON and JSON Lines (canonical or Chinese column headers)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy.orm import Session

from matchmaker.domain import RECORD_STATUS_LABELS
from matchmaker.errors import InvalidImport, TooLarge, ValidationFailed, field_error
from matchmaker.kinds import KindSpec, Record
from matchmaker.models import ImportBatch
from matchmaker.schemas import ImportReport, RowError
from matchmaker.services.access import Principal, can_write, masking, require_writer, scope_read
from matchmaker.services.audit import audit
from matchmaker.services.duplicates import check_import_rows, link_import_candidates
from matchmaker.services.readers import IGNORED_ALWAYS, FileFormat, ParsedFile
from matchmaker.services.records import (
    ListQuery,
    _refresh_derived,
    apply_changes,
    filtered_select,
    find_by_external_ids,
    log_change,
    refresh_text_index,
    resolve_org,
)
from matchmaker.services.row_errors import Language, custom_error, row_errors
from matchmaker.services.tables import TableFormat, write_table

EXPORT_FORMATS: tuple[str, ...] = ("csv", "xlsx", "json")
Progress = Callable[[int], None]


def import_rows(
    session: Session,
    spec: KindSpec,
    parsed: ParsedFile,
    *,
    filename: str,
    fmt: FileFormat,
    dry_run: bool = False,
    atomic: bool = False,
    progress: Progress | None = None,
    principal: Principal | None = None,
    lang: Language = "zh",
) -> ImportReport:
    """Validate every row, then upsert by external_id (or report only, with dry_run).

    Rows without an external_id are always created. With atomic, one failed row means nothing is written and the
    report comes back inside a 422 error. Errors name each column as the file spelled it, in ``lang``. The
    caller's unit of work commits.
    """
    require_writer(principal, spec.kind)
    errors: list[RowError] = []
    valid: list[tuple[int, dict[str, Any], set[str]]] = []
    first_seen: dict[str, int] = {}
    for number, row in parsed.rows:
        row = {k: v for k, v in row.items() if k not in IGNORED_ALWAYS}
        try:
            model = spec.create.model_validate(row)
        except ValidationError as exc:
            errors.extend(row_errors(number, exc, parsed.headers, spec.labels, lang))
            continue
        values = model.model_dump()
        ext = values.get("external_id")
        if ext is not None:
            if ext in first_seen:
                first = first_seen[ext]
                problem = f"编号与第 {first} 行重复" if lang == "zh" else f"repeats the id of row {first}"
                errors.append(custom_error(number, "external_id", problem, parsed.headers, spec.labels, lang, ext))
                continue
            first_seen[ext] = number
        valid.append((number, values, set(row.keys()) & set(values.keys())))
    existing = find_by_external_ids(
        session, spec, [values for _, values, _ in valid if values.get("external_id")], principal
    )

    created = updated = unchanged = 0
    plan: list[tuple[Record | None, dict[str, Any], set[str]]] = []
    numbers: list[int] = []
    for number, values, present in valid:
        record = existing.get(values["external_id"]) if values.get("external_id") else None
        if record is not None and not can_write(principal, record):
            problem = (
                "编号已被其他单位的记录使用" if lang == "zh" else "is already used by another organisation's record"
            )
            errors.append(
                custom_error(number, "external_id", problem, parsed.headers, spec.labels, lang, values["external_id"])
            )
            continue
        if record is None:
            created += 1
        elif any(getattr(record, k) != values[k] for k in present):
            updated += 1
        else:
            unchanged += 1
        plan.append((record, values, present))
        numbers.append(number)
    rows_checked = [(n, v, r.id if r is not None else None) for n, (r, v, _) in zip(numbers, plan, strict=True)]
    duplicates = check_import_rows(session, spec.kind, rows_checked, None)

    failed_rows = len({e.row for e in errors})
    write = not dry_run and not (atomic and errors)
    batch_id = None
    if write and (created or updated):
        batch = ImportBatch(
            kind=spec.kind,
            filename=filename[:300],
            file_format=fmt,
            created=created,
            updated=updated,
            unchanged=unchanged,
            failed=failed_rows,
        )
        session.add(batch)
        session.flush()
        batch_id = batch.id
        source = f"import:{batch.id}"
        new_records: list[Record] = []
        for done, (record, values, present) in enumerate(plan, start=1):
            if record is None:
                new = spec.model(
                    **values,
                    source=source,
                    import_batch_id=batch.id,
                    org_id=resolve_org(session, spec, values, principal),
                )
                _refresh_derived(new)
                new_records.append(new)
            else:
                apply_changes(
                    session, spec, record, {k: values[k] for k in present}, source=source, principal=principal
                )
            if progress is not None and done % 100 == 0:
                progress(100)
        session.add_all(new_records)
        session.flush()
        for new in new_records:
            refresh_text_index(session, spec, new)
            log_change(session, spec.kind, new.id, "upsert")
            audit(session, spec.noun, new.id, "create", {"external_id": new.external_id, "source": source})
        written = [(n, r if r is not None else new_records.pop(0)) for n, (r, _, _) in zip(numbers, plan, strict=True)]
        link_import_candidates(session, duplicates, {n: r.id for n, r in written}, batch.id)
        if progress is not None:
            progress(len(plan) % 100)
    report = ImportReport(
        batch_id=batch_id,
        dry_run=dry_run,
        atomic=atomic,
        written=write and bool(created or updated),
        rows=len(parsed.rows),
        created=created,
        updated=updated,
        unchanged=unchanged,
        failed=failed_rows,
        errors=errors,
        duplicates=duplicates.report(),
        warnings=parsed.warnings,
    )
    if atomic and errors and not dry_run:
        raise InvalidImport(
            f"{failed_rows} of {len(parsed.rows)} rows failed validation; nothing was written (atomic import)",
            fields=[e.model_dump() for e in errors],
            report=report.model_dump(),
        )
    return report


def read_upload(stream: io.BufferedIOBase | Any, limit_bytes: int) -> bytes:
    """Read an upload, answering 413 as soon as it passes the size limit."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(1024 * 1024)
        if not chunk:
            break
        size += len(chunk)
        if size > limit_bytes:
            mib = limit_bytes / 1024 / 1024
            raise TooLarge(
                f"the file is larger than {mib:g} MiB, the most one import accepts",
                fields=[field_error("file", f"larger than {mib:g} MiB")],
                limit_bytes=limit_bytes,
            )
        chunks.append(chunk)
    if size == 0:
        raise InvalidImport("the uploaded file is empty", fields=[field_error("file", "empty")])
    return b"".join(chunks)


# ---------------------------------------------------------------------------------------------------------- export


def export_columns(spec: KindSpec) -> list[str]:
    """The exported columns: id, then every domain field, then status."""
    return ["id", *spec.labels.keys()]


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def _sheet_value(column: str, value: Any) -> Any:
    """A spreadsheet cell: the status in Chinese; the table writer formats the rest (是/否, 、, real dates)."""
    return RECORD_STATUS_LABELS.get(value, value) if column == "status" else value


def export_records(
    session: Session,
    spec: KindSpec,
    query: ListQuery,
    fmt: str,
    *,
    headers: str = "en",
    principal: Principal | None = None,
) -> bytes:
    """Every record matching the filters, in id order, as a file that re-imports to the same records."""
    if fmt not in EXPORT_FORMATS:
        raise ValidationFailed(
            f"format must be one of {', '.join(EXPORT_FORMATS)}",
            fields=[field_error("format", f"unknown format {fmt!r}")],
        )
    if headers not in ("en", "zh"):
        raise ValidationFailed("headers must be en or zh", fields=[field_error("headers", "must be en or zh")])
    columns = export_columns(spec)
    titles = [spec.labels.get(c, "编号") if headers == "zh" else c for c in columns]
    stmt = scope_read(filtered_select(spec, query), spec.kind, principal).order_by(spec.model.id)
    records: list[Any] = list(session.scalars(stmt))
    masks = masking(session, principal, [r.id for r in records]) if spec.kind == "demands" else None
    rows = []
    for record in records:
        values = {c: getattr(record, c) for c in columns}
        rows.append(masks.apply(record, values) if masks is not None else values)
    if fmt == "json":
        items = [{t: _json_value(row[c]) for c, t in zip(columns, titles, strict=True)} for row in rows]
        return json.dumps(items, ensure_ascii=False, indent=1).encode("utf-8")
    cells = ([_sheet_value(c, row[c]) for c in columns] for row in rows)
    return write_table(cast(TableFormat, fmt), titles, cells, sheet=spec.sheet_name)


MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
