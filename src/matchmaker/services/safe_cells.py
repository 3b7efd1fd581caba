"""Spreadsheet cells that never run: text that a spreadsheet would read as a formula is neutralised in every export.

Any member can give a record a title such as ``=HYPERLINK("http://evil","x")``; managers open the exported files. A
text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (OWASP's list) is written

* in XLSX as a typed string cell: the text is exactly the record's, and no formula is stored;
* in CSV with a leading apostrophe (what Excel itself shows for text typed as ``'=...``), which the CSV importer
  removes again, so that a file exported and imported back changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CSV_GUARD = "'"


def looks_like_formula(value: object) -> bool:
    """Whether a spreadsheet would take this text cell for a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


def csv_value(value: Any) -> Any:
    """A CSV cell: None as empty, formula-looking text behind an apostrophe."""
    if value is None:
        return ""
    return CSV_GUARD + value if looks_like_formula(value) else value


def csv_row(values: Iterable[Any]) -> list[Any]:
    """A CSV row with every cell neutralised."""
    return [csv_value(v) for v in values]


def unguard_csv_value(value: Any) -> Any:
    """What an exported CSV cell held before :func:`csv_value` (the importer's half of the round trip)."""
    if isinstance(value, str) and value.startswith(CSV_GUARD) and looks_like_formula(value[1:]):
        return value[1:]
    return value


def sheet_row(sheet: Any, values: Iterable[Any]) -> list[Any]:
    """An XLSX row for ``sheet.append``: formula-looking text as typed string cells (no formula is stored), control
    characters a worksheet cannot hold removed."""
    row: list[Any] = []
    for value in values:
        if isinstance(value, str):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)  # control characters no worksheet may hold
        if looks_like_formula(value):
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"  # openpyxl made it a formula ("f") on assignment
            row.append(cell)
        else:
            row.append(value)
    return row
