"""The one table writer for every spreadsheet the service hands out (the lists, a matching run's list, the resources,
the upward report, the 榜单, an event's agendas and table plan): CSV or XLSX from header rows and value rows.

What a Chinese office expects of the file, done here once for all of them:

* values: ``True``/``False`` as 是/否, a list joined with 、, a ``Decimal`` as a number, a date-time in Beijing time
  (Asia/Shanghai; a naive one is taken as already local), ``None`` as an empty cell;
* XLSX: one worksheet per table, the header row bold and frozen, an autofilter over the table, dates and date-times
  as real date cells with a number format (``yyyy-mm-dd``, ``yyyy-mm-dd hh:mm``), money columns (header ending in
  ``(万元)``) with two decimals, column widths fitted to the text (a Chinese character is two columns wide, long text
  wraps), no formulas;
* CSV: UTF-8 with a byte-order mark (Excel in China then opens it correctly; the importer accepts it), dates as ISO
  8601 text.

Text that a spreadsheet would take for a formula is neutralised in both (:mod:`matchmaker.services.safe_cells`).
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from matchmaker.services.safe_cells import csv_row, sheet_row

TableFormat = Literal["csv", "xlsx"]
TABLE_FORMATS: tuple[TableFormat, ...] = ("csv", "xlsx")
OFFICE_TZ = ZoneInfo("Asia/Shanghai")
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
MONEY_FORMAT = "#,##0.00"
MONEY_SUFFIXES = ("(万元)", "（万元）")
MIN_WIDTH = 6
MAX_WIDTH = 50
"""Column widths in characters of the default font; text wider than MAX_WIDTH wraps."""
_HEADER_FONT = Font(bold=True)
_WRAP = Alignment(wrap_text=True, vertical="top")


@dataclass(frozen=True)
class Table:
    """One worksheet: its name, header row and value rows; ``widths`` overrides the fitted column widths."""

    name: str
    titles: Sequence[str]
    rows: Sequence[Sequence[Any]]
    widths: Sequence[float] | None = None


def cell_value(value: Any) -> Any:
    """A value as an office reads it in a cell: 是/否, 、-joined lists, numbers, Beijing-time date-times."""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list | tuple):
        return "、".join(str(v) for v in value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(OFFICE_TZ).replace(tzinfo=None)
    return value


def _csv_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return value


def display_width(value: Any) -> int:
    """Columns a cell's text needs (East Asian wide and full-width characters count two), its longest line."""
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    text = str(value)
    return max(
        (sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line) for line in text.splitlines()),
        default=0,
    )


def _fitted_widths(titles: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[float]:
    widths = [display_width(t) + 4 for t in titles]  # + room for the autofilter's button
    for row in rows:
        for i, value in enumerate(row[: len(widths)]):
            widths[i] = max(widths[i], display_width(value) + 2)
    return [float(min(MAX_WIDTH, max(MIN_WIDTH, w))) for w in widths]


def _header_floor(titles: Sequence[str], widths: Sequence[float]) -> list[float]:
    """Given widths, each widened where its header would not fit (with the autofilter's button)."""
    return [float(max(w, min(MAX_WIDTH, display_width(t) + 4))) for t, w in zip(titles, widths, strict=False)]


def _format(title: str, value: Any) -> str | None:
    if isinstance(value, datetime):
        return DATETIME_FORMAT
    if isinstance(value, date):
        return DATE_FORMAT
    if isinstance(value, int | float) and not isinstance(value, bool) and title.endswith(MONEY_SUFFIXES):
        return MONEY_FORMAT
    return None


def _add_sheet(workbook: Any, table: Table) -> None:
    sheet = workbook.create_sheet(table.name[:31])  # Excel's limit on a sheet name
    rows = [[cell_value(v) for v in row] for row in table.rows]
    widths = _fitted_widths(table.titles, rows) if table.widths is None else _header_floor(table.titles, table.widths)
    wrapped = {i for i, w in enumerate(widths) if w >= MAX_WIDTH}
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.freeze_panes = "A2"
    if rows:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(table.titles))}{len(rows) + 1}"
    header = []
    for title in table.titles:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = _HEADER_FONT
        header.append(cell)
    sheet.append(header)
    for row in rows:
        cells = sheet_row(sheet, row)
        for i, value in enumerate(row):
            fmt = _format(table.titles[i], value) if i < len(table.titles) else None
            if fmt is None and i not in wrapped:
                continue
            cell = cells[i] if isinstance(cells[i], Cell) else WriteOnlyCell(sheet, value=cells[i])
            if fmt is not None:
                cell.number_format = fmt
            if i in wrapped:
                cell.alignment = _WRAP
            cells[i] = cell
        sheet.append(cells)


def write_workbook(tables: Sequence[Table]) -> bytes:
    """An XLSX file with one worksheet per table, in order."""
    workbook = openpyxl.Workbook(write_only=True)
    for table in tables:
        _add_sheet(workbook, table)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def write_table(
    fmt: TableFormat,
    titles: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    sheet: str,
    widths: Sequence[float] | None = None,
) -> bytes:
    """The table as a CSV or XLSX file's bytes (``sheet`` names the XLSX worksheet)."""
    if fmt == "csv":
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer)
        writer.writerow(titles)
        writer.writerows(csv_row(_csv_text(cell_value(v)) for v in row) for row in rows)
        return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")
    return write_workbook([Table(sheet, titles, list(rows), widths)])
