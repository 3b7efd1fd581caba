"""One table writer for every spreadsheet export (the lists, a matching run's list): CSV or XLSX from a header row and
value rows.

* CSV: UTF-8 with a byte-order mark (Excel in China then opens it correctly; the importer accepts it), empty cells for
  missing values.
* XLSX: one worksheet with a frozen header row; numbers, dates and text are written as cell values (no formulas).

Text that a spreadsheet would take for a formula is neutralised in both (:mod:`matchmaker.services.safe_cells`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import openpyxl

from matchmaker.services.safe_cells import csv_row, sheet_row

TableFormat = Literal["csv", "xlsx"]
TABLE_FORMATS: tuple[TableFormat, ...] = ("csv", "xlsx")


def write_table(fmt: TableFormat, titles: Sequence[str], rows: Iterable[Sequence[Any]], *, sheet: str) -> bytes:
    """The table as a CSV or XLSX file's bytes (``sheet`` names the XLSX worksheet)."""
    if fmt == "csv":
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer)
        writer.writerow(titles)
        writer.writerows(csv_row(row) for row in rows)
        return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")
    workbook = openpyxl.Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet)
    worksheet.freeze_panes = "A2"
    worksheet.append(list(titles))
    for row in rows:
        worksheet.append(sheet_row(worksheet, row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
