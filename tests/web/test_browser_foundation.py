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


ROLES = ("admin", "manager", "enterprise", "institution", "expert")


def test_the_top_bar_fits_one_line_at_1280_and_a_phone_for_every_role(
    page: Any,
    account: Callable[..., str],
    sign_in: Callable[[Any, str], None],
    screenshot_dir: Path,
) -> None:
    for role in ROLES:
        org = {"enterprise": "滨海新材料有限公司", "institution": "北方理工大学"}.get(role)
        page.context.clear_cookies()
        sign_in(page, account(role, org=org))
        page.set_viewport_size({"width": 1280, "height": 860})
        page.screenshot(path=str(screenshot_dir / f"nav-{role}-1280.png"))
        # brand, pages, menus and tools on one line: every item's vertical middle within one item's height
        rows = page.evaluate(
            """[...document.querySelectorAll('.topbar nav > ul > li')].map(li => {
                   const r = li.getBoundingClientRect(); return [r.top + r.height / 2, r.height]; })"""
        )
        middles = [middle for middle, _ in rows]
        assert max(middles) - min(middles) < min(height for _, height in rows), (role, rows)
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, role
        expect(page.locator("#sign-out")).to_be_visible()
        page.screenshot(path=str(screenshot_dir / f"nav-{role}-phone.png"))


def test_a_manager_reaches_the_lists_through_the_menu_by_keyboard(
    page: Any, account: Callable[..., str], sign_in: Callable[[Any, str], None], screenshot_dir: Path
) -> None:
    sign_in(page, account("manager"))
    menu = page.locator(".topbar summary", has_text="清单")
    menu.focus()
    page.keyboard.press("Enter")
    page.screenshot(path=str(screenshot_dir / "nav-manager-menu.png"))
    link = page.get_by_role("link", name="科技成果", exact=True)
    link.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/my/achievements$"))
    expect(page.locator(".topbar summary.current", has_text="清单")).to_be_visible()
