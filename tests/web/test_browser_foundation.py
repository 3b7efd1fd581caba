"""In Chromium: sign in, the layout at 1280 px and on a phone, the language switch, /docs offline, sign out."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.web.conftest import LiveServer


def test_sign_in_layout_language_and_sign_out(
    page: Any,
    live_server: LiveServer,
    account: Callable[..., str],
    sign_in: Callable[[Any, str], None],
    screenshot_dir: Path,
) -> None:
    external: list[str] = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None)
    page.goto(f"{live_server.url}/queue")
    expect(page).to_have_url(re.compile(r"/login\?next=/queue$"))
    for label in ("邮箱", "密码"):
        expect(page.get_by_label(label)).to_be_visible()  # every input has a label
    email = account("manager")
    sign_in(page, email)
    expect(page).to_have_url(re.compile(r"/queue$"))
    expect(page.get_by_role("heading", name="审核队列")).to_be_visible()
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
              .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.name)"""
    )
    assert unlabelled == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(screenshot_dir / "queue-phone.png"), full_page=False)
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()
    page.set_viewport_size({"width": 1280, "height": 860})

    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    page.get_by_role("button", name="中文").click()
    expect(page.get_by_role("heading", name="审核队列")).to_be_visible()

    page.goto(f"{live_server.url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("matchmaker", timeout=20_000)
    assert external == [], external  # everything, Swagger UI included, comes from the app

    page.goto(f"{live_server.url}/queue")
    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(f"{live_server.url}/queue")
    expect(page).to_have_url(re.compile(r"/login\?next=/queue$"))
