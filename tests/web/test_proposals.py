"""The proposal pages over the test app (both backends): an institution applies through the form, edits its proposal,
gets one more consortium row from the htmx fragment, reads the page in English, and withdraws; one proposal per
organisation is said beside the form."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.challenge_factories import challenge
from tests.web.conftest import csrf_of, web_sign_in


def _published(client: TestClient, make_user: Callable[..., str]) -> dict[str, object]:
    """A published challenge (its expert found it well posed)."""
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
