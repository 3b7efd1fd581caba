"""The one table writer: what every spreadsheet of the service gets from it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl

from matchmaker.services.readers import decode_text
from matchmaker.services.tables import MAX_WIDTH, Table, display_width, write_table, write_workbook
from tests.sheets import assert_office_xlsx

TITLES = ["编号", "名称", "预算(万元)", "截止日期", "更新时间", "是否保密", "关键词", "说明"]
ROWS = [
    [
        1,
        "焊缝低温开裂",
        Decimal("80.5"),
        date(2027, 3, 31),
        datetime(2026, 12, 1, 16, 30, tzinfo=UTC),
        True,
        ["焊接", "低温"],
        "长" * 80,
    ],
    [2, '=HYPERLINK("http://evil","x")', Decimal(100), None, None, False, [], None],
]


def test_display_width_counts_chinese_twice() -> None:
    assert display_width("abc") == 3
    assert display_width("焊缝") == 4
    assert display_width("ＡＢ") == 4  # full-width letters
    assert display_width("一行\n长长长长的第二行") == 16  # the longest line
    assert display_width(None) == 0


def test_xlsx_has_the_office_properties() -> None:
    book = assert_office_xlsx(write_table("xlsx", TITLES, ROWS, sheet="需求清单"))
    sheet = book["需求清单"]
    assert [c.value for c in sheet[1]] == TITLES
    assert sheet.auto_filter.ref == "A1:H3"
    assert sheet["C2"].value == 80.5
    assert sheet["C2"].number_format == "#,##0.00"
    assert sheet["C3"].value == 100
    assert sheet["C3"].number_format == "#,##0.00"
    assert sheet["D2"].value == datetime(2027, 3, 31)
    assert sheet["D2"].number_format == "yyyy-mm-dd"
    # a UTC time becomes the office's Beijing time, as a real date-time cell
    assert sheet["E2"].value == datetime(2026, 12, 2, 0, 30)
    assert sheet["E2"].number_format == "yyyy-mm-dd hh:mm"
    assert (sheet["F2"].value, sheet["F3"].value) == ("是", "否")
    assert sheet["G2"].value == "焊接、低温"
    assert sheet["B3"].value == '=HYPERLINK("http://evil","x")'
    assert sheet["B3"].data_type == "s"
    widths = {c: sheet.column_dimensions[c].width for c in "ABCDEFGH"}
    assert widths["B"] >= display_width("焊缝低温开裂")  # Chinese text fits
    assert widths["H"] == MAX_WIDTH
    assert sheet["H2"].alignment.wrap_text


def test_given_widths_are_kept_and_several_sheets_are_written() -> None:
    content = write_workbook([Table("说明", ["项目", "内容"], [["期间", date(2026, 1, 1)]], widths=[16, 60]),
                              Table("明细", ["合同ID"], [])])  # fmt: skip
    book = assert_office_xlsx(content)
    assert book.sheetnames == ["说明", "明细"]
    assert book["说明"].column_dimensions["B"].width == 60
    narrow_table = Table("窄", ["中心配套（万元）"], [[1.5]], widths=[6])
    narrow = openpyxl.load_workbook(io.BytesIO(write_workbook([narrow_table])))
    assert narrow["窄"].column_dimensions["A"].width == display_width("中心配套（万元）") + 4  # widened to its header
    assert book["明细"].max_row == 1


def test_csv_has_a_bom_and_the_same_office_values() -> None:
    content = write_table("csv", TITLES, ROWS, sheet="ignored")
    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == TITLES
    assert rows[1][2:7] == ["80.5", "2027-03-31", "2026-12-02 00:30", "是", "焊接、低温"]
    assert rows[2][1].startswith("'=")  # formula text behind an apostrophe
    assert rows[2][3:5] == ["", ""]


def test_no_live_formula_is_stored() -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(write_table("xlsx", ["a"], [["=1+1"], ["@SUM(A1)"]], sheet="s"))).active
    assert sheet is not None
    assert [sheet["A2"].data_type, sheet["A3"].data_type] == ["s", "s"]


def test_an_empty_table_still_has_its_header() -> None:
    for fmt in ("csv", "xlsx"):
        content = write_table(fmt, TITLES, [], sheet="空")
        if fmt == "csv":
            assert list(csv.reader(io.StringIO(decode_text(content)))) == [TITLES]
        else:
            sheet = openpyxl.load_workbook(io.BytesIO(content))["空"]
            assert sheet.max_row == 1
