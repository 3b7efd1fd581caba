"""In Chromium: a manager opens an event, reads its participants, requests and the schedule grid with the request
that could not be placed; a member opens its own agenda and downloads the calendar."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.factories import achievement, demand
from tests.web.conftest import LiveServer, follow_menu


def _event(api: httpx.Client, tag: str) -> tuple[int, dict[str, int]]:
    """An event in scheduling with an enterprise, two institutions and an investor; one table, two slots: of the
    three accepted requests involving the enterprise (cap 2), one cannot be placed."""
    need = api.post(
        "/api/v1/demands",
        json=demand(external_id=f"WE-D-{tag}", title=f"冷链配送温度超标-{tag}", enterprise=f"网页冷链物流-{tag}"),
    ).json()["id"]
    offers = [
        api.post(
            "/api/v1/achievements", json=achievement(external_id=f"WE-A-{tag}-{i}", title=f"相变蓄冷保温箱-{tag}-{i}")
        ).json()["id"]
        for i in range(2)
    ]
    body = {
        "kind": "供需对接",
        "title": f"网页测试对接会-{tag}",
        "starts_on": "2026-12-11",
        "venue": "天开园",
        "meeting_minutes": 30,
        "day_start": "09:00",
        "day_end": "10:00",
        "tables": 1,
        "default_cap": 2,
    }
    eid = api.post("/api/v1/events", json=body).json()["id"]
    assert api.post(f"/api/v1/events/{eid}/status", json={"status": "registration"}).status_code == 200

    def join(org: str, role: str, **records: list[int]) -> int:
        response = api.post(f"/api/v1/events/{eid}/participants", json={"organisation": org, "role": role, **records})
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    ids = {
        "ent": join(f"网页冷链物流-{tag}", "enterprise", demand_ids=[need]),
        "uni_a": join(f"网页大学甲-{tag}", "institution", achievement_ids=[offers[0]]),
        "uni_b": join(f"网页大学乙-{tag}", "institution", achievement_ids=[offers[1]]),
        "fund": join(f"网页种子基金-{tag}", "investor"),
    }
    assert api.post(f"/api/v1/events/{eid}/status", json={"status": "scheduling"}).status_code == 200
    assert api.post(f"/api/v1/events/{eid}/requests/propose", json={}).json()["proposed"] == 2
    pair = {"first_participant_id": ids["ent"], "second_participant_id": ids["fund"]}
    assert api.post(f"/api/v1/events/{eid}/requests", json=pair).status_code == 201
    for r in api.get(f"/api/v1/events/{eid}/requests").json()["items"]:
        for side in ("first", "second"):
            answer = {"decision": "accepted", "side": side}
            assert api.post(f"/api/v1/events/{eid}/requests/{r['id']}/response", json=answer).status_code == 200
    schedule = api.post(f"/api/v1/events/{eid}/schedule", json={"time_limit_s": 2}).json()
    assert (len(schedule["meetings"]), len(schedule["unplaced"])) == (2, 1)
    return eid, ids


def test_manager_reads_the_schedule_grid_and_a_member_its_agenda(
    page: Any,
    live_server: LiveServer,
    api: httpx.Client,
    account: Callable[..., str],
    sign_in: Callable[[Any, str], None],
    screenshot_dir: Path,
) -> None:
    tag = uuid.uuid4().hex[:6]
    eid, ids = _event(api, tag)
    sign_in(page, account("manager"))
    follow_menu(page, "揭榜与活动", "对接活动")
    page.get_by_role("link", name=f"网页测试对接会-{tag}").click()
    expect(page).to_have_url(re.compile(rf"/events/{eid}$"))
    expect(page.locator("#event-status")).to_have_text("排期")
    expect(page.locator("#participants tbody tr")).to_have_count(4)
    expect(page.locator("#requests tbody tr")).to_have_count(3)
    grid = page.locator("#schedule-grid")
    expect(grid.locator("tbody tr")).to_have_count(2)  # 09:00 and 09:30
    expect(grid.locator("span.meeting")).to_have_count(2)
    expect(grid).to_contain_text(f"网页冷链物流-{tag}")
    expect(page.locator("#unplaced li")).to_have_count(1)
    expect(page.locator("#unplaced")).to_contain_text("会谈数已达上限")
    page.screenshot(path=str(screenshot_dir / "event-schedule.png"), full_page=True)
    page.locator("#table-plan").click()
    expect(page.locator("h1")).to_have_text(f"网页测试对接会-{tag}")

    # A member of the institution opens its own agenda once the schedule is published.
    assert api.post(f"/api/v1/events/{eid}/status", json={"status": "published"}).status_code == 200
    member = account("institution", f"网页大学甲-{tag}")
    page.context.clear_cookies()
    sign_in(page, member)
    page.goto(f"{live_server.url}/events/{eid}")
    expect(page.locator("#schedule-grid")).to_have_count(0)  # the grid is for organisers
    page.get_by_role("link", name="个人日程").click()
    expect(page.locator("h1")).to_contain_text(f"网页大学甲-{tag}")
    expect(page.locator("#agenda tbody tr")).to_have_count(1)
    expect(page.locator("#agenda")).to_contain_text(f"网页冷链物流-{tag}")
    with page.expect_download() as download:
        page.locator("#agenda-ics").click()
    assert download.value.suggested_filename == f"个人日程-{eid}-{ids['uni_a']}.ics"  # the Chinese name (RFC 5987)
    # Another organisation's agenda is not found.
    other = page.goto(f"{live_server.url}/events/{eid}/agenda/{ids['uni_b']}")
    assert other is not None
    assert other.status == 404
