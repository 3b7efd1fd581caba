"""Bulk import and export: encodings, Chinese headers, upsert, dry run, atomic, limits, round trips."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient

from tests.factories import achievement, demand

IA = "/api/v1/imports/achievements"
ID = "/api/v1/imports/demands"
A = "/api/v1/achievements"
D = "/api/v1/demands"

ZH_HEADER = [
    "成果编号",
    "成果名称",
    "成果简介",
    "关键词",
    "所属产业链/领域",
    "完成单位/权属人",
    "所在地区",
    "技术成熟度",
    "合作方式",
    "知识产权",
    "参考价格",
]
ZH_ROWS = [
    [
        "BJ-2024-001",
        "相变蓄冷材料",
        "潜热≥220 J/g，循环1000次衰减<5%。",
        "相变蓄冷、冷链，保温",
        "新材料",
        "北方理工大学",
        "北京",
        "７",
        "许可；合作开发",
        "发明专利 4 项",
        "１５０",
    ],
    [
        "HB-2023-002",
        "钠离子电池层状氧化物正极",
        "比容量≥140 mAh/g，循环2000次容量保持率90%。",
        "钠电;正极",
        "新能源",
        "燕赵新能源研究院",
        "河北",
        "5",
        "转让",
        "",
        "",
    ],
    [
        "TJ-2022-003",
        "發酵過程線上監測系統",
        "實現溶氧、酸鹼度線上監測。",
        "發酵",
        "生物醫藥",
        "津沽生物所",
        "天津",
        "6",
        "技術服務",
        "軟體著作權 2 項",
        "80",
    ],
]


def _csv(header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def _upload(client: TestClient, url: str, name: str, content: bytes, **params: Any) -> Any:
    return client.post(url, files={"file": (name, content)}, params=params)


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-8"])
def test_csv_with_chinese_headers_in_each_encoding(client: TestClient, encoding: str) -> None:
    response = _upload(client, IA, "成果清单.csv", _csv(ZH_HEADER, ZH_ROWS, encoding))
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["created"], report["failed"], report["written"]) == (3, 0, True)
    items = {i["external_id"]: i for i in client.get(A).json()["items"]}
    first = items["BJ-2024-001"]
    assert first["keywords"] == ["相变蓄冷", "冷链", "保温"]
    assert first["transfer_modes"] == ["许可", "合作开发"]
    assert first["trl"] == 7
    assert first["price_wan"] == 150.0
    assert first["source"] == f"import:{report['batch_id']}"
    third = items["TJ-2022-003"]
    assert third["field"] == "生物医药"  # Traditional enumeration normalised
    assert third["transfer_modes"] == ["技术服务"]
    assert third["language"] == "zh-Hant"
    assert third["summary"] == "實現溶氧、酸鹼度線上監測。"  # the text itself keeps its script
    assert items["HB-2023-002"]["price_wan"] is None


def test_upsert_by_external_id(client: TestClient) -> None:
    content = _csv(ZH_HEADER, ZH_ROWS, "gb18030")
    assert _upload(client, IA, "a.csv", content).json()["created"] == 3
    again = _upload(client, IA, "a.csv", content).json()
    assert (again["created"], again["updated"], again["unchanged"], again["written"]) == (0, 0, 3, False)
    changed = [row[:] for row in ZH_ROWS]
    changed[1][7] = "6"
    report = _upload(client, IA, "a.csv", _csv(ZH_HEADER, changed)).json()
    assert (report["created"], report["updated"], report["unchanged"]) == (0, 1, 2)
    assert client.get(A, params={"external_id": "HB-2023-002"}).json()["items"][0]["trl"] == 6
    assert client.get(A).json()["total"] == 3


def test_invalid_rows_are_reported_and_valid_rows_written(client: TestClient) -> None:
    rows = [row[:] for row in ZH_ROWS]
    rows[0][7] = "12"  # trl out of range
    rows[2][6] = "上海"  # unknown region
    rows.append(["", "", "没有名称的成果", "", "新材料", "", "北京", "5", "", "", ""])
    response = _upload(client, IA, "a.csv", _csv(ZH_HEADER, rows))
    report = response.json()
    assert response.status_code == 200
    assert (report["created"], report["failed"]) == (1, 3)
    errors = {(e["row"], e["field"]) for e in report["errors"]}
    assert errors == {(2, "trl"), (4, "region"), (5, "title")}
    by_field = {e["field"]: e for e in report["errors"]}
    assert (
        by_field["region"]["message"] == "第 4 行 「所在地区」：应为以下之一：北京、天津、河北、其他（填写的是 “上海”）"
    )
    assert by_field["trl"]["message"] == "第 2 行 「技术成熟度」：应为 1 到 9 之间的整数（填写的是 “12”）"
    assert (by_field["trl"]["column"], by_field["trl"]["value"]) == ("技术成熟度", "12")
    assert by_field["title"]["message"] == "第 5 行 「成果名称」：必须填写"
    assert client.get(A).json()["total"] == 1


BAD_TRL_AND_BUDGET = {
    "需求名称": "焊缝低温开裂",
    "需求描述": "-40℃冲击功不足。",
    "成熟度(TRL)": "十",
    "预算（万元）": "八十",
}


def _bad_file(fmt: str) -> bytes:
    header, values = list(BAD_TRL_AND_BUDGET), list(BAD_TRL_AND_BUDGET.values())
    header[2] = "最低成熟度"  # the demand list's TRL column, in a spelling of the user's own
    if fmt == "csv":
        return _csv(header, [values])
    if fmt == "json":
        return json.dumps([dict(zip(header, values, strict=True))], ensure_ascii=False).encode()
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(header)
    sheet.append(values)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_errors_name_the_column_as_written_in_every_format(client: TestClient, fmt: str) -> None:
    report = _upload(client, ID, f"needs.{fmt}", _bad_file(fmt)).json()
    messages = sorted(e["message"] for e in report["errors"])
    row = 1 if fmt == "json" else 2  # a JSON item's number; a sheet's header is row 1
    assert messages == [
        f"第 {row} 行 「最低成熟度」：应为整数（填写的是 “十”）",
        f"第 {row} 行 「预算（万元）」：应为数字（填写的是 “八十”）",
    ]
    english = client.post(
        ID, files={"file": (f"needs.{fmt}", _bad_file(fmt))}, headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"}
    ).json()
    assert sorted(e["message"] for e in english["errors"]) == [
        f"row {row} 「最低成熟度」: must be a whole number (given '十')",
        f"row {row} 「预算（万元）」: must be a number (given '八十')",
    ]


def test_atomic_writes_nothing_when_a_row_fails(client: TestClient) -> None:
    rows = [row[:] for row in ZH_ROWS]
    rows[1][7] = "0"
    response = _upload(client, IA, "a.csv", _csv(ZH_HEADER, rows), atomic="true")
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_import"
    assert body["fields"] == [
        {
            "row": 3,
            "field": "trl",
            "column": "技术成熟度",
            "value": "0",
            "message": "第 3 行 「技术成熟度」：应为 1 到 9 之间的整数（填写的是 “0”）",
        }
    ]
    assert body["report"]["written"] is False
    assert client.get(A).json()["total"] == 0


def test_dry_run_validates_without_writing(client: TestClient) -> None:
    report = _upload(client, IA, "a.csv", _csv(ZH_HEADER, ZH_ROWS), dry_run="true").json()
    assert (report["created"], report["dry_run"], report["written"], report["batch_id"]) == (3, True, False, None)
    assert client.get(A).json()["total"] == 0


def test_duplicate_external_id_inside_a_file(client: TestClient) -> None:
    rows = [*ZH_ROWS, ZH_ROWS[0]]
    report = _upload(client, IA, "a.csv", _csv(ZH_HEADER, rows)).json()
    assert report["failed"] == 1
    assert report["errors"][0]["row"] == 5
    assert report["errors"][0]["message"] == "第 5 行 「成果编号」：编号与第 2 行重复（填写的是 “BJ-2024-001”）"


def test_missing_required_column_and_unknown_format(client: TestClient) -> None:
    response = _upload(client, IA, "a.csv", _csv(["成果编号", "成果名称"], [["X1", "名称"]]))
    assert response.status_code == 422
    assert {f["field"] for f in response.json()["fields"]} == {"summary"}
    assert _upload(client, IA, "a.txt", b"hello").status_code == 422
    assert _upload(client, IA, "a.json", b"{not json").json()["error"] == "invalid_import"
    assert _upload(client, IA, "a.csv", b"").status_code == 422


def test_limits_answer_413(client: TestClient) -> None:
    too_many = [[f"X{i}", f"成果{i}", "简介", "", "新材料", "", "北京", "5", "", "", ""] for i in range(501)]
    rows_response = _upload(client, IA, "a.csv", _csv(ZH_HEADER, too_many))
    assert rows_response.status_code == 413
    assert rows_response.json()["limit"] == 500
    big = _upload(client, IA, "a.csv", b"title,summary\n" + b"x" * (1024 * 1024 + 10))
    assert big.status_code == 413
    assert "1 MiB" in big.json()["detail"]
    assert client.get(A).json()["total"] == 0


def test_json_and_jsonl_imports_for_demands(client: TestClient) -> None:
    items = [demand(external_id="D1"), demand(external_id="D2", confidential="是", preferred_modes="转让、許可")]
    response = _upload(client, ID, "d.json", json.dumps({"items": items}, ensure_ascii=False).encode())
    assert response.json()["created"] == 2
    second = client.get(D, params={"external_id": "D2"}).json()["items"][0]
    assert second["confidential"] is True
    assert second["preferred_modes"] == ["转让", "许可"]
    lines = "\n".join(json.dumps(demand(external_id=f"L{i}"), ensure_ascii=False) for i in range(3))
    assert _upload(client, ID, "d.jsonl", lines.encode()).json()["created"] == 3


def test_xlsx_import_with_chinese_headers_and_excel_types(client: TestClient) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(
        [
            "需求编号",
            "需求名称",
            "需求描述",
            "所属产业链",
            "需求单位",
            "所在地区",
            "预算",
            "最低成熟度要求",
            "截止日期",
            "期望合作方式",
            "是否保密",
            "序号",
        ]
    )
    from datetime import datetime

    sheet.append(
        [
            "TJ-X-1",
            "焊缝低温开裂",
            "-40℃冲击功不足27J。",
            "高端装备",
            "津沽重工",
            "天津",
            300,
            6.0,
            datetime(2027, 3, 31),
            "合作开发,技术服务",
            "否",
            1,
        ]
    )
    out = io.BytesIO()
    workbook.save(out)
    report = _upload(client, ID, "需求.xlsx", out.getvalue()).json()
    assert report["created"] == 1, report
    item = client.get(D).json()["items"][0]
    assert (item["min_trl"], item["deadline"], item["budget_wan"]) == (6, "2027-03-31", 300.0)
    assert item["preferred_modes"] == ["合作开发", "技术服务"]


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "json"])
@pytest.mark.parametrize("headers", ["en", "zh"])
def test_export_reimports_unchanged(client: TestClient, fmt: str, headers: str) -> None:
    client.post(A, json=achievement(external_id="R1"))
    client.post(
        A,
        json=achievement(
            external_id="R2",
            keywords=[],
            price_wan=None,
            trl=None,
            transfer_modes=[],
            owner=None,
            ip=None,
            summary="Laser cladding, 镍基粉末; repair",
        ),
    )
    client.post(A, json=achievement(external_id="R3", price_wan="12.5", status="draft"))
    client.post(D, json=demand(external_id="RD1", confidential=True, bounty_wan=80))
    client.post(D, json=demand(external_id="RD2", deadline=None, min_trl=None, budget_wan=None))
    for url, imports in ((A, IA), (D, ID)):
        before = client.get(url).json()["items"]
        exported = client.get(f"{url}/export", params={"format": fmt, "headers": headers})
        assert exported.status_code == 200
        report = _upload(client, imports, f"export.{fmt}", exported.content).json()
        assert (report["unchanged"], report["created"], report["updated"], report["failed"]) == (len(before), 0, 0, 0)
        assert client.get(url).json()["items"] == before


def test_export_filters_and_bad_format(client: TestClient) -> None:
    client.post(A, json=achievement(external_id="F1", field="新材料"))
    client.post(A, json=achievement(external_id="F2", field="新能源"))
    body = client.get(f"{A}/export", params={"format": "json", "field": "新能源"}).json()
    assert [i["external_id"] for i in body] == ["F2"]
    assert client.get(f"{A}/export", params={"format": "pdf"}).status_code == 422
    csv_text = client.get(f"{A}/export", params={"format": "csv", "headers": "zh"}).content.decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("编号,成果编号,成果名称,成果简介")
