"""In Chromium, 揭榜挂帅 from draft to 验收 through the workspace's forms: a manager sends the draft to 专家论证 and
assigns two experts; an expert finds it well posed; the manager publishes it; a university applies as the lead of a
cross-region consortium (its mistakes shown beside the fields, in Chinese); after the deadline the manager opens
review; one expert scores the proposal, the other is kept out by the conflict of interest; the manager awards it with
the reason, signs, and accepts it against every indicator."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect
from sqlalchemy import update

from matchmaker.models.challenges import Challenge
from tests.challenge_factories import challenge
from tests.factories import achievement
from tests.web.conftest import LiveServer


def _move(page: Any, to: str, reason: str = "") -> None:
    page.locator("#to").select_option(to)
    if reason:
        page.locator("#reason").fill(reason)
    page.locator("#move").click()
    page.wait_for_load_state("networkidle")


def test_challenge_from_draft_to_accepted_in_the_workspace(
    page: Any,
    live_server: LiveServer,
    api: httpx.Client,
    account: Callable[..., str],
    sign_in: Callable[[Any, str], None],
    member_api: Callable[[str], httpx.Client],
    screenshot_dir: Path,
) -> None:
    tag = uuid.uuid4().hex[:6]
    university, partner = f"北方理工大学-{tag}", f"燕赵理工大学-{tag}"
    applicant = account("institution", university)
    prior = achievement(
        external_id=f"WF-{tag}",
        title=f"相控阵超声焊缝缺陷检测技术-{tag}",
        summary="铝合金厚板焊缝相控阵超声检测，缺陷检出率99%，单米检测时间20秒。",
        field="高端装备",
        region="北京",
        trl=6,
    )
    assert member_api(applicant).post("/api/v1/achievements", json=prior).status_code == 201
    title = f"焊缝缺陷在线检测榜单-{tag}"
    created = api.post("/api/v1/challenges", json=challenge(title=title, external_id=f"JB-F-{tag}"))
    assert created.status_code == 201, created.text
    url = f"{live_server.url}/challenges/{created.json()['id']}"
    expert, conflicted = account("expert", "天津中心专家库"), account("expert", partner)
    manager = account("manager")

    # The manager sends the draft to 专家论证 and assigns two experts.
    sign_in(page, manager)
    page.goto(url)
    _move(page, "vetting")
    expect(page.locator("#stage")).to_have_text("专家论证")
    for email in (expert, conflicted):
        page.locator("#user_id").select_option(page.locator("#user_id option", has_text=email).get_attribute("value"))
        page.locator("#assign-expert").click()
        page.wait_for_load_state("networkidle")
        expect(page.locator("#experts")).to_contain_text(email)
    # Publishing before any expert has vetted it is refused, saying why.
    _move(page, "published")
    expect(page.locator("#form-errors")).to_contain_text("张榜前需有专家论证意见")

    # An expert finds it well posed; the manager publishes it.
    page.context.clear_cookies()
    sign_in(page, expert)
    page.goto(url)
    page.get_by_label("榜单表述清晰、指标可考核").check()
    page.locator("#vetting_comment").fill("指标可量化，可考核。")
    page.locator("#declare").click()
    page.wait_for_load_state("networkidle")
    page.context.clear_cookies()
    sign_in(page, manager)
    page.goto(url)
    expect(page.locator("#experts")).to_contain_text("指标可量化")
    _move(page, "published")
    expect(page.locator("#stage")).to_have_text("张榜")

    # The university applies as the lead of a cross-region consortium; its mistakes come back beside the fields.
    page.context.clear_cookies()
    sign_in(page, applicant)
    page.goto(url)
    page.locator("#apply").click()
    expect(page.locator("h1")).to_have_text("揭榜申报")
    page.locator("#lead_region").select_option("北京")
    page.locator("#partners-0-name").fill(partner)
    page.locator("#partners-0-region").select_option("河北")
    page.locator("#add-partners").click()
    expect(page.locator("#partners-rows .member-row")).to_have_count(3)
    page.locator("#team").fill("焊接检测团队12人，教授3人；燕赵理工负责扫查装置。")
    page.locator("#approach").fill("相控阵超声与深度学习缺陷识别结合，产线在线部署。")
    page.get_by_label(prior["title"], exact=False).check()
    indicators = created.json()["indicators"]
    page.locator(f"#promise-{indicators[0]['id']}").fill("99")
    page.locator("#budget_wan").fill("二百八十")
    page.locator("#schedule-0-month").fill("24")
    page.locator("#schedule-0-milestone").fill("产线验收")
    page.locator("#submit-proposal").click()
    expect(page.locator("#form-errors")).to_be_visible()
    expect(page.locator("[id='budget_wan-error']")).to_have_text("请填写数字（万元）")
    expect(page.locator("[id='promises[1].value-error']")).to_have_text("必填")
    page.screenshot(path=str(screenshot_dir / "proposal-form-errors.png"), full_page=True)
    page.locator("#budget_wan").fill("280")
    page.locator(f"#promise-{indicators[1]['id']}").fill("20")
    page.locator("#submit-proposal").click()  # month 24 is past the 18-month research period: the service says so
    expect(page.locator("[id='schedule[0].month-error']")).to_contain_text("超出攻关周期 18 个月")
    page.locator("#schedule-0-month").fill("18")
    page.locator("#submit-proposal").click()
    expect(page.locator("#members")).to_contain_text(partner)
    expect(page.locator("#members")).to_contain_text("参与单位")
    expect(page.locator("#proposal-status")).to_have_text("已申报")
    page.screenshot(path=str(screenshot_dir / "proposal.png"), full_page=True)
    proposal_url = page.url

    # After the deadline the manager closes applications and opens review.
    with live_server.session() as session:
        session.execute(
            update(Challenge)
            .where(Challenge.id == created.json()["id"])
            .values(deadline=date.today() - timedelta(days=1))
        )
        session.commit()
    page.context.clear_cookies()
    sign_in(page, manager)
    page.goto(url)
    _move(page, "closed")
    _move(page, "reviewing")
    expect(page.locator("#stage")).to_have_text("评审")

    # One expert scores every criterion (a missing one is named); the other is kept out by the conflict.
    page.context.clear_cookies()
    sign_in(page, expert)
    page.goto(proposal_url)
    inputs = page.locator("#score-form input[type=number]")
    for n, value in enumerate(("90", "85", "80", "88")):
        inputs.nth(n).fill(value)
    page.locator("#comment").fill("方案可行，团队跨区域互补。")
    page.locator("#save-score").click()
    expect(page.locator("#score-form .field-error")).to_have_text("必填")
    inputs.nth(4).fill("75")
    page.locator("#save-score").click()
    expect(page.locator("#scored")).to_have_text("评分已保存。")
    expect(page.locator("#my-total")).to_contain_text("84.95")
    page.screenshot(path=str(screenshot_dir / "review-form.png"), full_page=True)
    page.context.clear_cookies()
    sign_in(page, conflicted)
    page.goto(proposal_url)
    expect(page.locator("#conflict")).to_contain_text("利益冲突")
    expect(page.locator("#score-form")).to_have_count(0)

    # The manager reads the ranking and the scores, awards with the reason, signs, and accepts.
    page.context.clear_cookies()
    sign_in(page, manager)
    page.goto(url)
    expect(page.locator("#ranking")).to_contain_text("84.95")
    expect(page.locator("#ranking")).to_contain_text("1/1")  # the conflicted expert is not eligible
    page.locator("#to").select_option("awarded")
    page.locator("#proposal_id").select_option(index=1)
    page.locator("#move").click()
    expect(page.locator("[id='reason-error']")).to_contain_text("请填写评审决定理由")
    page.locator("#reason").fill("综合得分第一，联合体覆盖全部考核指标。")
    page.locator("#move").click()
    expect(page.locator("#stage")).to_have_text("揭榜成功")
    expect(page.locator("#decision")).to_contain_text("综合得分第一")
    page.screenshot(path=str(screenshot_dir / "challenge-decision.png"), full_page=True)
    _move(page, "signed")
    page.locator("#to").select_option("accepted")
    page.locator(f"#measured-{indicators[0]['id']}").fill("99.2")
    page.locator(f"#measured-{indicators[1]['id']}").fill("21")
    for box in page.locator("#results input[type=checkbox]").all():
        box.check()
    page.locator("#move").click()
    expect(page.locator("#stage")).to_have_text("验收")
    expect(page.locator("#indicators")).to_contain_text("✓ 99.2")
    expect(page.locator("#challenge-history")).to_contain_text("揭榜成功 → 签约")
