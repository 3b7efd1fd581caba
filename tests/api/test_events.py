"""Matchmaking events end to end: draft → finished through the API, with masking, schedule rules and outputs."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar

from tests.factories import achievement, demand
from tests.sheets import assert_chinese_download, assert_office_xlsx

SECRET = "津门保密装备有限公司"
EVENT = {
    "kind": "供需对接",
    "title": "北京优秀科技资源进天津·生物医药冷链供需对接会",
    "starts_on": "2026-12-10",
    "venue": "天开高教科创园 2 号楼",
    "chains": ["生物医药"],
    "meeting_minutes": 20,
    "day_start": "09:00",
    "day_end": "11:00",
    "breaks": [{"start": "10:00", "end": "10:20"}],
    "tables": 2,
    "default_cap": 3,
}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content and "json" in response.headers.get("content-type", "") else response


@pytest.fixture
def people(client: TestClient, make_user: Callable[..., str]) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:6]
    return {
        "manager": make_user("manager", "天津中心成果转化组"),
        "ent_a": make_user("enterprise", SECRET),
        "ent_b": make_user("enterprise", f"渤海生物-{suffix}"),
        "uni_a": make_user("institution", f"北方理工大学-{suffix}"),
        "uni_b": make_user("institution", f"燕山大学-{suffix}"),
    }


def _records(client: TestClient, people: dict[str, str]) -> dict[str, int]:
    suffix = uuid.uuid4().hex[:6]

    def post(role: str, url: str, body: dict[str, Any]) -> int:
        return int(_ok(client.post(url, json=body, headers=_auth(people[role])), 201)["id"])

    return {
        "dem_a": post(
            "ent_a",
            "/api/v1/demands",
            demand(external_id=f"EA-{suffix}", confidential=True, enterprise=SECRET, title="疫苗配送箱内温度超标"),
        ),
        "dem_b": post(
            "ent_b",
            "/api/v1/demands",
            demand(external_id=f"EB-{suffix}", title="冷链药品运输温度监控", enterprise="渤海生物"),
        ),
        "ach_a": post(
            "uni_a",
            "/api/v1/achievements",
            achievement(external_id=f"AA-{suffix}", field="生物医药", transfer_modes=["许可"]),
        ),
        "ach_b": post(
            "uni_b",
            "/api/v1/achievements",
            achievement(
                external_id=f"AB-{suffix}",
                title="冷链物流温度无线监测标签",
                summary="无源RFID温度标签，-40～85℃，精度±0.3℃，用于冷链药品全程温度追溯。",
                keywords=["冷链", "温度监测"],
                field="生物医药",
                transfer_modes=["许可"],
            ),
        ),
    }


def test_event_from_draft_to_finished(client: TestClient, people: dict[str, str]) -> None:
    ids = _records(client, people)
    manager = _auth(people["manager"])
    event = _ok(client.post("/api/v1/events", json=EVENT, headers=manager), 201)
    eid = event["id"]
    # 09:00-11:00 in 20-minute slots with a break 10:00-10:20: 09:00, 09:20, 09:40, 10:20, 10:40.
    assert [s["start"][11:] for s in event["slots"]] == ["09:00", "09:20", "09:40", "10:20", "10:40"]
    assert (event["status"], event["status_label"], event["allowed_moves"]) == ("draft", "草稿", ["registration"])
    # Members do not see drafts; illegal moves answer 409 with the allowed ones.
    assert client.get(f"/api/v1/events/{eid}", headers=_auth(people["ent_a"])).status_code == 404
    wrong = client.post(f"/api/v1/events/{eid}/status", json={"status": "已发布日程"}, headers=manager)
    assert (wrong.status_code, wrong.json()["allowed"]) == (409, ["registration"])
    _ok(client.post(f"/api/v1/events/{eid}/status", json={"status": "报名中"}, headers=manager))

    # Members register their own organisation with their own records; staff add an investor.
    def register(role: str, body: dict[str, Any]) -> int:
        return int(
            _ok(client.post(f"/api/v1/events/{eid}/participants", json=body, headers=_auth(people[role])), 201)["id"]
        )

    pa = register("ent_a", {"demand_ids": [ids["dem_a"]], "people": [{"name": "王工", "phone": "13800000000"}]})
    pb = register("ent_b", {"demand_ids": [ids["dem_b"]], "available_slots": [0, 1, 2]})
    ua = register("uni_a", {"achievement_ids": [ids["ach_a"]], "people": [{"name": "李教授", "title": "教授"}]})
    ub = register("uni_b", {"achievement_ids": [ids["ach_b"]]})
    someone_elses = client.post(
        f"/api/v1/events/{eid}/participants", json={"achievement_ids": [ids["ach_a"]]}, headers=_auth(people["uni_b"])
    )
    assert someone_elses.status_code == 409  # already registered
    bad_record = client.patch(
        f"/api/v1/events/{eid}/participants/{ub}",
        json={"achievement_ids": [ids["ach_a"]]},
        headers=_auth(people["uni_b"]),
    )
    assert (bad_record.status_code, bad_record.json()["fields"][0]["field"]) == (422, "achievement_ids.0")
    investor = _ok(
        client.post(
            f"/api/v1/events/{eid}/participants",
            json={"organisation": f"天开种子基金-{uuid.uuid4().hex[:4]}", "role": "investor"},
            headers=manager,
        ),
        201,
    )
    # Another member never sees the confidential need under its enterprise, nor contact details.
    listed = _ok(client.get(f"/api/v1/events/{eid}/participants", headers=_auth(people["uni_a"])))["items"]
    ent_a_row = next(p for p in listed if p["id"] == pa)
    assert ent_a_row["demands"] == []
    assert "13800000000" not in str(listed)

    _ok(client.post(f"/api/v1/events/{eid}/status", json={"status": "scheduling"}, headers=manager))
    proposed = _ok(client.post(f"/api/v1/events/{eid}/requests/propose", json={"per_need": 2}, headers=manager))
    assert proposed["proposed"] == 4  # two needs × two institutions
    # The investor asks to meet uni_b (via staff here: investors have no member account in this setup).
    _ok(
        client.post(
            f"/api/v1/events/{eid}/requests",
            json={"first_participant_id": investor["id"], "second_participant_id": ub},
            headers=manager,
        ),
        201,
    )
    # uni_a sees the request on the confidential need masked until both sides accept.
    uni_view = _ok(client.get(f"/api/v1/events/{eid}/requests", headers=_auth(people["uni_a"])))["items"]
    secret_req = next(r for r in uni_view if r["demand"]["id"] == ids["dem_a"])
    assert secret_req["first"]["hidden"] is True
    assert secret_req["first"]["participant_id"] is None
    assert SECRET not in str(uni_view)
    assert secret_req["explanation"]["sentence"]
    # uni_a also asks ent_b directly: the proposed request becomes one uni_a asked for.
    asked = _ok(
        client.post(f"/api/v1/events/{eid}/requests", json={"with_participant_id": pb}, headers=_auth(people["uni_a"])),
        201,
    )
    assert asked["second"]["asked"] is True
    # Each side answers; ent_b declines uni_b.
    everything = _ok(client.get(f"/api/v1/events/{eid}/requests", headers=manager))["items"]
    assert len(everything) == 5
    for r in everything:
        for side, key in (("first", "first"), ("second", "second")):
            if r[key]["response"] != "pending":
                continue
            decision = (
                "declined" if {r["first"]["participant_id"], r["second"]["participant_id"]} == {pb, ub} else "accepted"
            )
            token = {pa: "ent_a", pb: "ent_b", ua: "uni_a", ub: "uni_b"}.get(r[key]["participant_id"])
            if token is None:
                _ok(
                    client.post(
                        f"/api/v1/events/{eid}/requests/{r['id']}/response",
                        json={"decision": decision, "side": side},
                        headers=manager,
                    )
                )
            else:
                _ok(
                    client.post(
                        f"/api/v1/events/{eid}/requests/{r['id']}/response",
                        json={"decision": decision},
                        headers=_auth(people[token]),
                    )
                )
    uni_view = _ok(client.get(f"/api/v1/events/{eid}/requests", headers=_auth(people["uni_a"])))["items"]
    secret_req = next(r for r in uni_view if r["demand"]["id"] == ids["dem_a"])
    assert (secret_req["status"], secret_req["first"]["organisation"]) == ("accepted", SECRET)

    schedule = _ok(client.post(f"/api/v1/events/{eid}/schedule", json={"time_limit_s": 5}, headers=manager))
    assert schedule["report"]["accepted"] == 4
    assert schedule["report"]["placed"] + len(schedule["unplaced"]) == 4
    meetings = schedule["meetings"]
    seen: set[tuple[int, int]] = set()
    for m in meetings:
        assert 1 <= m["table"] <= 2
        for side in (m["first"]["participant_id"], m["second"]["participant_id"]):
            assert (side, m["slot"]) not in seen
            seen.add((side, m["slot"]))
        if pb in (m["first"]["participant_id"], m["second"]["participant_id"]):
            assert m["slot"] in (0, 1, 2)  # ent_b's availability
    assert len(meetings) == 4  # 5 slots × 2 tables, caps of 3: every accepted request fits
    # Pin one meeting elsewhere and re-solve: it stays.
    target = meetings[0]
    free_slot = next(
        s
        for s in range(5)
        if all((p, s) not in seen for p in (target["first"]["participant_id"], target["second"]["participant_id"]))
        and sum(1 for m in meetings if m["slot"] == s) < 2
    )
    moved = _ok(
        client.patch(f"/api/v1/events/{eid}/meetings/{target['id']}", json={"slot": free_slot}, headers=manager)
    )
    assert moved["pinned"] is True
    again = _ok(client.post(f"/api/v1/events/{eid}/schedule", json={"time_limit_s": 5}, headers=manager))
    kept = next(m for m in again["meetings"] if m["id"] == target["id"])
    assert (kept["slot"], kept["table"], kept["pinned"]) == (free_slot, moved["table"], True)
    clash = next(m for m in again["meetings"] if m["id"] != target["id"])
    taken = client.patch(
        f"/api/v1/events/{eid}/meetings/{clash['id']}",
        json={"slot": kept["slot"], "table": kept["table"]},
        headers=manager,
    )
    assert taken.status_code == 409

    _ok(client.post(f"/api/v1/events/{eid}/status", json={"status": "published"}, headers=manager))
    # Personal agendas: JSON, spreadsheet, calendar; another organisation's agenda is 404.
    agenda = _ok(client.get(f"/api/v1/events/{eid}/participants/{ua}/agenda", headers=_auth(people["uni_a"])))
    assert len(agenda["items"]) == 2
    assert SECRET in {i["counterpart"]["organisation"] for i in agenda["items"]}  # accepted by both: disclosed
    assert (
        client.get(f"/api/v1/events/{eid}/participants/{ua}/agenda", headers=_auth(people["uni_b"])).status_code == 404
    )
    sheet = client.get(f"/api/v1/events/{eid}/participants/{ua}/agenda?format=xlsx", headers=_auth(people["uni_a"]))
    assert_office_xlsx(sheet.content)
    assert_chinese_download(sheet, f"个人日程-{eid}-{ua}.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(sheet.content)).active
    assert [c.value for c in book[1]][:4] == ["开始时间", "结束时间", "桌号", "对方单位"]
    assert book.freeze_panes == "A2"
    assert isinstance(book.cell(2, 1).value, datetime)
    ics = client.get(f"/api/v1/events/{eid}/participants/{ua}/agenda?format=ics", headers=_auth(people["uni_a"]))
    assert ics.headers["content-type"].startswith("text/calendar")
    entries = Calendar.from_ical(ics.content).walk("VEVENT")
    assert len(entries) == 2
    assert {e.decoded("dtstart").strftime("%H:%M") for e in entries} <= {"09:00", "09:20", "09:40", "10:20", "10:40"}
    plan = client.get(f"/api/v1/events/{eid}/table-plan?format=xlsx", headers=manager)
    assert_office_xlsx(plan.content)
    assert_chinese_download(plan, f"桌位安排-{eid}.xlsx")
    plan_sheet = openpyxl.load_workbook(io.BytesIO(plan.content)).active
    assert plan_sheet.max_row == 1 + 4
    page = client.get(f"/api/v1/events/{eid}/table-plan?format=html", headers=manager)
    assert page.headers["content-type"].startswith("text/html")
    assert "第 2 桌" in page.text
    assert SECRET in page.text  # staff see everyone

    # On the day: check-in only while running; one no-show.
    first_meeting = again["meetings"][0]["id"]
    early = client.post(
        f"/api/v1/events/{eid}/meetings/{first_meeting}/check-in", json={"attendance": "met"}, headers=manager
    )
    assert early.status_code == 409
    _ok(client.post(f"/api/v1/events/{eid}/status", json={"status": "running"}, headers=manager))
    final = _ok(client.get(f"/api/v1/events/{eid}/schedule", headers=manager))["meetings"]
    no_show = next(m for m in final if m["first"]["participant_id"] == investor["id"])
    for m in final:
        body = (
            {"attendance": "no_show", "no_show_participant_ids": [investor["id"]]}
            if m["id"] == no_show["id"]
            else {"attendance": "met"}
        )
        _ok(client.post(f"/api/v1/events/{eid}/meetings/{m['id']}/check-in", json=body, headers=manager))
    finished = _ok(client.post(f"/api/v1/events/{eid}/status", json={"status": "finished"}, headers=manager))
    assert (finished["status_label"], finished["allowed_moves"]) == ("已结束", [])

    # Every held meeting with a need and an achievement moved its pairing to 洽谈, the event in its history.
    results = _ok(client.get(f"/api/v1/events/{eid}/results", headers=manager))
    assert (results["meetings_held"], results["no_shows"], results["pairings_advanced"]) == (3, 1, 3)
    pairings = _ok(client.get("/api/v1/matches?status=meeting", headers=manager))["items"]
    assert len(pairings) == 3
    history = _ok(client.get(f"/api/v1/matches/{pairings[0]['id']}/history", headers=manager))["items"]
    assert [h["to"] for h in history] == ["shortlisted", "contacted", "meeting"]
    assert all(EVENT["title"] in (h["note"] or "") for h in history)
    stats = _ok(client.get("/api/v1/events/stats", headers=manager))
    assert stats["target_per_year"] == 10
    assert stats["events_per_year"] == [{"year": 2026, "events": 1, "finished": 1, "target": 10, "met_target": False}]
    assert stats["meetings_held"] == 3
    assert stats["region_flows"] == [{"from": "北京", "to": "天津", "meetings": 3, "signed": 0}]
