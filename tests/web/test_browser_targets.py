"""In Chromium, a manager opens the targets panel: the 京冀 landing target shows the landed pairing behind it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from playwright.sync_api import expect

from matchmaker.models import Match
from tests.factories import achievement, demand
from tests.web.conftest import LiveServer, follow_menu


def _landed(api: httpx.Client) -> int:
    items = api.get("/api/v1/stats/targets", params={"year": 2026}).json()["items"]
    return next(int(t["progress"] or 0) for t in items if t["key"] == "landed_from_jingji")


def test_targets_panel_shows_progress_and_records(
    page: Any,
    live_server: LiveServer,
    api: httpx.Client,
    account: Callable[..., str],
    sign_in: Callable[[Any, str], None],
) -> None:
    tag = uuid.uuid4().hex[:6]
    before = _landed(api)  # other tests of the shared server may have landed pairings of 2026 too
    offer = api.post("/api/v1/achievements", json=achievement(external_id=f"TG-A-{tag}", region="北京")).json()
    need = api.post("/api/v1/demands", json=demand(external_id=f"TG-D-{tag}", region="天津")).json()
    with live_server.session() as session:
        match = Match(demand_id=need["id"], achievement_id=offer["id"], rank=1, score=0.8, status="signed")
        session.add(match)
        session.commit()
        match_id = match.id
    contract = {
        "contract_type": "技术开发",
        "title": "联合开发合同",
        "signed_on": "2026-05-01",
        "total_wan": 90,
        "tech_wan": 90,
    }
    assert api.post(f"/api/v1/matches/{match_id}/contracts", json=contract).status_code == 201
    carrier = {"carrier_kind": "园区", "carrier_name": f"天开高教科创园-{tag}", "landed_on": "2026-06-01"}
    assert api.post(f"/api/v1/matches/{match_id}/landing", json=carrier).status_code == 201

    sign_in(page, account("manager", "天津中心成果转化组"))
    follow_menu(page, "揭榜与活动", "年度目标")
    page.goto(f"{live_server.url}/targets?year=2026")
    landed = page.locator("#target-landed_from_jingji")
    assert _landed(api) == before + 1
    expect(landed.locator(".progress-figure")).to_have_text(re.compile(rf"^{before + 1} / 10 项"))
    landed.get_by_text(re.compile("计入的记录")).click()
    expect(landed.get_by_role("link", name=f"#{match_id}")).to_be_visible()
    expect(landed).to_contain_text(f"天开高教科创园-{tag}")
    research = page.locator("#target-joint_research_enterprises")
    expect(research.locator(".progress-figure")).to_have_text(re.compile(r"^1 / 5 家"))
    expect(page.locator("#target-events")).to_contain_text("0 / 10 场")  # no event has taken place yet
    # An enterprise member is refused the page.
    other = page.context.browser.new_context()
    member = other.new_page()
    sign_in(member, account("enterprise", f"某企业-{tag}"))
    response = member.goto(f"{live_server.url}/targets")
    assert response is not None
    assert response.status == 403
    other.close()
