"""In Chromium: an enterprise posts a need (a form error shown next to its field first) and asks to be put in touch
with a suggestion; an institution publishes an achievement and sees a confidential need without the enterprise's
name; a title holding <script> is shown as text."""

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


def _supply(api: httpx.Client, tag: str) -> None:
    offers = [  # fmt: skip
        (
            "相变蓄冷材料及冷链运输箱温控技术",
            "相变温度-18℃～8℃可调，潜热≥220 J/g，保温箱在35℃环境下保持2～8℃达120小时，适用于疫苗冷链。",
        ),
        ("冷链运输温湿度无线监测终端", "NB-IoT温度记录仪，精度±0.3℃，续航2年，超温实时报警，适用于疫苗与生鲜配送。"),
    ]
    for i, (title, summary) in enumerate(offers):
        body = achievement(external_id=f"M-A-{tag}-{i}", title=title, summary=summary, field="生物医药", trl=7)
        assert api.post("/api/v1/achievements", json=body).status_code == 201


def test_enterprise_posts_a_need_and_asks_for_a_suggestion(
    page: Any,
    live_server: LiveServer,
    api: httpx.Client,
    account: Callable[..., str],
    sign_in: Callable[[Any, str], None],
    screenshot_dir: Path,
) -> None:
    tag = uuid.uuid4().hex[:6]
    _supply(api, tag)
    sign_in(page, account("enterprise", org=f"津南医药物流有限公司-{tag}"))
    expect(page).to_have_url(re.compile(r"/my/needs$"))
    expect(page.get_by_role("heading", name="我的需求")).to_be_visible()
    page.get_by_role("link", name="发布需求").click()
    expect(page.locator("#min_trl-help")).to_contain_text("技术成熟度 1–9")  # each field explained

    # A form error is shown next to its field, in Chinese, and what was typed is kept.
    page.get_by_label("需求描述").fill("夏季末端配送时箱内温度常超过8℃，需保持2～8℃不少于72小时。")
    page.get_by_label("预算（万元）").fill("很多")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#title-error")).to_have_text("必填")
    expect(page.locator("#budget_wan-error")).to_have_text("请填写数字（万元）")
    expect(page.get_by_label("需求名称")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("需求描述")).to_have_value(re.compile("末端配送"))

    page.get_by_label("需求名称").fill("疫苗冷链配送途中温度超标")
    page.get_by_label("预算（万元）").fill("200")
    page.get_by_label("最低成熟度要求").fill("6")
    page.get_by_label("所属产业链").select_option("生物医药")
    page.get_by_label("所在地区").select_option("天津")
    page.get_by_label("许可").check()
    page.get_by_role("button", name="保存").click()
    expect(page).to_have_url(re.compile(r"/my/needs/\d+$"))
    need_id = int(page.url.rsplit("/", 1)[1])
    suggestions = page.locator("li.suggestion")
    expect(suggestions.first).to_be_visible()
    expect(suggestions.first.locator("p.sentence")).to_contain_text("语义相近")
    expect(suggestions.first.locator("ul.checks")).to_contain_text("成熟度")
    # Every suggestion carries its confidence band (强 / 可能 / 弱 from search/bands.py).
    expect(suggestions.first.locator(".badge")).to_have_text(re.compile("^(强匹配|可能匹配|弱匹配)$"))
    page.screenshot(path=str(screenshot_dir / "need.png"), full_page=True)

    suggestions.first.get_by_role("button", name="希望对接").click()
    expect(page.locator("#asked")).to_contain_text("已记录对接意向")
    expect(page.locator("li.suggestion").first).to_contain_text("已提交对接意向")
    pairings = api.get("/api/v1/matches", params={"need": need_id}).json()["items"]
    assert [p["status"] for p in pairings] == ["proposed"]  # visible to managers, no stage skipped

    page.goto(f"{live_server.url}/my/needs")
    expect(page.locator("table")).to_contain_text("疫苗冷链配送途中温度超标")


def test_institution_sees_a_confidential_need_without_the_enterprise(
    page: Any,
    live_server: LiveServer,
    api: httpx.Client,
    account: Callable[..., str],
    sign_in: Callable[[Any, str], None],
) -> None:
    tag = uuid.uuid4().hex[:6]
    secret = f"保密重工集团{tag}"
    need = demand(
        external_id=f"M-D-{tag}",
        title="大型铸件内部缩孔缺陷在线检测",
        description="大型球墨铸铁件内部缩孔缩松难以发现，需要在线超声或射线检测方法，检出率≥95%。",
        enterprise=secret,
        field="高端装备",
        confidential=True,
        min_trl=None,
        preferred_modes=[],
    )
    assert api.post("/api/v1/demands", json=need).status_code == 201
    sign_in(page, account("institution", org=f"北方理工大学-{tag}"))
    expect(page).to_have_url(re.compile(r"/my/achievements$"))
    page.get_by_role("link", name="登记成果").click()
    page.get_by_label("成果名称").fill("<script>window.__xss = 1</script>铸件缺陷相控阵超声在线检测")
    page.get_by_label("成果简介").fill("相控阵超声在线检测大型铸件内部缩孔缩松，检出率97%，已在铸造厂中试。")
    page.get_by_label("所属产业链").select_option("高端装备")
    page.get_by_label("技术成熟度").fill("6")
    page.get_by_label("状态").select_option("active")
    page.get_by_role("button", name="保存").click()
    expect(page).to_have_url(re.compile(r"/my/achievements/\d+$"))

    # A title holding <script> is shown as text, never run.
    expect(page.locator("#record-title")).to_have_text("<script>window.__xss = 1</script>铸件缺陷相控阵超声在线检测")
    assert page.evaluate("window.__xss") is None

    fitting = page.locator("li.suggestion").filter(has_text="大型铸件内部缩孔缺陷在线检测")
    expect(fitting).to_contain_text("（保密需求）")
    assert secret not in page.content()
    fitting.get_by_role("button", name="希望对接").click()
    expect(page.locator("#asked")).to_be_visible()
    assert secret not in page.content()

    page.goto(f"{live_server.url}/my/achievements")
    expect(page.locator("table")).to_contain_text("<script>window.__xss = 1</script>")
    assert page.evaluate("window.__xss") is None


def test_a_manager_filters_the_achievements_in_place_and_the_address_keeps_the_filters(
    page: Any,
    live_server: LiveServer,
    api: httpx.Client,
    account: Callable[..., str],
    sign_in: Callable[[Any, str], None],
    screenshot_dir: Path,
) -> None:
    tag = uuid.uuid4().hex[:6]
    for i, (field, region) in enumerate((("轻纺", "河北"), ("轻纺", "北京"), ("中医药", "河北"))):
        body = achievement(external_id=f"F-{tag}-{i}", title=f"筛选样例{tag}-{i}", field=field, region=region)
        assert api.post("/api/v1/achievements", json=body).status_code == 201
    sign_in(page, account("manager"))
    page.goto(f"{live_server.url}/my/achievements")
    page.evaluate("window.notReloaded = true")
    page.get_by_label("搜索（名称、内容或编号）").fill(f"筛选样例{tag}")
    page.get_by_label("搜索（名称、内容或编号）").press("Enter")
    expect(page.locator("#list-total")).to_have_text("共 3 条")
    page.get_by_label("所属产业链").select_option("轻纺")
    expect(page.locator("#list-total")).to_have_text("共 2 条")
    page.get_by_label("所在地区").select_option("河北")
    expect(page.locator("#list-total")).to_have_text("共 1 条")
    expect(page.locator("#results")).to_contain_text(f"F-{tag}-0")
    assert page.evaluate("window.notReloaded") is True  # htmx swapped the results; the page stayed
    expect(page).to_have_url(re.compile(r"field=%E8%BD%BB%E7%BA%BA.*region=%E6%B2%B3%E5%8C%97"))
    page.screenshot(path=str(screenshot_dir / "achievements-filtered.png"))
    page.reload()  # the address alone brings the same list back
    expect(page.locator("#list-total")).to_have_text("共 1 条")
    expect(page.get_by_label("所属产业链")).to_have_value("轻纺")
