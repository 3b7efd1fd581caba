"""Items 3, 8 and 12: hostile and malformed import files answer a clear 4xx naming the row, fast, writing nothing."""

from __future__ import annotations

import io
import json
import time
import zipfile

import openpyxl
import pytest
from fastapi.testclient import TestClient

IA = "/api/v1/imports/achievements"
HEADER = "external_id,title,summary\n"


def _upload(client: TestClient, name: str, content: bytes) -> tuple[int, dict[str, object]]:
    answer = client.post(IA, files={"file": (name, content)})
    return answer.status_code, answer.json()


def _count(client: TestClient) -> int:
    return int(client.get("/api/v1/achievements").json()["total"])


def _xlsx_with_sheet(sheet_xml: bytes) -> bytes:
    """A real workbook whose first sheet's XML is replaced (how a hand-made bomb is built)."""
    workbook = openpyxl.Workbook()
    workbook.active.append(["external_id", "title", "summary"])
    source = io.BytesIO()
    workbook.save(source)
    out = io.BytesIO()
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zout:
        for item in zin.infolist():
            data = sheet_xml if item.filename == "xl/worksheets/sheet1.xml" else zin.read(item.filename)
            zout.writestr(item.filename, data)
    return out.getvalue()


def _sheet(rows: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
        f'2006/main"><sheetData>{rows}</sheetData></worksheet>'
    ).encode()


def test_xlsx_row_of_three_million_cells_fails_fast(client: TestClient) -> None:
    bomb = _xlsx_with_sheet(_sheet('<row r="1">' + "<c><v>1</v></c>" * 3_000_000 + "</row>"))
    assert len(bomb) < 1_000_000  # it fits well under the upload limit
    started = time.perf_counter()
    status, body = _upload(client, "bomb.xlsx", bomb)
    assert time.perf_counter() - started < 10  # unbounded, openpyxl spent over a minute and gigabytes on it
    assert status == 422
    assert "row 1 has more than 200 cells" in str(body["detail"])
    assert _count(client) == 0


def test_xlsx_that_expands_past_the_limit_is_refused_from_its_directory(client: TestClient) -> None:
    padding = " " * (101 * 2**20)  # 101 MiB of XML whitespace: the test app accepts 1 MiB uploads, × 100
    status, body = _upload(client, "big.xlsx", _xlsx_with_sheet(_sheet("") + padding.encode()))
    assert status == 413
    assert "zip bomb" in str(body["detail"])


def test_xlsx_with_too_many_rows_is_refused_while_streaming(client: TestClient) -> None:
    rows = "".join(f'<row r="{i}"><c t="inlineStr"><is><t>r{i}</t></is></c></row>' for i in range(1, 600))
    status, body = _upload(client, "rows.xlsx", _xlsx_with_sheet(_sheet(rows)))
    assert status == 413  # the test app accepts 500 rows
    assert "more than 500 rows" in str(body["detail"])


def test_csv_cell_past_the_field_limit_names_its_row(client: TestClient) -> None:
    content = (HEADER + "A-1,标题,简介\nA-2,标题," + "长" * 140_000 + "\n").encode()
    status, body = _upload(client, "long.csv", content)
    assert status == 422
    assert str(body["detail"]).startswith("row 3: a cell is longer than 131,072 characters")
    assert _count(client) == 0


@pytest.mark.parametrize("depth", [100, 1_000, 100_000])
def test_deeply_nested_json_is_refused(client: TestClient, depth: int) -> None:
    content = ('[{"title": "x", "summary": ' + "[" * depth + "]" * depth + "}]").encode()
    status, body = _upload(client, "deep.json", content)
    assert status == 422
    assert "nested" in str(body["detail"])


def test_invalid_utf8_is_refused_naming_the_row(client: TestClient) -> None:
    content = (HEADER + "A-1,相变蓄冷材料,潜热高\nA-2,").encode() + b"\xff\xfe\xfa\xc3\x28" + ",简介\n".encode()
    status, body = _upload(client, "bad.csv", content)
    assert status == 422
    assert str(body["detail"]).startswith("row 3:")
    assert _count(client) == 0
    ascii_then_garbage = HEADER.encode() + b"A-1,\xff\xfe\xfa\xc3\x28,x\n"
    status, body = _upload(client, "bad2.csv", ascii_then_garbage)
    assert status == 422
    assert str(body["detail"]).startswith("row 2:")


def test_gb18030_still_imports(client: TestClient) -> None:
    status, body = _upload(client, "gb.csv", (HEADER + "A-1,相变蓄冷材料,潜热高\n").encode("gb18030"))
    assert status == 200, body
    assert body["created"] == 1


def test_header_only_and_unknown_headers_are_errors(client: TestClient) -> None:
    status, body = _upload(client, "empty.csv", HEADER.encode())
    assert (status, body["detail"]) == (422, "the file has no data rows")
    status, body = _upload(client, "wrong.csv", "名字,说明\n甲,乙\n".encode())
    assert status == 422
    assert "row 1 has no known column header" in str(body["detail"])
    status, body = _upload(client, "twice.csv", "title,成果名称,summary\n甲,乙,丙\n".encode())
    assert status == 422
    assert "are both title" in str(body["detail"])


def test_unknown_columns_are_reported_as_a_warning(client: TestClient) -> None:
    status, body = _upload(client, "extra.csv", "external_id,title,summary,备注\nA-1,甲,乙,丙\n".encode())
    assert status == 200
    assert body["created"] == 1
    assert body["warnings"] == ["unknown columns ignored: 备注"]


def test_duplicate_json_keys_are_refused(client: TestClient) -> None:
    content = b'[{"title": "first", "summary": "x", "title": "second"}]'
    status, body = _upload(client, "dup.json", content)
    assert status == 422
    assert "'title' appears twice" in str(body["detail"])
    status, body = _upload(
        client, "dup.jsonl", json.dumps({"title": "a", "summary": "b"}).encode() + b'\n{"a":1,"a":2}'
    )
    assert status == 422
    assert str(body["detail"]).startswith("line 2")
