"""Reading import files (CSV, XLSX, JSON, JSON Lines) into canonical-field rows, bounded against hostile files.

Every bound fails fast with a 413 or 422 naming the file, the row or the cell, before the file can cost much memory
or time: an XLSX workbook's uncompressed size (a zip bomb expands 1,000-fold), the cells per row and in all, the rows;
a CSV cell's length; JSON nesting; bytes that are neither UTF-8 nor GB18030.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Literal
from xml.etree.ElementTree import iterparse

import openpyxl

from matchmaker.domain import canonical_header, header_map
from matchmaker.errors import InvalidImport, TooLarge, field_error
from matchmaker.kinds import KindSpec
from matchmaker.services.safe_cells import unguard_csv_value

FileFormat = Literal["csv", "xlsx", "json", "jsonl"]
FORMATS: tuple[str, ...] = ("csv", "xlsx", "json", "jsonl")
IGNORED_ALWAYS = {"id", "序号", "language", "content_hash", "source", "created_at", "updated_at"}

MAX_CELL_CHARS = 131_072
"""The longest CSV cell (Python's csv default field limit; the longest text field the lists accept is far shorter)."""
MAX_COLUMNS = 200
"""The most cells one spreadsheet row may have (the lists have about 15 columns)."""
MAX_XLSX_EXPANSION = 100
"""An XLSX file may expand to at most this many times its upload limit (ordinary sheets expand 5–10×)."""
MAX_JSON_DEPTH = 32
"""Deepest nesting a JSON import may have (a record is two levels deep; more is an attack or a mistake)."""


@dataclass
class ParsedFile:
    """Rows of an uploaded file with their 1-based row numbers as a person sees them (header = row 1 in CSV/XLSX)."""

    rows: list[tuple[int, dict[str, Any]]]
    headers: dict[str, str] = field(default_factory=dict)  # field → its column as the file spelled it (first seen)
    ignored_columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


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


_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")


def decode_text(content: bytes) -> str:
    """Decode CSV/JSON bytes: UTF-8 (with or without BOM), else GB18030 (what Excel in China writes).

    A file that is neither is refused naming the row of its first byte that is not UTF-8, rather than guessed at (a
    guess turns a damaged UTF-8 file into plausible garbage that is then stored). So is a UTF-8 file with a few
    damaged bytes that happen to decode as GB18030: it has more valid UTF-8 characters than damaged bytes.
    """
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    damaged = len(content) - len(content.decode("utf-8", errors="ignore").encode("utf-8"))
    utf8_chars = len(_UTF8_MULTIBYTE.findall(content))
    if utf8_chars <= damaged:
        try:
            return content.decode("gb18030")
        except UnicodeDecodeError:
            pass
    row = content[:first_bad].count(b"\n") + 1
    raise InvalidImport(
        f"row {row}: bytes {content[first_bad : first_bad + 4]!r} are not UTF-8 (nor is the file GB18030); "
        "save the file as UTF-8",
        fields=[field_error("file", "not UTF-8 or GB18030", row=row)],
    )


def _map_row(
    raw: dict[str, Any], mapping: dict[str, str], ignored: set[str], headers: dict[str, str]
) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for header, value in raw.items():
        if header is None:
            continue
        name = canonical_header(str(header), mapping)
        if name is None:
            ignored.add(str(header))
        else:
            row[name] = value
            headers.setdefault(name, str(header).strip())
    return row


def _check_header(names: list[str | None], mapping: dict[str, str]) -> None:
    """422 for a header row with no known column, or with one column twice (one value would silently win)."""
    seen: dict[str, str] = {}
    for name in names:
        if not name:
            continue
        canonical = canonical_header(name, mapping)
        if canonical is None:
            continue
        if canonical in seen:
            raise InvalidImport(
                f"row 1: columns {seen[canonical]!r} and {name!r} are both {canonical}",
                fields=[field_error(canonical, "column given twice", row=1)],
            )
        seen[canonical] = name
    if not seen:
        shown = ", ".join(repr(n) for n in names[:8] if n)
        raise InvalidImport(
            f"row 1 has no known column header (found {shown or 'none'}); use the export's headers, in English "
            "or Chinese",
            fields=[field_error("file", "no recognised column header", row=1)],
        )


def _csv_rows(text: str, mapping: dict[str, str]) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        _check_header(list(reader.fieldnames or []), mapping)
        for index, raw in enumerate(reader, start=2):
            if raw.get(None):
                raise InvalidImport(
                    f"row {index} has more cells than the header", fields=[field_error("file", "ragged row", row=index)]
                )
            if any(v not in (None, "") for v in raw.values()):
                yield index, {k: unguard_csv_value(v) for k, v in raw.items()}
    except csv.Error as exc:  # a cell past the field limit, a NUL byte, a damaged quote
        row = reader.line_num + 1  # the line being read when it failed
        problem = f"a cell is longer than {MAX_CELL_CHARS:,} characters" if "limit" in str(exc) else str(exc)
        raise InvalidImport(f"row {row}: {problem}", fields=[field_error("file", problem, row=row)]) from exc


def check_xlsx(content: bytes, max_upload_bytes: int, max_rows: int) -> None:
    """Bound an XLSX workbook before openpyxl reads it: its uncompressed size, then (one streaming pass over each
    sheet's XML, stopped at the first excess) the cells per row, the rows and the cells in all."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile as exc:
        raise InvalidImport(
            "the file is not a readable .xlsx workbook (not a zip archive)",
            fields=[field_error("file", "unreadable xlsx")],
        ) from exc
    with archive:
        # The declared sizes are what zipfile will read at most (it stops at the declared size and then checks the
        # CRC), so summing them bounds the expansion without inflating anything.
        expanded = sum(info.file_size for info in archive.infolist())
        limit = max_upload_bytes * MAX_XLSX_EXPANSION
        if expanded > limit:
            raise TooLarge(
                f"the workbook expands to {expanded / 2**20:,.0f} MiB, more than the {limit / 2**20:,.0f} MiB "
                "one import may (is it a zip bomb?)",
                fields=[field_error("file", "uncompressed size over the limit")],
            )
        for name in archive.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                with archive.open(name) as sheet:
                    _check_sheet_xml(sheet, max_rows)


def _check_sheet_xml(sheet: Any, max_rows: int) -> None:
    cells_in_row = rows = 0
    row_number = "?"
    try:
        for event, element in iterparse(sheet, events=("start", "end")):
            tag = element.tag.rsplit("}", 1)[-1]
            if event == "start":
                if tag == "row":
                    row_number = element.get("r", "?")
                    cells_in_row = 0
                continue
            if tag == "c":
                cells_in_row += 1
                if cells_in_row > MAX_COLUMNS:
                    raise InvalidImport(
                        f"row {row_number} has more than {MAX_COLUMNS} cells",
                        fields=[field_error("file", f"more than {MAX_COLUMNS} cells in a row", row=row_number)],
                    )
            elif tag == "row":
                rows += cells_in_row > 0
                if rows > max_rows + 1:  # + the header
                    raise TooLarge(
                        f"the file has more than {max_rows} rows, the most one import accepts",
                        fields=[field_error("file", f"more than {max_rows} rows")],
                        limit=max_rows,
                    )
            element.clear()  # keep memory flat however long the sheet is
    except SyntaxError as exc:  # ElementTree's ParseError
        raise InvalidImport(
            f"the workbook's sheet is damaged XML ({exc})", fields=[field_error("file", "unreadable xlsx")]
        ) from exc


def _xlsx_rows(content: bytes, mapping: dict[str, str]) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a damaged file
        raise InvalidImport(
            f"the file is not a readable .xlsx workbook ({exc.__class__.__name__})",
            fields=[field_error("file", "unreadable xlsx")],
        ) from exc
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS)
        header = next(rows, None)
        if header is None:
            raise InvalidImport("the sheet is empty", fields=[field_error("file", "no header row")])
        names = [str(h).strip() if h is not None else None for h in header]
        _check_header(names, mapping)
        for index, values in enumerate(rows, start=2):
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            yield index, {n: v for n, v in zip(names, values, strict=False) if n}
    finally:
        workbook.close()


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for key, value in pairs:
        if key in item:
            raise _DuplicateKey(key)
        item[key] = value
    return item


class _DuplicateKey(ValueError):
    pass


def _load_json(text: str, where: str) -> Any:
    try:
        data = json.loads(text, object_pairs_hook=_object_without_duplicates)
    except json.JSONDecodeError as exc:
        raise InvalidImport(
            f"{where} is not valid JSON: {exc.msg} (line {exc.lineno})",
            fields=[field_error("file", "invalid JSON")],
        ) from exc
    except _DuplicateKey as exc:
        raise InvalidImport(
            f"{where}: key {exc.args[0]!r} appears twice in one object (which value is meant?)",
            fields=[field_error(str(exc.args[0]), "duplicate key")],
        ) from exc
    except RecursionError as exc:
        raise InvalidImport(f"{where} is nested too deeply", fields=[field_error("file", "nested too deeply")]) from exc
    if _depth(data) > MAX_JSON_DEPTH:
        raise InvalidImport(
            f"{where} is nested more than {MAX_JSON_DEPTH} levels deep",
            fields=[field_error("file", "nested too deeply")],
        )
    return data


def _depth(value: Any) -> int:
    depth, level = 0, [value]
    while level:  # breadth first: no recursion however deep the value is
        depth += 1
        level = [
            child
            for item in level
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, dict | list)
        ]
    return depth


def _json_rows(text: str, lines: bool) -> Iterator[tuple[int, dict[str, Any]]]:
    if lines:
        for index, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            item = _load_json(line, f"line {index}")
            if not isinstance(item, dict):
                raise InvalidImport(f"line {index} is not a JSON object", fields=[field_error("file", "not an object")])
            yield index, item
        return
    data = _load_json(text, "the file")
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


def read_rows(
    content: bytes,
    fmt: FileFormat,
    mapping: dict[str, str],
    *,
    max_rows: int,
    max_upload_bytes: int | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, cells by header as written) of a file of any format, within every bound (an XLSX is checked for
    its expansion first); ``mapping`` (accepted header → field) decides whether a CSV or XLSX header is known."""
    if fmt == "xlsx":
        check_xlsx(content, max_upload_bytes if max_upload_bytes is not None else len(content), max_rows)
        return _xlsx_rows(content, mapping)
    if fmt == "csv":
        return _csv_rows(decode_text(content), mapping)
    return _json_rows(decode_text(content), lines=fmt == "jsonl")


def map_rows(raw_rows: Iterable[tuple[int, dict[str, Any]]], mapping: dict[str, str], *, max_rows: int) -> ParsedFile:
    """Rows keyed by field (``mapping``: accepted header → field), remembering each field's header as written (for
    error messages) and the unknown columns; 413 beyond ``max_rows``, 422 for a file without data rows."""
    ignored: set[str] = set()
    headers: dict[str, str] = {}
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, raw in raw_rows:
        if len(rows) >= max_rows:
            raise TooLarge(
                f"the file has more than {max_rows} rows, the most one import accepts",
                fields=[field_error("file", f"more than {max_rows} rows")],
                limit=max_rows,
            )
        rows.append((number, _map_row(raw, mapping, ignored, headers)))
    if not rows:
        raise InvalidImport("the file has no data rows", fields=[field_error("file", "no data rows")])
    unknown = sorted(ignored - IGNORED_ALWAYS)
    warnings = [f"unknown columns ignored: {', '.join(unknown)}"] if unknown else []
    return ParsedFile(rows=rows, headers=headers, ignored_columns=unknown, warnings=warnings)


def require_columns(parsed: ParsedFile, fmt: FileFormat, required: Iterable[str], labels: dict[str, str]) -> None:
    """422 naming each required column a CSV or XLSX file lacks (a JSON object may leave a key out per row)."""
    if fmt not in ("csv", "xlsx"):
        return
    present = set().union(*(r.keys() for _, r in parsed.rows))
    missing = [name for name in required if name not in present]
    if missing:
        names = "、".join(f"「{labels[m]}」({m})" for m in missing)
        raise InvalidImport(
            f"缺少必填的列 {names} (required columns missing)",
            fields=[field_error(m, "column missing") for m in missing],
        )


def parse_file(
    spec: KindSpec, content: bytes, fmt: FileFormat, *, max_rows: int, max_upload_bytes: int | None = None
) -> ParsedFile:
    """Read an import file into canonical-field rows; 413 beyond max_rows (or an XLSX that expands too far), 422 when
    the header has no known column or required columns are missing, or when the file has no data row."""
    mapping = header_map(spec.labels)
    raw_rows = read_rows(content, fmt, mapping, max_rows=max_rows, max_upload_bytes=max_upload_bytes)
    parsed = map_rows(raw_rows, mapping, max_rows=max_rows)
    require_columns(parsed, fmt, ("title", spec.body), spec.labels)
    return parsed
