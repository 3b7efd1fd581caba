"""The pages over the test app (SQLite and PostgreSQL): CSRF on every write, role limits, the queue's filters and
saved views, bulk changes all or nothing, the pairing page's workflow errors, 希望对接 and masking."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.errors import Conflict, NotFound
from matchmaker.models import Match, MatchEvent, User
from matchmaker.models.web import MatchInterest
from matchmaker.services import review
from matchmaker.services.access import Principal
from matchmaker.services.interest import express_interest
from matchmaker.web.deps import WebRoute
from matchmaker.web.pages import PAGE_ROUTERS
from tests.factories import achievement, demand
from tests.web.conftest import csrf_of, web_sign_in


@pytest.fixture
def pairings(client: TestClient, session: Session) -> list[int]:
    """Three pairings of one need: 北京 and 河北 achievements for a 天津 need, scores 0.95, 0.75, 0.55."""
    need = client.post("/api/v1/demands", json=demand(region="天津", field="新材料")).json()["id"]
    spread = (("北京", 0.95), ("河北", 0.75), ("北京", 0.55))
    offers = [
        client.post("/api/v1/achievements", json=achievement(external_id=f"P-{i}", region=region)).json()["id"]
        for i, (region, _) in enumerate(spread)
    ]
    matches = []
    for i, (offer, (_, score)) in enumerate(zip(offers, spread, strict=True)):
        match = Match(
            demand_id=need,
            achievement_id=offer,
            rank=i + 1,
            score=score,
            status="proposed",
            explanation={"sentence": "语义相近", "checks": [], "components": {"semantic": score}},
        )
        session.add(match)
        matches.append(match)
    session.commit()
    return [m.id for m in matches]


def _manager(session: Session, email: str) -> Principal:
    user = session.scalar(select(User).where(User.email == email))
    assert user is not None
    return Principal(user_id=user.id, role=user.role, org_id=user.org_id, email=email)


def test_every_page_write_refuses_a_request_without_csrf_token(
    web_client: TestClient, web_account: Callable[..., str]
) -> None:
    web_sign_in(web_client, web_account("manager"))
    writes = [
        r.path.replace("{record_id}", "1").replace("{match_id}", "1").replace("{view_id}", "1")
        for router in PAGE_ROUTERS
        for r in router.routes
        if isinstance(r, WebRoute) and "POST" in r.methods
    ]
    assert len(writes) >= 12
    for path in writes:
        response = web_client.post(path, data={"anything": "1"})
        assert response.status_code == 403, path
        assert "CSRF" in response.text


def test_roles_see_only_their_pages(web_client: TestClient, web_account: Callable[..., str]) -> None:
    web_sign_in(web_client, web_account("enterprise", org="页面测试企业"))
    assert web_client.get("/", follow_redirects=False).headers["location"] == "/my/needs"
    assert web_client.get("/my/needs").status_code == 200
    for path in ("/queue", "/runs", "/dashboard", "/pairings/1", "/my/achievements"):
        assert web_client.get(path).status_code == 403, path


def test_queue_filters_sort_pages_and_views(
    web_client: TestClient, web_account: Callable[..., str], pairings: list[int], session: Session
) -> None:
    email = web_account("manager")
    web_sign_in(web_client, email)
    page = web_client.get("/queue", params={"src": "北京", "dst": "天津", "sort": "-score"}).text
    assert "共 2 条配对" in page
    assert page.index(f'href="/pairings/{pairings[0]}"') < page.index(f'href="/pairings/{pairings[2]}"')
    assert "共 1 条配对" in web_client.get("/queue", params={"band": 2}).text  # 0.7–0.9
    assert "共 3 条配对" in web_client.get("/queue", params={"status": "open", "since": 7}).text
    board = web_client.get("/queue", params={"layout": "board"}).text
    assert board.count('class="card"') == 3
    token = csrf_of(page)
    web_client.post(
        "/queue/views", data={"name": "北京→天津", "query": "src=北京&dst=天津&page=3", "csrf_token": token}
    )
    (view,) = review.list_views(session, _manager(session, email))
    assert view.query == "src=%E5%8C%97%E4%BA%AC&dst=%E5%A4%A9%E6%B4%A5"  # the page is not part of a view
    assert "北京→天津" in web_client.get("/queue").text
    other = _manager(session, web_account("manager"))
    with pytest.raises(NotFound):
        review.delete_view(session, other, view.id)


def test_the_queue_filters_by_the_needs_field_and_follows_views_saved_as_chain(
    web_client: TestClient, web_account: Callable[..., str], pairings: list[int]
) -> None:
    email = web_account("manager")
    web_sign_in(web_client, email)
    assert "共 3 条配对" in web_client.get("/queue", params={"field": "新材料"}).text  # the need's field, as in the API
    assert "共 0 条配对" in web_client.get("/queue", params={"field": "信创"}).text
    # a view or a bookmark from before the rename keeps its filter
    old = web_client.get("/queue", params={"chain": "信创", "dst": "天津"}, follow_redirects=False)
    assert old.status_code == 303
    assert old.headers["location"] == "/queue?field=%E4%BF%A1%E5%88%9B&dst=%E5%A4%A9%E6%B4%A5"


def test_bulk_changes_are_all_or_nothing(
    web_client: TestClient, web_account: Callable[..., str], pairings: list[int], session: Session
) -> None:
    web_sign_in(web_client, web_account("manager"))
    token = csrf_of(web_client.get("/queue").text)
    moved = web_client.post(
        "/queue/bulk",
        data={"action": "move", "status": "shortlisted", "ids": pairings[:2], "csrf_token": token},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    refused = web_client.post(
        "/queue/bulk", data={"action": "move", "status": "contacted", "ids": pairings, "csrf_token": token}
    )
    assert refused.status_code == 409
    assert f"#{pairings[2]}：推荐 → 允许：" in refused.text
    session.expire_all()
    statuses = [session.get(Match, i).status for i in pairings]  # type: ignore[union-attr]
    assert statuses == ["shortlisted", "shortlisted", "proposed"]  # nothing half-applied
    no_reason = web_client.post("/queue/bulk", data={"action": "reject", "ids": pairings, "csrf_token": token})
    assert no_reason.status_code == 422
    rejected = web_client.post(
        "/queue/bulk",
        data={
            "action": "reject",
            "reject_reason": "immature",
            "note": "成熟度不足",
            "ids": [pairings[2]],
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert rejected.status_code == 303
    events = session.scalars(select(MatchEvent).where(MatchEvent.match_id == pairings[2])).all()
    assert [(e.to_status, e.reason, e.note) for e in events] == [("rejected", "immature", "成熟度不足")]


def test_pairing_page_shows_an_illegal_move_with_the_allowed_ones(
    web_client: TestClient, web_account: Callable[..., str], pairings: list[int]
) -> None:
    web_sign_in(web_client, web_account("manager"))
    page = web_client.get(f"/pairings/{pairings[0]}")
    assert page.status_code == 200
    response = web_client.post(f"/pairings/{pairings[0]}", data={"status": "landed", "csrf_token": csrf_of(page.text)})
    assert response.status_code == 409
    assert "允许的操作" in response.text
    assert "初筛" in response.text


def test_interest_is_recorded_once_and_only_on_visible_suggestions(
    client: TestClient, session: Session, make_user: Callable[..., str]
) -> None:
    ent_token = make_user("enterprise", org="兴趣测试企业")
    inst_token = make_user("institution", org="兴趣测试大学")
    need = client.post(
        "/api/v1/demands", json=demand(enterprise="兴趣测试企业", confidential=True, min_trl=None, preferred_modes=[]),
        headers={"Authorization": f"Bearer {ent_token}"},
    ).json()  # fmt: skip
    offer = client.post(
        "/api/v1/achievements", json=achievement(), headers={"Authorization": f"Bearer {inst_token}"}
    ).json()
    search = client.app.state.search  # type: ignore[attr-defined]
    ent = session.scalar(select(User).where(User.org.has(name="兴趣测试企业"))) if hasattr(User, "org") else None
    principals = {
        role: Principal(user_id=u.id, role=u.role, org_id=u.org_id)
        for role, u in (
            (r, session.scalar(select(User).where(User.role == r).order_by(User.id.desc())))
            for r in ("enterprise", "institution")
        )
        if u is not None
    }
    assert ent is None or ent.role == "enterprise"
    match = express_interest(session, search, principals["enterprise"], need["id"], offer["id"])
    express_interest(session, search, principals["enterprise"], need["id"], offer["id"])  # twice: recorded once
    express_interest(session, search, principals["institution"], need["id"], offer["id"])
    session.commit()
    sides = session.scalars(select(MatchInterest.side).where(MatchInterest.match_id == match.id)).all()
    assert sorted(sides) == ["enterprise", "institution"]
    assert match.status == "proposed"
    with pytest.raises(NotFound):  # another organisation's need: as if it did not exist
        express_interest(session, search, principals["institution"], need["id"] + 999, offer["id"])
    session.get(Match, match.id).status = "rejected"  # type: ignore[union-attr]
    session.flush()
    with pytest.raises(Conflict):
        express_interest(session, search, principals["enterprise"], need["id"], offer["id"])


def test_import_dry_run_report_then_commit(
    web_client: TestClient, web_account: Callable[..., str], session: Session
) -> None:
    web_sign_in(web_client, web_account("manager"))
    token = csrf_of(web_client.get("/imports").text)
    csv_text = (
        "成果编号,成果名称,成果简介,所属产业链,技术成熟度\n"
        "IMP-1,高温合金涡轮叶片精密铸造,单晶叶片合格率提升至85%,航空航天,7\n"
        "IMP-2,,缺少名称的一行,航空航天,12\n"
    )
    files = {"file": ("成果清单.csv", csv_text.encode("utf-8"), "text/csv")}
    checked = web_client.post("/imports/check", data={"kind": "achievements", "csrf_token": token}, files=files)
    assert checked.status_code == 200
    assert "尚未写入" in checked.text
    assert "<td>3</td><td>技术成熟度</td>" in checked.text  # row, the column as the sheet names it, the problem
    from matchmaker.models import Achievement

    assert session.scalar(select(Achievement.id).where(Achievement.external_id == "IMP-1")) is None
    upload = checked.text.split('name="token" value="')[1].split('"')[0]
    committed = web_client.post("/imports/commit", data={"token": upload, "csrf_token": token})
    assert committed.status_code == 200
    assert "已导入" in committed.text
    assert "成果清单.csv" in committed.text  # in the past imports
    session.expire_all()
    assert session.scalar(select(Achievement.id).where(Achievement.external_id == "IMP-1")) is not None
    again = web_client.post("/imports/commit", data={"token": upload, "csrf_token": token})
    assert again.status_code == 404


def test_suggestions_carry_their_band_and_say_when_none_is_good(
    client: TestClient, web_client: TestClient, web_account: Callable[..., str]
) -> None:
    client.post(
        "/api/v1/achievements",
        json=achievement(external_id="BAND-A", title="钠离子电池正极材料", field="新能源", keywords=["钠离子电池"]),
    )
    need = client.post(
        "/api/v1/demands",
        json=demand(
            external_id="BAND-D",
            title="中药饮片炮制火候难以控制",
            description="中药饮片炒制时火候全凭老师傅经验，批次间色泽和有效成分差异大。",
            field="中医药",
            keywords=["饮片炮制"],
            min_trl=None,
            preferred_modes=[],
        ),
    ).json()
    web_sign_in(web_client, web_account("manager"))
    page = web_client.get(f"/my/needs/{need['id']}").text
    assert "弱匹配" in page  # the only achievement is unrelated: its badge says so
    assert "暂无合适成果" in page  # and the page says no suggestion is good enough
