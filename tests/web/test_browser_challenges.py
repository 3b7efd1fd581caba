"""In Chromium, 揭榜挂帅: a manager finds a challenge in the list, opens it, reads its indicators and the suggested
consortium; an institution member does not see it while it is a draft."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.challenge_factories import challenge
from tests.factories import achievement
from tests.web.conftest import LiveServer, follow_menu


def test_manager_reads_a_challenge_and_its_consortium(
    page: Any,
    live_server: LiveServer,
    api: httpx.Client,
    account: Callable[..., str],
    sign_in: Callable[[Any, str], None],
    screenshot_dir: Path,
) -> None:
    tag = uuid.uuid4().hex[:6]
    supply = [
        (
            "北方理工大学焊接研究所",
            "北京",
            "相控阵超声焊缝内部缺陷检测技术",
            "铝合金厚板焊缝相控阵超声检测，缺陷检出率99%。",
        ),
        ("燕赵理工大学机械工程学院", "河北", "焊缝高速自动扫查装置", "焊缝检测扫查速度每米20秒，单米检测时间短。"),
    ]
    for n, (owner, region, title, summary) in enumerate(supply):
        body = achievement(
            external_id=f"WC-{tag}-{n}", owner=owner, region=region, title=title, summary=summary, field="高端装备"
        )
        assert api.post("/api/v1/achievements", json=body).status_code == 201
    title = f"焊缝缺陷在线检测榜单-{tag}"
    created = api.post("/api/v1/challenges", json=challenge(title=title, external_id=f"JB-W-{tag}"))
    assert created.status_code == 201, created.text

    sign_in(page, account("manager"))
    follow_menu(page, "揭榜与活动", "揭榜挂帅")
    expect(page.locator("table.challenges-table")).to_contain_text(title)
    page.get_by_role("link", name=title).click()
    expect(page.locator("#stage")).to_have_text("草稿")
    expect(page.locator("#indicators")).to_contain_text("缺陷检出率")
    expect(page.locator("#indicators")).to_contain_text("≥ 98")
    consortia = page.locator("#consortia")
    expect(consortia).to_contain_text("覆盖 2/2 项指标")
    expect(consortia).to_contain_text("跨区域")
    expect(consortia).to_contain_text("北方理工大学")
    page.screenshot(path=str(screenshot_dir / "challenge.png"), full_page=True)

    page.context.clear_cookies()
    sign_in(page, account("institution", f"燕赵理工大学-{tag}"))
    page.goto(f"{live_server.url}/challenges")
    expect(page.locator("table.challenges-table")).not_to_contain_text(title)
    response = page.goto(f"{live_server.url}/challenges/{created.json()['id']}")
    assert response is not None
    assert response.status == 404
