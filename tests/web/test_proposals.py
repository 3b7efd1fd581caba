"""The proposal pages over the test app (both backends): an institution applies through the form, edits its proposal,
gets one more consortium row from the htmx fragment, reads the page in English, and withdraws; one proposal per
organisation is said beside the form."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from matchmaker.models import User
from matchmaker.models.challenges import Challenge
from tests.challenge_factories import challenge, proposal
from tests.factories import achievement
from tests.web.conftest import csrf_of, web_sign_in


def _published(
    client: TestClient, make_user: Callable[..., str], created: dict[str, object] | None = None
) -> dict[str, object]:
    """A challenge (a new one by default) published: its expert found it well posed."""
    if created is None:
        body = challenge(external_id=f"JB-P-{uuid.uuid4().hex[:6]}", eligibility={})  # no prior TRL asked
        created = client.post("/api/v1/challenges", json=body).json()
    url = f"/api/v1/challenges/{created['id']}"
    expert = make_user("expert", "天津中心专家库")
    expert_id = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {expert}"}).json()["id"]
    assert client.post(f"{url}/moves", json={"to": "vetting"}).status_code == 200
    assert client.post(f"{url}/experts", json={"user_id": expert_id}).status_code == 201
    opinion = client.put(f"{url}/experts/me", json={"vetting_ok": True}, headers={"Authorization": f"Bearer {expert}"})
    assert opinion.status_code == 204
    assert client.post(f"{url}/moves", json={"to": "published"}).status_code == 200
    return dict(created)


def _org(session: Session, email: str) -> int | None:
    return session.scalar(select(User.org_id).where(User.email == email))


def _form(c: dict[str, object], csrf: str, budget: str) -> dict[str, str]:
    indicators = c["indicators"]
    assert isinstance(indicators, list)
    data = {
        "csrf_token": csrf,
        "lead_kind": "高校",
        "lead_region": "北京",
        "partners[0].name": "燕山大学",
        "partners[0].kind": "高校",
        "partners[0].region": "河北",
        "team": "焊接检测团队12人",
        "approach": "相控阵超声与深度学习结合。",
        "budget_wan": budget,
        "schedule[0].month": "12",
        "schedule[0].milestone": "样机",
    }
    data |= {f"promises[{n}].value": "99" for n in range(len(indicators))}
    return data


def test_apply_edit_and_withdraw_through_the_form(
    client: TestClient, make_user: Callable[..., str], web_client: TestClient, web_account: Callable[..., str]
) -> None:
    c = _published(client, make_user)
    web_sign_in(web_client, web_account("institution", f"北方理工大学-{uuid.uuid4().hex[:6]}"))
    page = web_client.get(f"/challenges/{c['id']}")
    assert 'id="apply"' in page.text
    form = web_client.get(f"/challenges/{c['id']}/proposals/new")
    created = web_client.post(
        f"/challenges/{c['id']}/proposals/new", data=_form(c, csrf_of(form.text), "280"), follow_redirects=False
    )
    assert created.status_code == 303, created.text
    proposal_url = created.headers["location"]
    assert "燕山大学" in web_client.get(proposal_url).text
    assert 'id="apply"' not in web_client.get(f"/challenges/{c['id']}").text  # one proposal per organisation

    # A second application is refused beside the form, saying the organisation has applied.
    again = web_client.post(f"/challenges/{c['id']}/proposals/new", data=_form(c, csrf_of(form.text), "280"))
    assert again.status_code == 422
    assert re.search(r'id="form-errors"[^>]*>[^<]*已申报该榜单', again.text)

    # Edit: the form comes back filled in; the new budget is kept.
    edit = web_client.get(f"{proposal_url}/edit")
    assert 'value="280"' in edit.text
    assert 'value="燕山大学"' in edit.text
    saved = web_client.post(f"{proposal_url}/edit", data=_form(c, csrf_of(edit.text), "300"), follow_redirects=False)
    assert saved.status_code == 303
    assert "300.00" in web_client.get(proposal_url).text

    # One more consortium row: the fragment carries the next index and the button counting on (out of band).
    row = web_client.get(f"/challenges/{c['id']}/proposal-row", params={"group": "partners", "n": 3})
    assert 'name="partners[3].name"' in row.text
    assert 'hx-swap-oob="true"' in row.text
    assert "n=4" in row.text
    assert web_client.get(f"/challenges/{c['id']}/proposal-row", params={"group": "other"}).status_code == 404

    # In English, then withdrawn.
    token = csrf_of(web_client.get(proposal_url).text)
    web_client.post("/lang", data={"lang": "en", "csrf_token": token, "next": proposal_url})
    english = web_client.get(proposal_url).text
    assert "Promised values" in english
    assert "Withdraw" in english
    withdrawn = web_client.post(f"{proposal_url}/withdraw", data={"csrf_token": token}, follow_redirects=True)
    assert "Withdrawn" in withdrawn.text
    assert "/edit" not in withdrawn.text  # nothing left to edit


def test_the_issuer_reads_masked_proposals_only_after_the_deadline(
    client: TestClient,
    make_user: Callable[..., str],
    session: Session,
    web_client: TestClient,
    web_account: Callable[..., str],
) -> None:
    tag = uuid.uuid4().hex[:6]
    issuer = web_account("enterprise", f"渤海装备-{tag}")
    web_sign_in(web_client, issuer)
    body = challenge(external_id=f"JB-M-{tag}", eligibility={}, mask_applicants=True)
    created = client.post("/api/v1/challenges", json=body).json()
    session.execute(update(Challenge).where(Challenge.id == created["id"]).values(issuer_org_id=_org(session, issuer)))
    session.commit()
    c = _published(client, make_user, created)
    university = make_user("institution", f"北方理工大学-{tag}")
    headers = {"Authorization": f"Bearer {university}"}
    prior = achievement(external_id=f"M-{tag}", owner=f"北方理工大学-{tag}")
    offer = client.post("/api/v1/achievements", json=prior, headers=headers).json()["id"]
    bid = proposal([i["id"] for i in c["indicators"]], achievement_ids=[offer])  # type: ignore[union-attr]
    proposal_id = client.post(f"/api/v1/challenges/{c['id']}/proposals", json=bid, headers=headers).json()["id"]
    url = f"/challenges/{c['id']}/proposals/{proposal_id}"
    assert web_client.get(url).status_code == 403  # before the deadline
    session.execute(update(Challenge).where(Challenge.id == c["id"]).values(deadline=date.today() - timedelta(days=1)))
    session.commit()
    assert client.post(f"/api/v1/challenges/{c['id']}/moves", json={"to": "closed"}).status_code == 200
    page = web_client.get(url)
    assert page.status_code == 200
    assert "（匿名申报）" in page.text
    assert "北方理工大学" not in page.text  # neither the applicant nor its achievement's owner
