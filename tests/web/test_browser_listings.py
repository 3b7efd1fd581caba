"""In Chromium: a manager reviews a group of duplicates (a record and its Traditional copy), merges it, undoes the
merge; an enterprise member sees its stale need marked and confirms it is still open."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect
from sqlalchemy import select, update

from matchmaker.models import Demand, Organisation, utcnow
from matchmaker.search.text import to_traditional
from tests.factories import achievement, demand
from tests.web.conftest import LiveServer, follow_menu


def test_manager_merges_and_undoes_duplicates(
    page: Any,
    live_server: LiveServer,
    api: httpx.Client,
    account: Callable[..., str],
    sign_in: Callable[[Any, str], None],
    screenshot_dir: Path,
) -> None:
    tag = uuid.uuid4().hex[:6]
    title = f"高炉煤气余压透平发电机组振动在线诊断系统{tag}"
    summary = "采集TRT机组轴振与瓦温，振动超限提前72小时预警，误报率低于3%，已在4座高炉应用，年减少停机36小时。"
    body = achievement(external_id=f"DUP-{tag}-1", title=title, summary=summary, field="高端装备")
    copy = {
        **body,
        "external_id": f"DUP-{tag}-2",
        "title": to_traditional(title)[1],
        "summary": to_traditional(summary)[1],
    }
    first = api.post("/api/v1/achievements", json=body).json()["id"]
    second = api.post("/api/v1/achievements", json=copy).json()["id"]
    assert api.post("/api/v1/duplicates/scan", json={"kind": "achievements"}).status_code == 200

    sign_in(page, account("manager"))
    follow_menu(page, "清单", "重复条目")
    group = page.locator(f"#group-{first}")
    expect(group).to_contain_text(title)
    expect(group).to_contain_text("字符相似")
    page.screenshot(path=str(screenshot_dir / "duplicates.png"), full_page=True)
    group.get_by_role("button", name="合并到所选条目").click()
    expect(page.locator(f"#group-{first}")).to_have_count(0)
    merges = page.locator("#merges tbody tr").first
    expect(merges).to_contain_text(str(second))
    assert api.get(f"/api/v1/achievements/{second}").json()["status"] == "archived"

    merges.get_by_role("button", name="撤销合并").click()
    expect(page.locator("#merges tbody tr").first).to_contain_text("已撤销")
    expect(page.locator(f"#group-{first}")).to_be_visible()
    assert api.get(f"/api/v1/achievements/{second}").json()["status"] == "active"


def test_enterprise_confirms_its_stale_need(
    page: Any,
    live_server: LiveServer,
    api: httpx.Client,
    account: Callable[..., str],
    sign_in: Callable[[Any, str], None],
) -> None:
    org = f"津沽精密铸造有限公司{uuid.uuid4().hex[:4]}"
    email = account("enterprise", org)
    need = api.post("/api/v1/demands", json=demand(external_id=f"ST-{uuid.uuid4().hex[:6]}", enterprise=org)).json()
    with live_server.session() as session:  # written seven months ago, by the enterprise's organisation
        org_id = session.scalar(select(Organisation.id).where(Organisation.name == org))
        session.execute(
            update(Demand)
            .where(Demand.id == need["id"])
            .values(org_id=org_id, updated_at=utcnow() - timedelta(days=210))
        )
        session.commit()
    assert api.post("/api/v1/stale/check").json()["demands"]["flagged"] >= 1

    sign_in(page, email)
    page.goto(f"{live_server.url}/stale")  # the enterprise's own pages come with the workspace's next steps
    expect(page.get_by_role("link", name="待确认条目")).to_be_visible()
    row = page.locator("#stale-list tbody tr", has_text=str(need["title"]))
    expect(row.locator(".badge.stale")).to_contain_text("待确认")
    row.get_by_role("button", name="仍然有效").click()
    expect(page.locator("#stale-list")).to_contain_text("没有待确认的条目")
