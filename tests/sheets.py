"""Checks every spreadsheet the service writes must pass (tests of each export call them)."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from urllib.parse import quote

import openpyxl
from httpx import Response

from matchmaker.services.tables import display_width

ENGLISH_VALUES = {"True", "False", "open", "active", "draft", "closed", "archived", "proposed", "rejected", "met"}


def assert_office_xlsx(content: bytes) -> openpyxl.Workbook:
    """Each sheet: bold frozen header, an autofilter over the table, widths that fit the headers, Chinese values,
    every date cell a real date with a date format, and no formula anywhere. Returns the workbook."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name), name
    book = openpyxl.load_workbook(io.BytesIO(content))
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2", sheet.title
        header = [c for c in sheet[1] if c.value is not None]
        assert header, sheet.title
        assert all(c.font.bold for c in header), sheet.title
        if sheet.max_row > 1:
            assert sheet.auto_filter.ref == f"A1:{header[-1].column_letter}{sheet.max_row}", sheet.title
        for cell in header:
            width = sheet.column_dimensions[cell.column_letter].width
            assert width >= min(display_width(cell.value), 16), (sheet.title, cell.value, width)
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                assert cell.value not in ENGLISH_VALUES, (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, datetime | date):
                    assert cell.number_format.startswith("yyyy-mm-dd"), cell.coordinate
    return book


def assert_chinese_download(response: Response, chinese_name: str) -> None:
    """``Content-Disposition`` names the file in Chinese (RFC 5987 ``filename*``) with an ASCII fallback."""
    value = response.headers["content-disposition"]
    assert value.startswith('attachment; filename="'), value
    fallback = value.split('filename="', 1)[1].split('"', 1)[0]
    assert fallback, value
    assert fallback.isascii(), value
    assert f"filename*=UTF-8''{quote(chinese_name, safe='')}" in value, value
