"""揭榜挂帅 through the API: a challenge from draft to accepted, and the rules on the way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from matchmaker.models import AuditEntry
from matchmaker.models.challenges import Challenge
from tests.challenge_factories import challenge, proposal
from tests.factories import achievement


@dataclass
class People:
    tokens: dict[str, str]
    ids: dict[str, int]

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def people(client: TestClient, make_user: Callable[..., str]) -> People:
    import uuid

    s = uuid.uuid4().hex[:6]
    tokens = {
        "ent": make_user("enterprise", f"天津渤海轨道装备-{s}"),
        "uni_a": make_user("institution", f"北方理工大学-{s}"),
        "uni_b": make_user("institution", f"燕赵理工大学-{s}"),
        "ex1": make_user("expert", f"北方理工大学-{s}"),  # the same organisation as uni_a: conflicted
        "ex2": make_user("expert", f"天津中心专家库-{s}"),
    }
    ids = {
        k: client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {t}"}).json()["id"]
        for k, t in tokens.items()
    }
    return People(tokens, ids)


def _post(client: TestClient, url: str, body: object, headers: dict[str, str] | None = None, status: int = 201) -> dict:
    response = client.post(url, json=body, headers=headers or {})
    assert response.status_code == status, response.text
    return response.json() if response.content else {}


def test_challenge_from_draft_to_accepted(client: TestClient, people: People, session: Session) -> None:
    ach_a = _post(client, "/api/v1/achievements", achievement(external_id="CH-A", trl=6), people.h("uni_a"))["id"]
    ach_b = _post(client, "/api/v1/achievements", achievement(external_id="CH-B", trl=5), people.h("uni_b"))["id"]
    created = _post(client, "/api/v1/challenges", challenge(mask_applicants=True), people.h("ent"))
    cid = created["id"]
    assert created["stage"] == "draft"
    assert created["issuers"][0].startswith("天津渤海轨道装备")
    assert [i["comparator"] for i in created["indicators"]] == ["≥", "≤"]
    assert len(created["rubric"]) == 5  # the default rubric
    indicators = [i["id"] for i in created["indicators"]]

    def move(to: str, status: int = 200, **extra: object) -> dict:
        return _post(client, f"/api/v1/challenges/{cid}/moves", {"to": to, **extra}, status=status)

    # Institutions do not see a draft; a draft cannot jump to published.
    assert client.get(f"/api/v1/challenges/{cid}", headers=people.h("uni_a")).status_code == 404
    illegal = move("published", 409)
    assert illegal["allowed"] == ["vetting", "withdrawn"]
    move("vetting")
    for expert in ("ex1", "ex2"):
        _post(client, f"/api/v1/challenges/{cid}/experts", {"user_id": people.ids[expert]})
    assert move("published", 409)["fields"][0]["field"] == "vetting"  # no expert opinion yet
    vet = client.put(
        f"/api/v1/challenges/{cid}/experts/me",
        json={"vetting_ok": True, "vetting_comment": "指标明确"},
        headers=people.h("ex2"),
    )
    assert vet.status_code == 204
    assert move("published")["stage_label"] == "张榜"
    assert client.patch(f"/api/v1/challenges/{cid}", json={"bounty_wan": 1}).status_code == 409  # frozen

    # 揭榜申报: a cross-region consortium led by uni_a, and uni_b alone.
    body_a = proposal(
        indicators,
        achievement_ids=[ach_a],
        partners=[{"name": "天津港智能装备有限公司", "kind": "企业", "region": "天津"}],
    )
    prop_a = _post(client, f"/api/v1/challenges/{cid}/proposals", body_a, people.h("uni_a"))
    assert (prop_a["consortium"], prop_a["cross_region"], prop_a["editable"]) == (True, True, True)
    assert prop_a["promises"] == [{"indicator_id": i, "value": 99.0} for i in indicators]
    prop_b = _post(
        client,
        f"/api/v1/challenges/{cid}/proposals",
        proposal(indicators, lead_region="河北", achievement_ids=[ach_b]),
        people.h("uni_b"),
    )
    again = _post(client, f"/api/v1/challenges/{cid}/proposals", body_a, people.h("uni_a"), status=409)
    assert again["proposal_id"] == prop_a["id"]
    mine = client.get(f"/api/v1/challenges/{cid}/proposals", headers=people.h("uni_a")).json()
    assert [p["id"] for p in mine["items"]] == [prop_a["id"]]
    assert client.get(f"/api/v1/challenges/{cid}/proposals", headers=people.h("ent")).status_code == 403
    edited = client.patch(
        f"/api/v1/challenges/{cid}/proposals/{prop_a['id']}", json={"budget_wan": 260}, headers=people.h("uni_a")
    )
    assert edited.json()["budget_wan"] == 260

    # The deadline: closing early is refused; after it, proposals are frozen.
    assert move("closed", 409)["fields"][0]["field"] == "deadline"
    session.execute(update(Challenge).where(Challenge.id == cid).values(deadline=date.today() - timedelta(days=2)))
    session.commit()
    frozen = client.patch(
        f"/api/v1/challenges/{cid}/proposals/{prop_a['id']}", json={"budget_wan": 250}, headers=people.h("uni_a")
    )
    assert frozen.status_code == 409
    move("closed")
    seen = client.get(f"/api/v1/challenges/{cid}/proposals", headers=people.h("ent")).json()["items"]
    assert len(seen) == 2
    assert all(p["applicant_hidden"] and p["applicant"] == "（匿名申报）" for p in seen)
    assert all(p["achievement_ids"] == [] for p in seen)  # a linked achievement would name its owner
    assert "北方理工大学" not in str(seen)

    # 评审: ex1 is from uni_a's organisation and cannot score its proposal.
    move("reviewing")
    rubric = {c["id"]: 80 for c in created["rubric"]}
    review = f"/api/v1/challenges/{cid}/proposals/{{}}/review"
    coi = client.put(review.format(prop_a["id"]), json={"scores": rubric}, headers=people.h("ex1"))
    assert coi.status_code == 403
    assert "利益冲突" in coi.json()["detail"]
    listed = client.get(f"/api/v1/challenges/{cid}/proposals", headers=people.h("ex1")).json()["items"]
    assert {p["id"]: p["conflict"] for p in listed} == {prop_a["id"]: True, prop_b["id"]: False}
    partial = client.put(
        review.format(prop_b["id"]), json={"scores": {created["rubric"][0]["id"]: 90}}, headers=people.h("ex1")
    )
    assert partial.status_code == 422
    for who, pid, value in (("ex1", prop_b["id"], 70), ("ex2", prop_b["id"], 60), ("ex2", prop_a["id"], 90)):
        scores = {c["id"]: value for c in created["rubric"]}
        assert (
            client.put(
                review.format(pid), json={"scores": scores, "comment": "意见"}, headers=people.h(who)
            ).status_code
            == 200
        )
    ranking = client.get(f"/api/v1/challenges/{cid}/ranking").json()["items"]
    assert [r["proposal_id"] for r in ranking] == [prop_a["id"], prop_b["id"]]
    assert (ranking[0]["mean"], ranking[0]["experts_eligible"]) == (90.0, 1)
    assert (ranking[1]["mean"], ranking[1]["spread"]) == (65.0, 10.0)
    assert client.get(f"/api/v1/challenges/{cid}/ranking", headers=people.h("ex2")).status_code == 403

    assert move("awarded", 422, proposal_id=prop_a["id"])["fields"][0]["field"] == "reason"
    awarded = move("awarded", proposal_id=prop_a["id"], reason="技术路线成熟，联合体分工清晰，专家均分最高")
    assert awarded["awarded_proposal_id"] == prop_a["id"]
    winner = client.get(f"/api/v1/challenges/{cid}/proposals/{prop_a['id']}", headers=people.h("ent")).json()
    assert (winner["status"], winner["applicant_hidden"]) == ("awarded", False)
    move("signed")
    missing = move("accepted", 422, results=[{"indicator_id": indicators[0], "measured_value": 98.6, "met": True}])
    assert "单米检测时间" in str(missing["fields"])
    accepted = move(
        "accepted",
        results=[
            {"indicator_id": indicators[0], "measured_value": 98.6, "met": True},
            {"indicator_id": indicators[1], "measured_value": 34, "met": False},
        ],
    )
    assert accepted["stage"] == "accepted"
    assert [(i["measured_value"], i["met"]) for i in accepted["indicators"]] == [(98.6, True), (34.0, False)]
    assert move("unsolved", 409, reason="x")["allowed"] == []
    history = client.get(f"/api/v1/challenges/{cid}/history").json()["items"]
    assert [h["to"] for h in history] == [
        "vetting",
        "published",
        "closed",
        "reviewing",
        "awarded",
        "signed",
        "accepted",
    ]
    assert history[0]["from"] == "draft"
    moves = session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "challenge", AuditEntry.action == "move")
    ).all()
    assert len(moves) == 7


def test_challenge_from_needs_and_validation(client: TestClient, people: People) -> None:
    need = _post(
        client,
        "/api/v1/demands",
        {
            "title": "焊缝开裂",
            "description": "车体焊缝疲劳开裂，需在线检测。",
            "field": "高端装备",
            "region": "天津",
            "bounty_wan": 200,
            "deadline": (date.today() + timedelta(days=60)).isoformat(),
            "confidential": True,
            "enterprise": "津门保密装备有限公司",
        },
        people.h("ent"),
    )
    built = _post(client, "/api/v1/challenges", {"demand_ids": [need["id"]]}, people.h("ent"))
    assert (built["title"], built["bounty_wan"], built["confidential"]) == ("焊缝开裂", 200.0, True)
    assert built["demand_ids"] == [need["id"]]
    bad = client.post("/api/v1/challenges", json={"title": "只有标题"}, headers=people.h("ent"))
    assert bad.status_code == 422
    assert {f["field"] for f in bad.json()["fields"]} == {"goal", "bounty_wan", "deadline"}
    assert client.post("/api/v1/challenges", json=challenge(), headers=people.h("uni_a")).status_code == 403
    bad_unit = client.post(
        "/api/v1/challenges", json=challenge(indicators=[{"name": "x", "target_value": "abc", "unit": "%"}])
    )
    assert bad_unit.status_code == 422


def test_eligibility_and_confidential_issuer(client: TestClient, people: People) -> None:
    weak = _post(client, "/api/v1/achievements", achievement(external_id="CH-W", trl=2), people.h("uni_b"))["id"]
    cid = _post(client, "/api/v1/challenges", challenge(confidential=True, issuers=["津门保密装备有限公司"]))["id"]
    _post(client, f"/api/v1/challenges/{cid}/moves", {"to": "vetting"}, status=200)
    _post(client, f"/api/v1/challenges/{cid}/experts", {"user_id": people.ids["ex2"]})
    client.put(f"/api/v1/challenges/{cid}/experts/me", json={"vetting_ok": True}, headers=people.h("ex2"))
    seen = _post(client, f"/api/v1/challenges/{cid}/moves", {"to": "published"}, status=200)
    indicators = [i["id"] for i in seen["indicators"]]
    public = client.get(f"/api/v1/challenges/{cid}", headers=people.h("uni_b")).json()
    assert (public["issuers"], public["issuer_hidden"]) == (None, True)
    assert "津门保密装备" not in client.get("/api/v1/challenges", headers=people.h("uni_b")).text
    # An expert not assigned does not see it; the assigned one does, without the issuer.
    assert client.get(f"/api/v1/challenges/{cid}", headers=people.h("ex1")).status_code == 404
    assert client.get(f"/api/v1/challenges/{cid}", headers=people.h("ex2")).json()["issuers"] is None
    url = f"/api/v1/challenges/{cid}/proposals"
    too_weak = client.post(
        url, json=proposal(indicators, lead_region="河北", achievement_ids=[weak]), headers=people.h("uni_b")
    )
    assert too_weak.status_code == 422
    assert too_weak.json()["fields"][0]["field"] == "achievement_ids"
    outside = client.post(
        url,
        json=proposal(
            indicators,
            lead_region="其他",
            lead_kind="新型研发机构",
            schedule=[{"month": 40, "milestone": "x"}],
            promises=[{"indicator_id": indicators[0], "value": 1}],
        ),
        headers=people.h("uni_b"),
    )
    fields = {f["field"] for f in outside.json()["fields"]}
    assert fields >= {"members[0].kind", "lead_region", "promises", "schedule[0].month"}
    assert client.post(url, json=proposal(indicators), headers=people.h("ent")).status_code == 403


def test_suggested_institutions_and_consortium(client: TestClient, people: People) -> None:
    supply = [
        (
            "uni_a",
            "北方理工大学焊接研究所",
            "北京",
            "相控阵超声焊缝内部缺陷检测技术",
            "铝合金厚板搅拌摩擦焊缝相控阵超声检测，缺陷检出率99%。",
        ),
        (
            "uni_b",
            "燕赵理工大学机械工程学院",
            "河北",
            "焊缝高速自动扫查装置",
            "焊缝检测扫查速度每米20秒，单米检测时间短，适合产线在线检测。",
        ),
        ("uni_b", "燕赵理工大学化工学院", "河北", "钠离子电池正极材料", "层状氧化物正极，比容量150 mAh/g。"),
    ]
    for n, (who, owner, region, title, summary) in enumerate(supply):
        body = achievement(
            external_id=f"SG-{n}", owner=owner, region=region, title=title, summary=summary, field="高端装备"
        )
        _post(client, "/api/v1/achievements", body, people.h(who))
    cid = _post(client, "/api/v1/challenges", challenge())["id"]
    suggested = client.get(f"/api/v1/challenges/{cid}/suggestions")
    assert suggested.status_code == 200, suggested.text
    items = suggested.json()["items"]
    assert items[0]["institution"] in ("北方理工大学", "燕赵理工大学")
    assert items[0]["achievements"][0]["explanation"]["sentence"]
    consortia = client.get(f"/api/v1/challenges/{cid}/consortia").json()
    assert consortia["solver"] == "OR-Tools CP-SAT"
    best = consortia["items"][0]
    assert (best["covered"], best["of"], best["cross_region"]) == (2, 2, True)
    covers = {c["indicator"]: m["institution"] for m in best["members"] for c in m["covers"]}
    assert covers == {"缺陷检出率": "北方理工大学", "单米检测时间": "燕赵理工大学"}
    assert client.get(f"/api/v1/challenges/{cid}/consortia", headers=people.h("uni_a")).status_code == 403
