"""Item 4: no export carries a live formula, and an exported file still re-imports as "unchanged"."""

from __future__ import annotations

import csv
import io
import time
import zipfile

import pytest
from fastapi.testclient import TestClient

from matchmaker.api.downloads import dated
from tests.factories import achievement, demand
from tests.sheets import assert_chinese_download, assert_office_xlsx

EVIL = '=HYPERLINK("http://evil","x")'
TEXTS = [EVIL, "=1+1", "+86 22 1234", "-18℃冷链", "@SUM(A1)", "\tcmd", "\r=1"]


def _no_formula_in(xlsx: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name), name


def _wait_for_run(client: TestClient, run_id: int) -> dict[str, object]:
    for _ in range(400):
        run = client.get(f"/api/v1/matching-runs/{run_id}").json()
        if run["status"] in ("done", "failed"):
            return run
        time.sleep(0.05)
    raise AssertionError("run did not finish")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_list_exports_neutralise_formulas_and_round_trip(client: TestClient, fmt: str) -> None:
    for i, text in enumerate(TEXTS):
        body = demand(external_id=f"D-{i}", title=text, enterprise="=1+1" if i == 0 else "津南医药")
        assert client.post("/api/v1/demands", json=body).status_code == 201, text
    exported = client.get("/api/v1/demands/export", params={"format": fmt, "headers": "zh"})
    assert exported.status_code == 200
    assert_chinese_download(exported, dated("需求清单", fmt))
    if fmt == "xlsx":
        _no_formula_in(exported.content)
        assert_office_xlsx(exported.content)
    else:
        cells = [cell for row in csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))) for cell in row]
        assert "'" + EVIL in cells
        assert "'=1+1" in cells
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    again = client.post("/api/v1/imports/demands", files={"file": (f"demands.{fmt}", exported.content)}).json()
    assert (again["unchanged"], again["updated"], again["created"], again["failed"]) == (len(TEXTS), 0, 0, 0), again
    titles = {item["title"] for item in client.get("/api/v1/demands").json()["items"]}
    assert {t.strip() for t in TEXTS} <= titles  # nothing gained an apostrophe


def test_matching_run_export_neutralises_formulas(client: TestClient) -> None:
    client.post("/api/v1/achievements", json=achievement(title=EVIL))
    client.post("/api/v1/demands", json=demand(title="=1+1 冷链温度超标", enterprise="@evil"))
    run = _wait_for_run(client, client.post("/api/v1/matching-runs", json={"k": 2}).json()["id"])
    assert run["status"] == "done", run
    xlsx = client.get(f"/api/v1/matching-runs/{run['id']}/export", params={"format": "xlsx"})
    _no_formula_in(xlsx.content)
    text = client.get(f"/api/v1/matching-runs/{run['id']}/export", params={"format": "csv"}).content.decode()
    cells = [cell for row in csv.reader(io.StringIO(text.removeprefix("\ufeff"))) for cell in row]
    assert "'" + EVIL in cells
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
