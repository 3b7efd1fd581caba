"""In Chromium, a technology manager's day: start a matching run, watch it finish, shortlist two pairings in bulk,
try an illegal bulk move (refused, nothing changed, allowed moves shown), reject one with a reason, read the
pairing page and its history."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.factories import achievement, demand
from tests.web.conftest import LiveServer

CHAIN = "航空航天"  # the run is limited to this chain: other tests' needs stay out of it


def _seed(api: httpx.Client) -> str:
    tag = uuid.uuid4().hex[:6]
    offers = [
        (
            "碳纤维复合材料机翼蒙皮自动铺丝工艺",
            "自动铺丝速度提升3倍，孔隙率低于1%，适用于大型复合材料机翼蒙皮制造。",
            7,
        ),
        ("复合材料构件超声无损检测系统", "相控阵超声检测复合材料分层与孔隙缺陷，检测效率提高5倍，适合机翼蒙皮。", 6),
        ("航空铝合金搅拌摩擦焊接技术", "铝合金机身壁板搅拌摩擦焊，接头强度系数0.85，变形小。", 8),
    ]
    for i, (title, summary, trl) in enumerate(offers):
        body = achievement(
            external_id=f"W-A-{tag}-{i}", title=title, summary=summary, field=CHAIN, region="北京", trl=trl,
            keywords=["复合材料", "机翼"],
        )  # fmt: skip
        assert api.post("/api/v1/achievements", json=body).status_code == 201
    need = demand(
        external_id=f"W-D-{tag}",
        title="大型复合材料机翼蒙皮制造效率低、孔隙缺陷多",
        description="公司生产复合材料机翼蒙皮，手工铺层效率低，孔隙率超过2%，需要自动铺丝与无损检测技术。",
        field=CHAIN,
        region="天津",
        min_trl=6,
        budget_wan=500,
        preferred_modes=["许可", "合作开发"],
        keywords=["复合材料", "机翼"],
    )
    assert api.post("/api/v1/demands", json=need).status_code == 201
    return str(need["title"])


def test_manager_runs_matching_and_reviews_in_bulk(
    page: Any,
    live_server: LiveServer,
    api: httpx.Client,
    account: Callable[..., str],
    sign_in: Callable[[Any, str], None],
    screenshot_dir: Path,
) -> None:
    need_title = _seed(api)
    sign_in(page, account("manager"))
    page.get_by_role("link", name="匹配批次").click()
    page.get_by_label("每个需求推荐成果数").fill("3")
    page.get_by_label("需求所属产业链（不选为全部）").select_option(CHAIN)
    page.get_by_role("button", name="开始匹配").click()
    expect(page).to_have_url(re.compile(r"/runs/\d+$"))
    expect(page.locator("#run-progress progress")).to_be_visible()
    expect(page.locator("#run-done")).to_be_visible(timeout=60_000)  # the bar is polled until the run is done
    expect(page.locator("#run-done")).to_contain_text("推荐 3 条配对")

    page.locator("#run-results").click()
    queue_url = page.url
    expect(page.locator("#queue-total")).to_contain_text("共 3 条配对")
    rows = page.locator("table.queue-table tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text(need_title)

    # Shortlist the first two in bulk.
    ids = [rows.nth(i).locator("td").nth(1).inner_text() for i in range(3)]
    for i in (0, 1):
        rows.nth(i).get_by_role("checkbox").check()
    page.get_by_label("移到阶段").select_option("shortlisted")
    page.get_by_role("button", name="移动", exact=True).click()
    expect(page.locator("#bulk-done")).to_contain_text("已处理 2 条配对")
    expect(page.locator("table.queue-table tbody tr").filter(has_text="初筛")).to_have_count(2)

    # An illegal bulk move: the proposed one cannot go to 对接; nothing is half-applied.
    page.get_by_role("checkbox", name="全选本页").check()
    page.get_by_label("移到阶段").select_option("contacted")
    page.get_by_role("button", name="移动", exact=True).click()
    error = page.locator("#bulk-error")
    expect(error).to_contain_text("所有配对均未改变")
    expect(error).to_contain_text(f"#{ids[2]}：推荐 → 允许： 初筛、已拒绝")
    for match_id in ids[:2]:
        assert api.get(f"/api/v1/matches/{match_id}").json()["status"] == "shortlisted"

    # Reject one with a reason, then read its history on the pairing page.
    page.goto(queue_url)
    page.locator("table.queue-table tbody tr").filter(has_text=f"{ids[0]}").first.get_by_role("checkbox").check()
    page.get_by_label("拒绝原因").select_option("too_expensive")
    page.get_by_label("备注").fill("报价超出企业预算")
    page.get_by_role("button", name="拒绝", exact=True).click()
    expect(page.locator("#bulk-done")).to_contain_text("已处理 1 条配对")

    # Assign the other shortlisted one to me (the assignee select defaults to the signed-in manager).
    page.locator("table.queue-table tbody tr").filter(has_text="初筛").first.get_by_role("checkbox").check()
    page.get_by_role("button", name="指派", exact=True).click()
    expect(page.locator("#bulk-done")).to_contain_text("已处理 1 条配对")
    page.screenshot(path=str(screenshot_dir / "queue.png"), full_page=True)
    page.goto(queue_url.replace("layout=table", "") + "&layout=board")
    expect(page.locator(".board-col").first).to_contain_text("推荐")

    page.goto(f"{live_server.url}/pairings/{ids[0]}")
    history = page.locator("#history")
    expect(history).to_contain_text("推荐 → 初筛")
    expect(history).to_contain_text("初筛 → 已拒绝")
    expect(history).to_contain_text("价格过高")
    expect(history).to_contain_text("报价超出企业预算")
    expect(page.locator("#sentence")).not_to_be_empty()
    expect(page.locator("ul.checks")).to_contain_text("✓")
    assert page.locator("mark").count() > 0  # shared terms highlighted in the texts

    page.goto(f"{live_server.url}/pairings/{ids[1]}")
    page.screenshot(path=str(screenshot_dir / "pairing.png"), full_page=True)
