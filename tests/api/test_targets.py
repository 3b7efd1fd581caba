"""The Centre's targets and the upward report, compared with counts made by hand on a small set of pairings."""

from __future__ import annotations

import io
from datetime import date, datetime, time
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from matchmaker.models import Match
from matchmaker.models.events import Event
from tests.factories import achievement, demand
from tests.sheets import assert_chinese_download, assert_office_xlsx

# (achievement region, chain, contract type, signed, total, tech, landing date or None)
PAIRINGS = [
    ("北京", "新材料", "技术开发", "2026-03-01", 100, 80, "2026-04-01"),
    ("河北", "生物医药", "技术许可", "2026-05-01", 50, 50, "2026-06-01"),
    ("天津", "新材料", "技术服务", "2026-02-01", 20, 10, None),
    ("北京", "信创", "技术开发", "2025-03-01", 300, 200, "2025-05-01"),
]


@pytest.fixture
def records(client: TestClient, session: Session) -> list[dict[str, int]]:
    out = []
    for n, (region, chain, kind, signed, total, tech, landed) in enumerate(PAIRINGS):
        a = client.post(
            "/api/v1/achievements", json=achievement(external_id=f"T-A-{n}", region=region, field=chain)
        ).json()["id"]
        d = client.post("/api/v1/demands", json=demand(external_id=f"T-D-{n}", region="天津")).json()["id"]
        match = Match(demand_id=d, achievement_id=a, rank=1, score=0.8, status="signed", explanation={})
        session.add(match)
        session.commit()
        body = {"contract_type": kind, "title": f"合同{n}", "signed_on": signed, "total_wan": total, "tech_wan": tech}
        contract = client.post(f"/api/v1/matches/{match.id}/contracts", json=body)
        assert contract.status_code == 201, contract.text
        if landed:
            carrier = {"carrier_kind": "园区", "carrier_name": f"载体{n}", "landed_on": landed}
            assert client.post(f"/api/v1/matches/{match.id}/landing", json=carrier).status_code == 201
        out.append({"match": match.id, "contract": contract.json()["id"], "achievement": a})
    return out


def _items(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["key"]: i for i in body["items"]}


def test_targets_progress_and_records(client: TestClient, records: list[dict[str, int]]) -> None:
    body = client.get("/api/v1/stats/targets", params={"year": 2026}).json()
    items = _items(body)
    landed = items["landed_from_jingji"]
    # By hand: pairings 0 (北京) and 1 (河北) landed in 天津 in 2026; 2 is from 天津 and not landed; 3 landed in 2025.
    assert (landed["target"], landed["progress"], landed["ratio"], landed["met"]) == (10, 2, 0.2, False)
    assert [r["match_id"] for r in landed["records"]] == [records[0]["match"], records[1]["match"]]
    assert landed["records"][0]["carrier"] == "载体0"
    research = items["joint_research_enterprises"]
    # By hand: only contract 0 is a 2026 技术开发 contract from 北京 to a Tianjin enterprise.
    assert (research["target"], research["progress"]) == (5, 1)
    assert research["records"][0]["contract_id"] == records[0]["contract"]
    assert research["records"][0]["enterprise"] == "津南医药物流有限公司"
    events = items["events"]
    assert (events["target"], events["progress"], events["met"]) == (10, 0, False)
    earlier = _items(client.get("/api/v1/stats/targets", params={"year": 2025}).json())
    assert (earlier["landed_from_jingji"]["progress"], earlier["joint_research_enterprises"]["progress"]) == (1, 1)


def test_targets_are_configurable_per_year(client: TestClient, records: list[dict[str, int]]) -> None:
    response = client.put("/api/v1/stats/targets", json={"year": 2026, "targets": {"landed_from_jingji": 2}})
    assert response.status_code == 200, response.text
    landed = _items(response.json())["landed_from_jingji"]
    assert (landed["target"], landed["met"]) == (2, True)
    assert (
        _items(client.get("/api/v1/stats/targets", params={"year": 2027}).json())["landed_from_jingji"]["target"] == 10
    )
    unknown = client.put("/api/v1/stats/targets", json={"year": 2026, "targets": {"trainees": 800}})
    assert (unknown.status_code, unknown.json()["fields"][0]["field"]) == (422, "targets.trainees")
    negative = client.put("/api/v1/stats/targets", json={"year": 2026, "targets": {"events": -1}})
    assert negative.status_code == 422
    assert client.get("/api/v1/stats/targets", params={"year": 1900}).status_code == 422


def test_report_workbook_matches_hand_counts(client: TestClient, records: list[dict[str, int]]) -> None:
    response = client.get("/api/v1/stats/report", params={"since": "2026-01-01", "until": "2026-12-31"})
    assert response.status_code == 200, response.text
    assert_office_xlsx(response.content)
    assert_chinese_download(response, "技术转移工作报表-2026-01-01至2026-12-31.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["说明", "合同按类型", "按区域流向", "按产业链", "落地成果", "合同明细"]
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2"
        for row in sheet.iter_rows(values_only=True):
            assert not any(isinstance(v, str) and v.startswith("=") for v in row)  # values only, no formulas

    def table(name: str) -> list[tuple[Any, ...]]:
        return list(book[name].iter_rows(values_only=True))

    by_type = table("合同按类型")
    assert by_type[0] == ("合同类型", "合同数(份)", "合同成交总额(万元)", "技术交易额(万元)", "合同ID(见合同明细)")
    c = [str(r["contract"]) for r in records]
    assert by_type[1:] == [
        ("技术开发", 1, 100, 80, c[0]),
        ("技术许可", 1, 50, 50, c[1]),
        ("技术服务", 1, 20, 10, c[2]),
        ("合计", 3, 170, 140, None),
    ]
    flows = {r[0]: r[1:4] for r in table("按区域流向")[1:]}
    assert flows == {
        "北京→天津": (1, 100, 80),
        "河北→天津": (1, 50, 50),
        "天津→天津": (1, 20, 10),
        "合计": (3, 170, 140),
    }
    chains = {r[0]: r[3] for r in table("按产业链")[1:]}
    assert chains == {"新材料": 90, "生物医药": 50, "合计": 140}
    landed = table("落地成果")
    assert [r[0] for r in landed[1:]] == [records[0]["match"], records[1]["match"]]
    assert landed[1][landed[0].index("落地日期")] == datetime(2026, 4, 1)  # a real date, not text
    assert landed[1][landed[0].index("载体名称")] == "载体0"
    detail = table("合同明细")
    assert [r[0] for r in detail[1:]] == [records[2]["contract"], records[0]["contract"], records[1]["contract"]]
    assert detail[1][detail[0].index("签订日期")] == datetime(2026, 2, 1)
    bad = client.get("/api/v1/stats/report", params={"since": "2026-12-31", "until": "2026-01-01"})
    assert (bad.status_code, bad.json()["fields"][0]["field"]) == (422, "until")
    assert client.get("/api/v1/stats/report", params={"since": "2026-01-01"}).status_code == 422


def test_events_target_counts_the_finished_events_of_the_year(client: TestClient, session: Session) -> None:
    day = {"meeting_minutes": 20, "day_start": time(9), "day_end": time(12), "tables": 4, "default_cap": 6}
    for n, (starts_on, status) in enumerate(
        [
            (date(2026, 3, 5), "finished"),
            (date(2026, 6, 1), "finished"),
            (date(2026, 11, 20), "published"),
            (date(2025, 9, 9), "finished"),
        ]
    ):
        session.add(
            Event(kind="供需对接", title=f"对接会{n}", starts_on=starts_on, ends_on=starts_on, status=status, **day)
        )
    session.commit()
    events = _items(client.get("/api/v1/stats/targets", params={"year": 2026}).json())["events"]
    # By hand: two 2026 events took place; the published one has not yet, the 2025 one counts for 2025.
    assert (events["progress"], events["met"]) == (2, False)
    assert [r["title"] for r in events["records"]] == ["对接会0", "对接会1"]
    earlier = _items(client.get("/api/v1/stats/targets", params={"year": 2025}).json())["events"]
    assert earlier["progress"] == 1
