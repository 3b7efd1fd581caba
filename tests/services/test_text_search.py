"""The lists' text search index: the bigram tokens, and on both databases the same records found with the index as by
the LIKE alone, kept in step with creation, edits, imports and deletion."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from matchmaker.kinds import ACHIEVEMENTS, DEMANDS
from matchmaker.services import records, text_search
from matchmaker.services.records import ListQuery
from tests.factories import achievement, demand

TEXTS = (
    ("冷链物流温控箱", "相变蓄冷材料用于疫苗冷链运输，保持2～8℃。", "BJ-COLD-01"),
    ("MySQL 慢SQL 自动改写", "Rewrites slow SQL queries for MySQL and PostgreSQL; 100% compatible.", "IT-007"),
    ("高強度焊絲", "適用於低溫環境的焊接材料，焊縫不開裂。", "HB_WELD_2"),
    ("钠离子电池", "正极材料成本低，循环寿命长。", "NA ION 3"),
)
QUERIES = (
    "冷链",
    "冷鏈",
    "链物流温",
    "sql",
    "SQL",
    "mysql 慢",
    "焊丝",
    "焊絲",
    "100%",
    "_weld",
    "ion 3",
    "cold-0",
    "材",
    "x",
)


def test_tokens_are_distinct_lower_case_bigrams_that_never_span_whitespace() -> None:
    assert text_search.gram_tokens(["Ab ab"]) == text_search.gram_tokens(["ab"])
    assert len(text_search.gram_tokens(["冷链物流"])) == 3
    assert text_search.gram_tokens(["冷 链"]) == []
    assert all(t.startswith("g") and len(t) == 5 and t.isalnum() for t in text_search.gram_tokens(["℃～8%"]))
    assert text_search.holds_grams("achievements", None, ["冷链", "材"]) is None  # one character: no index


@pytest.fixture
def offers(client: TestClient) -> list[int]:
    """The texts as achievements, and as many needs that hold none of them."""
    ids = []
    for i, (title, summary, external_id) in enumerate(TEXTS):
        body = achievement(title=title, summary=summary, external_id=external_id, keywords=[])
        ids.append(client.post("/api/v1/achievements", json=body).json()["id"])
        client.post(
            "/api/v1/demands", json=demand(external_id=f"D-{i}", title="无关需求", description="无关的描述文字。")
        )
    return ids


def _found(session: Session, q: str, *, index: bool, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    with monkeypatch.context() as patch:
        if not index:
            patch.setattr(records, "holds_grams", lambda *_: None)
        items, total = records.list_records(session, ACHIEVEMENTS, ListQuery(q=q, limit=100))
    assert total == len(items)
    return sorted(r.id for r in items)


@pytest.mark.parametrize("q", QUERIES)
def test_the_index_finds_what_the_like_alone_finds(
    offers: list[int], session: Session, monkeypatch: pytest.MonkeyPatch, q: str
) -> None:
    assert _found(session, q, index=True, monkeypatch=monkeypatch) == _found(
        session, q, index=False, monkeypatch=monkeypatch
    )


def test_the_search_finds_each_text_by_its_title_body_and_id(offers: list[int], session: Session) -> None:
    for record_id, (title, summary, external_id) in zip(offers, TEXTS, strict=True):
        for part in (title[1:4], summary[2:6], external_id[:4]):
            items, _ = records.list_records(session, ACHIEVEMENTS, ListQuery(q=part))
            assert record_id in [r.id for r in items], part
    items, _ = records.list_records(session, DEMANDS, ListQuery(q="冷链"))
    assert items == []  # the needs' bigrams are kept apart from the achievements'


def test_edits_imports_and_deletion_keep_the_index_in_step(client: TestClient, session: Session) -> None:
    def found(q: str) -> list[str]:
        listed = client.get("/api/v1/achievements", params={"q": q}).json()["items"]
        return [item["external_id"] for item in listed]

    record_id = client.post("/api/v1/achievements", json=achievement(external_id="E-1", title="钛合金铸造")).json()[
        "id"
    ]
    assert found("钛合金") == ["E-1"]
    client.patch(f"/api/v1/achievements/{record_id}", json={"title": "碳纤维复合材料"})
    assert found("钛合金") == []
    assert found("碳纤维") == ["E-1"]
    client.patch(f"/api/v1/achievements/{record_id}", json={"external_id": "CF-9"})
    assert found("cf-9") == ["CF-9"]
    csv = "external_id,title,summary,field,region\nIMP-1,石墨烯导热膜,面内导热系数1500 W/mK。,新材料,天津\n"
    imported = client.post("/api/v1/imports/achievements", files={"file": ("a.csv", csv.encode(), "text/csv")})
    assert imported.status_code in (200, 201), imported.text
    assert found("导热膜") == ["IMP-1"]
    client.delete(f"/api/v1/achievements/{record_id}")
    assert found("碳纤维") == []
