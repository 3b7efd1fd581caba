"""The one table writer (services/tables.py): CSV for Excel in China and XLSX with a frozen header, neither running a
formula, both keeping numbers and dates as values."""

from __future__ import annotations

import csv
import io
from datetime import date

import openpyxl

from matchmaker.services.readers import decode_text
from matchmaker.services.tables import write_table

TITLES = ["成果名称", "参考价格(万元)", "截止日期", "备注"]
ROWS = [
    ["相变蓄冷材料", 150, date(2027, 6, 30), None],
    ['=HYPERLINK("http://x","点此")', 12.5, None, "-3 为负数"],
]


def test_csv_opens_in_excel_and_neutralises_formulas() -> None:
    content = write_table("csv", TITLES, ROWS, sheet="成果清单")
    assert content.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel in China reads the Chinese headers
    rows = list(csv.reader(io.StringIO(decode_text(content))))
    assert rows[0] == TITLES
    assert rows[1] == ["相变蓄冷材料", "150", "2027-06-30", ""]  # a missing value is an empty cell
    assert rows[2][0] == '\'=HYPERLINK("http://x","点此")'  # behind an apostrophe: shown as text, never run
    assert rows[2][3] == "'-3 为负数"


def test_xlsx_has_a_frozen_header_typed_values_and_no_formula() -> None:
    content = write_table("xlsx", TITLES, ROWS, sheet="成果清单")
    book = openpyxl.load_workbook(io.BytesIO(content))
    sheet = book["成果清单"]
    assert book.sheetnames == ["成果清单"]
    assert sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[1]] == TITLES
    name, price, deadline, note = sheet[2]
    assert (name.value, price.value, price.data_type) == ("相变蓄冷材料", 150, "n")
    assert deadline.is_date
    assert deadline.value.date() == date(2027, 6, 30)
    assert note.value is None
    formula = sheet["A3"]
    assert formula.data_type == "s"  # the record's text exactly, stored as a string, not a formula
    assert formula.value == '=HYPERLINK("http://x","点此")'


def test_an_empty_table_still_has_its_header() -> None:
    for fmt in ("csv", "xlsx"):
        content = write_table(fmt, TITLES, [], sheet="空")
        if fmt == "csv":
            assert list(csv.reader(io.StringIO(decode_text(content)))) == [TITLES]
        else:
            sheet = openpyxl.load_workbook(io.BytesIO(content))["空"]
            assert sheet.max_row == 1
