"""In Chromium, a pairing from 签约 to 落地 through the pairing page's forms: landing before a contract is refused
saying why; a contract whose 技术交易额 exceeds its total is refused beside the field; a text file named .pdf is
refused by its content; the real PDF is kept and downloads; the landing moves the pairing to 落地. Then the
institution reads the ranked landing resources on its achievement's page."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from matchmaker.models import Match
from tests.factories import achievement, demand
from tests.web.conftest import LiveServer

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
RESOURCES = [
    ("概念验证中心", "天开园新材料概念验证中心", ["新材料"], 3, 5, "为高校新材料成果提供原理验证和样品试制。"),
    ("中试平台", "滨海新材料中试基地", ["新材料"], 5, 7, "相变材料、复合材料放大中试线，吨级试制，配套检测。"),
    ("孵化器", "河西生物医药孵化器", ["生物医药"], None, None, "生物医药初创企业孵化。"),
]


def _set_up(
    live_server: LiveServer,
    api: httpx.Client,
    account: Callable[..., str],
    member_api: Callable[[str], httpx.Client],
    tag: str,
) -> tuple[int, int, str]:
    """A proposed pairing of a 北京 university's achievement and a 天津 enterprise's need; resources to land on."""
    institution = account("institution", f"北方材料大学-{tag}")
    enterprise = account("enterprise", f"津南冷链物流-{tag}")
    offer = achievement(external_id=f"WC-A-{tag}", field="新材料", region="北京", trl=6, owner=f"北方材料大学-{tag}")
    need = demand(external_id=f"WC-D-{tag}", field="新材料", region="天津", enterprise=f"津南冷链物流-{tag}")
    offer_id = member_api(institution).post("/api/v1/achievements", json=offer).json()["id"]
    need_id = member_api(enterprise).post("/api/v1/demands", json=need).json()["id"]
    for n, (kind, name, chains, low, high, text) in enumerate(RESOURCES):
        body = {"external_id": f"ZY-{tag}-{n}", "name": f"{name}-{tag}", "kind": kind, "region": "天津"}
        body |= {"chains": chains, "trl_min": low, "trl_max": high, "description": text}
        assert api.post("/api/v1/resources", json=body).status_code == 201
    with live_server.session() as session:
        match = Match(demand_id=need_id, achievement_id=offer_id, rank=1, score=0.82, status="proposed")
        session.add(match)
        session.commit()
        return match.id, offer_id, institution


def test_contract_file_and_landing_then_the_resources_panel(
    page: Any,
    live_server: LiveServer,
    api: httpx.Client,
    account: Callable[..., str],
    sign_in: Callable[[Any, str], None],
    member_api: Callable[[str], httpx.Client],
    screenshot_dir: Path,
    tmp_path: Path,
) -> None:
    tag = uuid.uuid4().hex[:6]
    match_id, offer_id, institution = _set_up(live_server, api, account, member_api, tag)
    sign_in(page, account("manager"))
    page.goto(f"{live_server.url}/pairings/{match_id}")
    for stage in ("shortlisted", "contacted", "meeting", "signed"):
        page.locator("#p-status").select_option(stage)
        page.locator("form.stack button[type=submit]").click()
        page.wait_for_load_state("networkidle")
    expect(page.locator("#contracts")).to_be_visible()
    expect(page.locator("#landing-needs-contract")).to_have_text("落地前须先登记技术合同。")

    # No 落地 without a contract: the workflow's refusal says why.
    page.locator("#carrier_name").fill("天开高教科创园")
    page.locator("#landed_on").fill("2026-07-01")
    page.locator("#save-landing").click()
    expect(page.locator("#landing-errors")).to_contain_text("落地前须先登记技术合同")

    # The contract form: the parties come from the pairing; 技术交易额 above the total is refused beside the field.
    expect(page.locator("#party-0-name")).to_have_value(f"北方材料大学-{tag}")
    expect(page.locator("#party-1-name")).to_have_value(f"津南冷链物流-{tag}")
    page.locator("#contract_type").select_option("技术许可")
    page.locator("#title").fill("相变蓄冷材料专利实施许可合同")
    page.locator("#signed_on").fill("2026-06-01")
    page.locator("#term_start").fill("2026-06-01")
    page.locator("#term_end").fill("2029-05-31")
    page.locator("#total_wan").fill("180")
    page.locator("#tech_wan").fill("200")
    page.locator("#registration_no").fill("2026120000301234")
    page.locator("#save-contract").click()
    expect(page.locator("[id='tech_wan-error']")).to_contain_text("不能大于合同成交总额")
    expect(page.locator("#title")).to_have_value("相变蓄冷材料专利实施许可合同")
    page.locator("#contracts").screenshot(path=str(screenshot_dir / "contract-form.png"))
    page.locator("#tech_wan").fill("150")
    page.locator("#save-contract").click()
    expect(page.locator("#contract-list")).to_contain_text("相变蓄冷材料专利实施许可合同")
    expect(page.locator("#contract-list")).to_contain_text("180.00 / 150.00")

    # The file is checked by its content: a text file named .pdf is refused, the PDF kept and downloadable.
    fake, real = tmp_path / "合同.pdf", tmp_path / "signed.pdf"
    fake.write_text("这不是PDF", encoding="utf-8")
    real.write_bytes(PDF)
    page.locator("#contract-list input[type=file]").set_input_files(str(fake))
    page.locator("#contract-list .upload-form button").click()
    expect(page.locator("#contract-list .field-error")).to_contain_text("合同文件须为 PDF、PNG、JPEG 或 DOCX")
    page.locator("#contract-list input[type=file]").set_input_files(str(real))
    page.locator("#contract-list .upload-form button").click()
    link = page.locator("a.contract-file")
    expect(link).to_have_text("signed.pdf")
    download = page.request.get(f"{live_server.url}{link.get_attribute('href')}")
    assert (download.status, download.body()) == (200, PDF)

    # 落地: carrier, date and funding; the pairing moves to 落地 and the page shows where it landed.
    page.locator("#carrier_kind").select_option("园区")
    page.locator("#carrier_name").fill("天开高教科创园")
    page.locator("#landed_on").fill("2026-07-01")
    page.locator("#fund-0").fill("天开园创业种子基金")
    page.locator("#fund-0-amount").fill("80")
    page.locator("#save-landing").click()
    expect(page.locator("h1 .badge")).to_have_text("落地")
    expect(page.locator("#landing-record")).to_contain_text("天开高教科创园（园区 · 天津）")
    expect(page.locator("#landing-record")).to_contain_text("合计 80.00 万元")
    expect(page.locator("#resources-panel .fit").first).to_contain_text(f"滨海新材料中试基地-{tag}")
    page.locator("#contracts").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "contract-landed.png"), full_page=True)

    # The institution's achievement page: the resources that fit it, ranked and explained.
    page.context.clear_cookies()
    sign_in(page, institution)
    page.goto(f"{live_server.url}/my/achievements/{offer_id}")
    fits = page.locator("#resources-panel .fit")
    expect(fits.first).to_contain_text(f"滨海新材料中试基地-{tag}")  # TRL 6 in the 5–7 a 中试平台 takes
    expect(fits.first.locator(".sentence")).not_to_be_empty()
    page.locator("#resources-panel").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "resources-panel.png"), full_page=True)
