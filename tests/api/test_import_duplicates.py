"""Imports list the probable duplicates of each row (of existing records and of other rows); the real import keeps
the rows and links them as duplicate candidates."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.models import Achievement
from matchmaker.models.dedup import DuplicateCandidate
from matchmaker.search.text import to_traditional
from tests.factories import achievement

IA = "/api/v1/imports/achievements"
WELD = {
    "title": "焊缝激光视觉跟踪与成形质量在线检测传感器",
    "summary": "基于线结构光和抗弧光窄带滤波的焊缝跟踪传感器，跟踪精度±0.15mm，采样频率200Hz，缺陷检出率>95%。",
    "field": "高端装备",
}


def _upload(client: TestClient, rows: list[dict[str, object]], **params: object) -> dict[str, object]:
    content = json.dumps(rows, ensure_ascii=False).encode()
    response = client.post(IA, files={"file": ("清单.json", content)}, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_dry_run_lists_duplicates_and_the_import_links_them(client: TestClient, session: Session) -> None:
    existing = client.post("/api/v1/achievements", json=achievement()).json()["id"]
    body = achievement()
    rows = [
        {  # row 1 (JSON rows count from 1): the existing record in Traditional, from another centre
            **body,
            "external_id": "TJ-IMP-1",
            "title": to_traditional(str(body["title"]))[1],
            "summary": to_traditional(str(body["summary"]))[1],
        },
        achievement(external_id="HB-IMP-2", **WELD),  # row 2
        achievement(external_id="HB-IMP-3", **{**WELD, "title": WELD["title"] + "（升级版）"}),  # row 3: copy of row 2
        achievement(
            external_id="HB-IMP-4", title="大型钛合金构件电子束熔丝增材制造", summary="沉积速率3–5kg/h，成形尺寸2.5m。"
        ),
    ]
    report = _upload(client, rows, dry_run="true")
    assert report["written"] is False
    found = {d["row"]: d["duplicates"] for d in report["duplicates"]}
    assert set(found) == {1, 2, 3}
    assert [d["record_id"] for d in found[1]] == [existing]
    assert found[1][0]["probability"] >= 0.25
    assert [d["row"] for d in found[2]] == [3]
    assert [d["row"] for d in found[3]] == [2]
    assert session.scalars(select(DuplicateCandidate)).all() == []

    report = _upload(client, rows)
    assert report["created"] == 4
    ids = {a.external_id: a.id for a in session.scalars(select(Achievement))}
    pairs = {(c.record_a, c.record_b, c.source, c.status) for c in session.scalars(select(DuplicateCandidate))}
    assert pairs == {
        (existing, ids["TJ-IMP-1"], "import", "open"),
        (ids["HB-IMP-2"], ids["HB-IMP-3"], "import", "open"),
    }
    listed = client.get("/api/v1/duplicates", params={"kind": "achievements"})
    if listed.status_code == 200:  # the review API (added with the routes)
        assert listed.json()["total"] == 2
