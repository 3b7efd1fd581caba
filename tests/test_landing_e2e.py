"""End to end: a pairing proposed by a matching run goes 推荐 → 落地 with a contract and a carrier; the sample data's
targets and report match counts made by hand from data/sample/landing.jsonl."""

from __future__ import annotations

import io
import time
from typing import Any

import openpyxl
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from matchmaker.services.samples import load_samples
from tests.factories import achievement, demand

PDF = b"%PDF-1.4\n%signed contract\n%%EOF\n"


def _run(client: TestClient) -> dict[str, Any]:
    run_id = client.post("/api/v1/matching-runs", json={"k": 1}).json()["id"]
    for _ in range(400):
        run = client.get(f"/api/v1/matching-runs/{run_id}").json()
        if run["status"] in ("done", "failed"):
            return dict(run)
        time.sleep(0.05)
    raise AssertionError("the matching run did not finish")


def test_pairing_from_proposed_to_landed(client: TestClient) -> None:
    achievement_id = client.post("/api/v1/achievements", json=achievement(region="北京", trl=4)).json()["id"]
    client.post("/api/v1/demands", json=demand(region="天津", min_trl=None))
    assert _run(client)["status"] == "done"
    pairing = client.get("/api/v1/matches", params={"achievement": achievement_id}).json()["items"][0]
    url = f"/api/v1/matches/{pairing['id']}"
    assert pairing["status"] == "proposed"
    contract = {"contract_type": "技术许可", "title": "专利实施许可合同", "signed_on": "2026-06-01", "total_wan": 180}
    # Before 签约: no contract (409), no landing (409); invalid bodies answer 422 naming the field.
    assert client.post(f"{url}/contracts", json={**contract, "tech_wan": 150}).status_code == 409
    assert client.post(f"{url}/contracts", json=contract).json()["fields"][0]["field"] == "tech_wan"
    for stage in ("shortlisted", "contacted", "meeting", "signed"):
        assert client.patch(url, json={"status": stage}).status_code == 200
    refused = client.patch(url, json={"status": "landed"})
    assert (refused.status_code, refused.json()["missing"]) == (409, ["contract", "landing"])
    carrier = {"carrier_kind": "园区", "carrier_name": "天开高教科创园", "landed_on": "2026-07-01"}
    assert client.post(f"{url}/landing", json=carrier).status_code == 409
    assert client.post(f"{url}/contracts", json={**contract, "tech_wan": 200}).status_code == 422
    signed = client.post(f"{url}/contracts", json={**contract, "tech_wan": 150})
    assert signed.status_code == 201
    file_url = f"/api/v1/contracts/{signed.json()['id']}/file"
    assert client.put(file_url, files={"file": ("contract.docx", io.BytesIO(b"plain text"))}).status_code == 415
    assert client.put(file_url, files={"file": ("contract.pdf", io.BytesIO(PDF))}).status_code == 200
    assert client.post(f"{url}/landing", json={**carrier, "landed_on": "2026-05-01"}).status_code == 422
    assert client.post(f"{url}/landing", json={**carrier, "carrier_kind": "车间"}).status_code == 422
    # The resources that could carry it, then the landing itself.
    fits = client.get(f"{url}/resources").json()
    assert fits["target_region"] == "天津"
    landed = client.post(f"{url}/landing", json={**carrier, "funding": [{"fund": "种子基金", "amount_wan": 80}]})
    assert landed.status_code == 201
    assert client.get(url).json()["status"] == "landed"
    history = [(h["from"], h["to"]) for h in client.get(f"{url}/history").json()["items"]]
    assert history[-1] == ("signed", "landed")
    assert len(history) == 5
    targets = {i["key"]: i for i in client.get("/api/v1/stats/targets", params={"year": 2026}).json()["items"]}
    assert targets["landed_from_jingji"]["progress"] == 1
    assert targets["landed_from_jingji"]["records"][0]["match_id"] == pairing["id"]
    report = client.get("/api/v1/stats/report", params={"since": "2026-01-01", "until": "2026-12-31"})
    book = openpyxl.load_workbook(io.BytesIO(report.content))
    assert [r[0] for r in book["落地成果"].iter_rows(min_row=2, values_only=True)] == [pairing["id"]]


def test_sample_data_targets_and_report_match_hand_counts(client: TestClient, session: Session) -> None:
    settings = client.app.state.settings  # type: ignore[attr-defined]
    with client.app.state.search.paused():  # type: ignore[attr-defined]  # no need to embed the samples here
        loaded = load_samples(session, settings)
        session.commit()
        # data/sample/landing.jsonl: 7 pairings, 6 of them landed; resources.jsonl: 12; 4 scenarios in demands.jsonl.
        assert (loaded["landed_pairings"], loaded["resources"]) == (6, 12)
        scenarios = client.get("/api/v1/demands", params={"need_kind": "应用场景"}).json()
        assert scenarios["total"] == 4
        assert client.get("/api/v1/matches", params={"status": "landed"}).json()["total"] == 6
        assert client.get("/api/v1/matches", params={"status": "signed"}).json()["total"] == 1
        items = {i["key"]: i for i in client.get("/api/v1/stats/targets", params={"year": 2026}).json()["items"]}
        # By hand, 2026: landed in 天津 from 北京 / 河北 — BJ-P1-2023-010, HB-P2-2023-007, BJ-P1-2024-094,
        # HB-P1-2025-073 (TJ-P2-2024-040 is from 天津; BJ-P2-2023-046 landed in 2025).
        landed = items["landed_from_jingji"]
        assert landed["progress"] == 4
        assert sorted(r["achievement_external_id"] for r in landed["records"]) == [
            "BJ-P1-2023-010",
            "BJ-P1-2024-094",
            "HB-P1-2025-073",
            "HB-P2-2023-007",
        ]
        # 技术开发 from 北京 / 河北 to a Tianjin enterprise in 2026: 瀚海功率半导体, 津骋汽车电子.
        research = items["joint_research_enterprises"]
        assert sorted(r["enterprise"] for r in research["records"]) == [
            "天津津骋汽车电子有限公司",
            "天津瀚海功率半导体有限公司",
        ]
        assert research["progress"] == 2
        report = client.get("/api/v1/stats/report", params={"since": "2026-01-01", "until": "2026-12-31"})
    book = openpyxl.load_workbook(io.BytesIO(report.content))

    def table(name: str) -> dict[Any, tuple[Any, ...]]:
        return {r[0]: r[1:4] for r in book[name].iter_rows(min_row=2, values_only=True)}

    # By hand (count, 合同成交总额, 技术交易额 in 万元) over the 7 contracts signed in 2026.
    assert table("合同按类型") == {
        "技术开发": (2, 380, 340),
        "技术转让": (1, 260, 200),
        "技术许可": (2, 210, 210),
        "技术服务": (2, 75, 70),
        "合计": (7, 925, 820),
    }
    assert table("按区域流向") == {
        "北京→天津": (3, 450, 430),
        "河北→天津": (3, 430, 350),
        "天津→天津": (1, 45, 40),
        "合计": (7, 925, 820),
    }
    assert len(list(book["落地成果"].iter_rows(min_row=2))) == 5
    assert len(list(book["合同明细"].iter_rows(min_row=2))) == 7
