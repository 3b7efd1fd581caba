"""Import and export of the lists as CSV, XLSX, JSON and JSON Lines (canonical or Chinese column headers)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import PurePath
from typing import Any, Literal, cast

import openpyxl
from charset_normalizer import from_bytes
from pydantic import ValidationError
from sqlalchemy.orm import Session

from matchmaker.domain import canonical_header, header_map
from matchmaker.errors import InvalidImport, TooLarge, ValidationFailed, field_error
from matchmaker.kinds import KindSpec, Record
from matchmaker.models import ImportBatch
from matchmaker.schemas import ImportReport, RowError
from matchmaker.services.access import Principal, can_write, masking, require_writer, scope_read
from matchmaker.services.audit import audit
from matchmaker.services.records import (
    ListQuery,
    _refresh_derived,
    apply_changes,
    filtered_select,
    find_by_external_ids,
    log_change,
    resolve_org,
)
from matchmaker.services.tables import TableFormat, write_table

FileFormat = Literal["csv", "xlsx", "json", "jsonl"]
FORMATS: tuple[str, ...] = ("csv", "xlsx", "json", "jsonl")
EXPORT_FORMATS: tuple[str, ...] = ("csv", "xlsx", "json")
_IGNORED_ALWAYS = {"id", "序号", "language", "content_hash", "source", "created_at", "updated_at"}
Progress = Callable[[int], None]


@dataclass
class ParsedFile:
    """Rows of an uploaded file with their 1-based row numbers as a person sees them (header = row 1 in CSV/XLSX)."""

    rows: list[tuple[int, dict[str, Any]]]
    ignored_columns: list[str] = field(default_factory=list)


def detect_format(filename: str | None, explicit: str | None = None) -> FileFormat:
    """The file format, from an explicit choice or the file name's extension."""
    choice = (explicit or PurePath(filename or "").suffix.lstrip(".")).lower()
    if choice in ("xls",):
        raise InvalidImport(
            "legacy .xls files are not supported; save the sheet as .xlsx or CSV",
            fields=[field_error("file", "unsupported format xls")],
        )
    if choice not in FORMATS:
        raise InvalidImport(
            f"cannot tell the file format of {filename!r}; use a .csv, .xlsx, .json or .jsonl file or pass format",
            fields=[field_error("file", "unknown format")],
        )
    return choice  # type: ignore[return-value]


def decode_text(content: bytes) -> str:
    """Decode CSV/JSON bytes: UTF-8 (with or without BOM), else GB18030 (what Excel in China writes), else a guess."""
    if content.startswith(b"\xef\xbb\xbf"):
        return content[3:].decode("utf-8")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("gb18030")
    except UnicodeDecodeError:
        pass
    best = from_bytes(content).best()
    if best is None:
        raise InvalidImport(
            "the file is not text in a known encoding (UTF-8 or GB18030)",
            fields=[field_error("file", "unknown encoding")],
        )
    return str(best)


def _map_row(raw: dict[str, Any], mapping: dict[str, str], ignored: set[str]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for header, value in raw.items():
        if header is None:
            continue
        name = canonical_header(str(header), mapping)
        if name is None:
            ignored.add(str(header))
        else:
            row[name] = value
    return row


def _csv_rows(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    for index, raw in enumerate(reader, start=2):
        if raw.get(None):
            raise InvalidImport(
                f"row {index} has more cells than the header", fields=[field_error("file", "ragged row")]
            )
        if any(v not in (None, "") for v in raw.values()):
            yield index, raw


def _xlsx_rows(content: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a damaged file
        raise InvalidImport(
            f"the file is not a readable .xlsx workbook ({exc.__class__.__name__})",
            fields=[field_error("file", "unreadable xlsx")],
        ) from exc
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            return
        names = [str(h).strip() if h is not None else None for h in header]
        for index, values in enumerate(rows, start=2):
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            yield index, {n: v for n, v in zip(names, values, strict=False) if n}
    finally:
        workbook.close()


def _json_rows(text: str, lines: bool) -> Iterator[tuple[int, dict[str, Any]]]:
    if lines:
        for index, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidImport(
                    f"line {index} is not valid JSON: {exc.msg}",
                    fields=[field_error("file", "invalid JSON", row=index)],
                ) from exc
            if not isinstance(item, dict):
                raise InvalidImport(f"line {index} is not a JSON object", fields=[field_error("file", "not an object")])
            yield index, item
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidImport(
            f"the file is not valid JSON: {exc.msg} (line {exc.lineno})", fields=[field_error("file", "invalid JSON")]
        ) from exc
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        data = data["items"]
    if not isinstance(data, list):
        raise InvalidImport(
            'a JSON import is an array of objects (or {"items": [...]})', fields=[field_error("file", "not an array")]
        )
    for index, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise InvalidImport(f"item {index} is not a JSON object", fields=[field_error("file", "not an object")])
        yield index, item


def parse_file(spec: KindSpec, content: bytes, fmt: FileFormat, *, max_rows: int) -> ParsedFile:
    """Read an import file into canonical-field rows; 413 beyond max_rows, 422 when required columns are missing."""
    if fmt == "xlsx":
        raw_rows = _xlsx_rows(content)
    elif fmt == "csv":
        raw_rows = _csv_rows(decode_text(content))
    else:
        raw_rows = _json_rows(decode_text(content), lines=fmt == "jsonl")
    mapping = header_map(spec.labels)
    ignored: set[str] = set()
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, raw in raw_rows:
        if len(rows) >= max_rows:
            raise TooLarge(
                f"the file has more than {max_rows} rows, the most one import accepts",
                fields=[field_error("file", f"more than {max_rows} rows")],
                limit=max_rows,
            )
        rows.append((number, _map_row(raw, mapping, ignored)))
    if fmt in ("csv", "xlsx") and rows:
        present = set().union(*(r.keys() for _, r in rows))
        missing = [name for name in ("title", spec.body) if name not in present]
        if missing:
            labels = ", ".join(f"{m} ({spec.labels[m]})" for m in missing)
            raise InvalidImport(
                f"required columns missing: {labels}", fields=[field_error(m, "column missing") for m in missing]
            )
    return ParsedFile(rows=rows, ignored_columns=sorted(ignored - _IGNORED_ALWAYS))


def _errors(row: int, exc: ValidationError) -> list[RowError]:
    out = []
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"]) or "row"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        out.append(RowError(row=row, field=name, message=message))
    return out


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
) -> ImportReport:
    """Validate every row, then upsert by external_id (or report only, with dry_run).

    Rows without an external_id are always created. With atomic, one failed row means nothing is written and the
    report comes back inside a 422 error. The caller's unit of work commits.
    """
    require_writer(principal, spec.kind)
    errors: list[RowError] = []
    valid: list[tuple[int, dict[str, Any], set[str]]] = []
    first_seen: dict[str, int] = {}
    for number, row in parsed.rows:
        row = {k: v for k, v in row.items() if k not in _IGNORED_ALWAYS}
        try:
            model = spec.create.model_validate(row)
        except ValidationError as exc:
            errors.extend(_errors(number, exc))
            continue
        values = model.model_dump()
        ext = values.get("external_id")
        if ext is not None:
            if ext in first_seen:
                errors.append(
                    RowError(
                        row=number,
                        field="external_id",
                        message=f"duplicate external_id {ext!r} in this file (first at row {first_seen[ext]})",
                    )
                )
                continue
            first_seen[ext] = number
        valid.append((number, values, set(row.keys()) & set(values.keys())))
    existing = find_by_external_ids(session, spec, list(first_seen))

    created = updated = unchanged = 0
    plan: list[tuple[Record | None, dict[str, Any], set[str]]] = []
    for number, values, present in valid:
        record = existing.get(values["external_id"]) if values.get("external_id") else None
        if record is not None and not can_write(principal, record):
            errors.append(
                RowError(
                    row=number, field="external_id", message=f"external_id {values['external_id']!r} is already used"
                )
            )
            continue
        if record is None:
            created += 1
        elif any(getattr(record, k) != values[k] for k in present):
            updated += 1
        else:
            unchanged += 1
        plan.append((record, values, present))

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
            log_change(session, spec.kind, new.id, "upsert")
            audit(session, spec.noun, new.id, "create", {"external_id": new.external_id, "source": source})
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


def _cell(value: Any, *, for_sheet: bool) -> Any:
    if isinstance(value, list):
        return "、".join(value) if for_sheet else value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, bool) and for_sheet:
        return "是" if value else "否"
    return value


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
        items = [{t: _cell(row[c], for_sheet=False) for c, t in zip(columns, titles, strict=True)} for row in rows]
        return json.dumps(items, ensure_ascii=False, indent=1).encode("utf-8")
    cells = ([_cell(row[c], for_sheet=True) for c in columns] for row in rows)
    return write_table(cast(TableFormat, fmt), titles, cells, sheet=spec.sheet_name)


MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
