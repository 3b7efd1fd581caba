"""Results a manager can trust: confidence bands and "暂无合适成果", the thesaurus API and its effect on rankings, the
needs-without-a-good-match report, and free-text search that breaks no unstated constraint."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from matchmaker.models import Match
from matchmaker.models.concepts import ConceptLinkRow
from tests.api.test_matching import _wait_for_run
from tests.factories import achievement, demand

A, D, C = "/api/v1/achievements", "/api/v1/demands", "/api/v1/concepts"

MOULD = achievement(
    external_id="TJ-BH-MOULD",
    title="注塑模具随形冷却流道设计与金属3D打印制造",
    summary="按制件轮廓布置随形冷却流道，选区激光熔化打印镶件，冷却均匀，已在家电外壳模具上应用。",
    keywords=["随形冷却", "模具", "3D打印"],
    field="高端装备",
    region="北京",
    trl=7,
    transfer_modes=["许可"],
    price_wan=80,
)
VISION = achievement(
    external_id="TJ-BH-VISION",
    title="灌装生产线机器视觉在线检测系统",
    summary="高速相机在线检测液位、瓶盖与标签缺陷，每分钟600瓶，自动剔除不良品。",
    keywords=["机器视觉", "在线检测", "灌装"],
    field="高端装备",
    region="河北",
    trl=8,
    transfer_modes=["转让", "许可"],
    price_wan=60,
)
NEED = demand(
    external_id="NEED-CYCLE",
    title="注塑件一个周期40秒，冷却占一大半",
    description="家电外壳注塑，一个周期40秒，其中冷却时间长，占了一大半，产能上不去。",
    keywords=["注塑", "周期"],
    field="高端装备",
    region="天津",
    min_trl=None,
    preferred_modes=[],
    budget_wan=None,
)


@pytest.fixture(autouse=True)
def empty_thesaurus(client: TestClient, session: Session) -> None:
    """Start from no links (the first app start seeds the starter thesaurus)."""
    session.execute(delete(ConceptLinkRow))
    session.commit()
    client.app.state.search.reload_thesaurus()  # type: ignore[attr-defined]


def _post(client: TestClient, url: str, body: dict[str, Any]) -> int:
    response = client.post(url, json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _first(client: TestClient, need_id: int) -> dict[str, Any]:
    response = client.get(f"{D}/{need_id}/matches", params={"k": 2})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_manager_teaches_a_symptom_and_the_ranking_uses_and_explains_it(client: TestClient) -> None:
    mould, vision = _post(client, A, MOULD), _post(client, A, VISION)
    need = _post(client, D, NEED)
    before = _first(client, need)
    mould_before = next(i for i in before["items"] if i["achievement"]["id"] == mould)
    assert "概念关联" not in mould_before["explanation"]["sentence"]

    link = client.post(C, json={"source": "冷却时间长", "relation": "symptom", "target": "随形冷却"})
    assert link.status_code == 201, link.text
    assert link.json()["relation_label"] == "症状→技术"
    assert link.json()["origin"] == "manager"
    after = _first(client, need)
    top = after["items"][0]
    assert top["achievement"]["id"] == mould
    assert "概念关联：冷却时间长 → 随形冷却" in top["explanation"]["sentence"]
    assert top["explanation"]["concepts"] == ["冷却时间长 → 随形冷却"]
    assert top["score"] > mould_before["score"]
    assert {i["achievement"]["id"] for i in after["items"]} == {mould, vision}

    # Duplicate, bad relation, edit, list, delete.
    assert client.post(C, json={"source": "冷却时间长", "relation": "symptom", "target": "随形冷却"}).status_code == 409
    bad = client.post(C, json={"source": "a", "relation": "kind-of", "target": "b"})
    assert bad.status_code == 422
    assert "relation" in bad.text
    link_id = link.json()["id"]
    changed = client.patch(f"{C}/{link_id}", json={"weight": 0.5})
    assert changed.status_code == 200
    assert changed.json()["weight"] == 0.5
    listed = client.get(C, params={"q": "随形"}).json()
    assert listed["total"] == 1
    assert listed["items"][0]["id"] == link_id
    assert client.delete(f"{C}/{link_id}").status_code == 204
    assert client.get(C).json()["total"] == 0
    assert "概念关联" not in _first(client, need)["items"][0]["explanation"]["sentence"]
    assert client.patch(f"{C}/{link_id}", json={"weight": 0.5}).status_code == 404


def test_links_are_learned_from_accepted_pairings(client: TestClient, session: Session) -> None:
    mould = _post(client, A, MOULD)
    need = _post(client, D, {**NEED, "keywords": ["冷却占一大半", "周期"]})
    run = _wait_for_run(client, client.post("/api/v1/matching-runs", json={"k": 1}).json()["id"])
    assert run["status"] == "done"
    session.execute(update(Match).where(Match.demand_id == need, Match.achievement_id == mould).values(status="signed"))
    session.commit()
    learned = client.post(f"{C}/learn")
    assert learned.status_code == 200, learned.text
    pairs = {(i["source"], i["target"], i["origin"]) for i in learned.json()["items"]}
    assert ("冷却占一大半", "随形冷却", "learned") in pairs
    assert client.post(f"{C}/learn").json()["added"] == 0  # nothing new the second time


def test_every_pairing_has_a_band_and_a_weak_list_says_no_good_match(client: TestClient) -> None:
    _post(client, A, MOULD)
    _post(client, A, VISION)
    response = client.post("/api/v1/search", json={"text": "中药口服液放置后瓶底出现沉淀", "target": "achievements"})
    assert response.status_code == 200
    body = response.json()
    assert body["items"]
    assert all(i["band"] == "弱" for i in body["items"])
    assert all(i["explanation"]["band"] == i["band"] for i in body["items"])
    assert body["verdict"] == "暂无合适成果"
    good = client.post("/api/v1/search", json={"text": MOULD["title"] + "，" + MOULD["summary"]}).json()
    assert good["items"][0]["band"] in ("强", "可能")
    assert good["verdict"] is None


def test_free_text_against_needs_breaks_no_unstated_mode_and_scores_are_in_order(client: TestClient) -> None:
    for n in range(4):
        _post(client, D, {**NEED, "external_id": f"N-{n}", "preferred_modes": ["许可"], "min_trl": 7 + n % 2})
    body = client.post("/api/v1/search", json={"text": "随形冷却模具，缩短注塑冷却时间", "target": "demands"}).json()
    assert body["items"]
    for item in body["items"]:
        assert "⚠" not in item["explanation"]["sentence"]
        assert item["explanation"]["violations"] == []
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True)


def test_needs_without_a_good_match_are_reported_per_run(client: TestClient) -> None:
    _post(client, A, MOULD)
    text = {"title": "中药口服液瓶底沉淀", "description": "中药口服液放置几个月后瓶底出现沉淀，抽检不合格。"}
    lonely = _post(client, D, {**NEED, **text, "external_id": "N-TCM", "field": "中医药"})
    run = _wait_for_run(client, client.post("/api/v1/matching-runs", json={"k": 1}).json()["id"])
    report = client.get(f"/api/v1/matching-runs/{run['id']}/unmatched")
    assert report.status_code == 200
    items = report.json()["items"]
    assert lonely in {i["demand"]["id"] for i in items}
    entry = next(i for i in items if i["demand"]["id"] == lonely)
    assert entry["verdict"] == "暂无合适成果"
    assert entry["best_band"] == "弱"
    export = client.get(f"/api/v1/matching-runs/{run['id']}/export", params={"format": "csv"})
    header = export.content.decode("utf-8-sig").splitlines()[0].split(",")
    assert "置信度" in header
