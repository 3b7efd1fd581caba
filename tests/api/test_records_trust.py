"""Records posted by members name their organisation; q= finds records by their number; English grammar."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from matchmaker.domain import with_article
from tests.factories import achievement, demand


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_member_records_name_the_members_organisation(client: TestClient, make_user: Callable[..., str]) -> None:
    enterprise = _auth(make_user("enterprise", "天津渤海精工有限公司"))
    institution = _auth(make_user("institution", "北方工业大学"))
    need = client.post("/api/v1/demands", json=demand(external_id="TJ-BH-001", enterprise=None), headers=enterprise)
    assert need.status_code == 201, need.text
    assert need.json()["enterprise"] == "天津渤海精工有限公司"
    offer = client.post("/api/v1/achievements", json=achievement(external_id="BJ-NC-001", owner=None),
                        headers=institution)  # fmt: skip
    assert offer.json()["owner"] == "北方工业大学"
    # A manager (no organisation) may still name any owner; a name given explicitly is kept.
    named = client.post("/api/v1/achievements", json=achievement(external_id="BJ-NC-002", owner="清华大学"))
    assert named.json()["owner"] == "清华大学"


def test_q_finds_a_record_by_its_number(client: TestClient) -> None:
    client.post("/api/v1/demands", json=demand(external_id="TJ-BH-2025-017", title="焊缝开裂"))
    client.post("/api/v1/demands", json=demand(external_id="HB-SJZ-2025-003", title="另一个需求"))
    found = client.get("/api/v1/demands", params={"q": "TJ-BH"}).json()["items"]
    assert [d["external_id"] for d in found] == ["TJ-BH-2025-017"]
    lower = client.get("/api/v1/demands", params={"q": "tj-bh-2025"}).json()["items"]
    assert [d["external_id"] for d in lower] == ["TJ-BH-2025-017"]


def test_english_messages_use_the_right_article(client: TestClient, make_user: Callable[..., str]) -> None:
    assert with_article("institution") == "an institution"
    assert with_article("achievement") == "an achievement"
    assert with_article("manager") == "a manager"
    institution = _auth(make_user("institution", "燕山大学-grammar"))
    refused = client.post("/api/v1/demands", json=demand(external_id="G-1"), headers=institution)
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("an institution member may not")
    summaries = {op["summary"] for path in client.get("/openapi.json").json()["paths"].values() for op in path.values()}
    assert "Create an achievement" in summaries
    assert "Create a achievement" not in summaries
