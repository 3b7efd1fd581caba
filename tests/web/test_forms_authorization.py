"""Authorisation of the 揭榜挂帅 and 签约 / 落地 pages (both backends): every route of their routers × role, each
answering as the API does — 403 for what a role may never do, 404 for what it may not see, a form (422) or a
redirect for who may; the read routes give the same status as their API twins."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from matchmaker.models import Match
from matchmaker.web.pages import challenge_actions, contracts, proposals
from tests.challenge_factories import challenge, proposal
from tests.factories import achievement, demand
from tests.web.conftest import PASSWORD, csrf_of, web_sign_in

ROLES = ("admin", "manager", "ent_a", "uni_a", "uni_b", "expert", "expert_b")
PDF = b"%PDF-1.4\n%contract\n%%EOF\n"


@dataclass
class World:
    emails: dict[str, str]
    tokens: dict[str, str]
    ids: dict[str, int]


def _token(client: TestClient, email: str) -> str:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture
def world(client: TestClient, session: Session, web_account: Callable[..., str]) -> World:
    """A confidential challenge of ent_a, published, expert assigned, uni_a's proposal; a signed pairing of ent_a's
    need and uni_a's achievement with a contract and its file."""
    tag = uuid.uuid4().hex[:6]
    orgs = {
        "admin": None,
        "manager": None,
        "ent_a": f"津门发榜装备-{tag}",
        "uni_a": f"北方理工大学-{tag}",
        "uni_b": f"燕山大学-{tag}",
        "expert": "天津中心专家库",
        "expert_b": "外聘专家",
    }
    roles = {"ent_a": "enterprise", "uni_a": "institution", "uni_b": "institution", "expert_b": "expert"}
    emails = {name: web_account(roles.get(name, name), org) for name, org in orgs.items()}
    tokens = {name: _token(client, email) for name, email in emails.items()}

    def call(role: str, method: str, url: str, **kwargs: Any) -> Any:
        response = client.request(method, url, headers={"Authorization": f"Bearer {tokens[role]}"}, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    created = call("ent_a", "POST", "/api/v1/challenges", json=challenge(confidential=True, eligibility={}))
    url = f"/api/v1/challenges/{created['id']}"
    call("manager", "POST", f"{url}/moves", json={"to": "vetting"})
    expert_id = call("expert", "GET", "/api/v1/auth/me")["id"]
    call("manager", "POST", f"{url}/experts", json={"user_id": expert_id})
    call("expert", "PUT", f"{url}/experts/me", json={"vetting_ok": True})
    call("manager", "POST", f"{url}/moves", json={"to": "published"})
    indicators = [i["id"] for i in created["indicators"]]
    bid = call("uni_a", "POST", f"{url}/proposals", json=proposal(indicators))
    offer = call("uni_a", "POST", "/api/v1/achievements", json=achievement(external_id=f"A-{tag}"))
    need = call("ent_a", "POST", "/api/v1/demands", json=demand(external_id=f"D-{tag}"))
    match = Match(demand_id=need["id"], achievement_id=offer["id"], rank=1, score=0.9, status="signed")
    session.add(match)
    session.commit()
    body = {"contract_type": "技术许可", "title": "许可合同", "signed_on": "2026-06-01", "total_wan": 9, "tech_wan": 8}
    contract = call("manager", "POST", f"/api/v1/matches/{match.id}/contracts", json=body)
    files = {"file": ("contract.pdf", io.BytesIO(PDF))}
    call("manager", "PUT", f"/api/v1/contracts/{contract['id']}/file", files=files)
    ids = {
        "challenge_id": created["id"],
        "proposal_id": bid["id"],
        "match_id": match.id,
        "contract_id": contract["id"],
        "record_id": offer["id"],
    }
    return World(emails=emails, tokens=tokens, ids=ids)


# (method, page, API twin of a read, expected per role: admin, manager, ent_a (issuer, need's enterprise),
# uni_a (applicant, achievement's institution), uni_b, expert (assigned), expert_b (not assigned)); None: not run.
MATRIX: list[tuple[str, str, str | None, tuple[int | None, ...]]] = [
    ("GET", "/challenges/{challenge_id}/proposals/new", None, (403, 403, 403, 200, 200, 403, 403)),
    ("POST", "/challenges/{challenge_id}/proposals/new", None, (403, 403, 403, 422, 422, 403, 403)),
    ("GET", "/challenges/{challenge_id}/proposals/{proposal_id}/edit", None, (403, 403, 403, 200, 404, 403, 403)),
    ("POST", "/challenges/{challenge_id}/proposals/{proposal_id}/edit", None, (403, 403, 403, 422, 404, 403, 403)),
    ("POST", "/challenges/{challenge_id}/proposals/{proposal_id}/withdraw", None, (403, 403, 403, None, 404, 403, 403)),
    ("GET", "/challenges/{challenge_id}/proposal-row?group=partners&n=3", None, (403, 403, 403, 200, 200, 403, 403)),
    (
        "GET",
        "/challenges/{challenge_id}/proposals/{proposal_id}",
        "/api/v1/challenges/{challenge_id}/proposals/{proposal_id}",
        (200, 200, 403, 200, 404, 403, 404),
    ),
    # An expert sees (and scores) proposals only once review starts: before, 403 as the API answers.
    ("POST", "/challenges/{challenge_id}/proposals/{proposal_id}/review", None, (403, 403, 403, 403, 403, 403, 404)),
    ("POST", "/challenges/{challenge_id}/experts", None, (422, 422, 403, 403, 403, 403, 403)),
    ("POST", "/challenges/{challenge_id}/declaration", None, (403, 403, 403, 403, 403, 303, 404)),
    ("POST", "/challenges/{challenge_id}/moves", None, (422, 422, 403, 403, 403, 403, 403)),
    ("POST", "/challenges/{challenge_id}/rubric", None, (422, 422, 403, 403, 403, 403, 403)),
    ("POST", "/pairings/{match_id}/contracts", None, (422, 422, 403, 403, 403, 403, 403)),
    ("POST", "/contracts/{contract_id}/file", None, (422, 422, 403, 403, 403, 403, 403)),
    (
        "GET",
        "/contracts/{contract_id}/file",
        "/api/v1/contracts/{contract_id}/file",
        (200, 200, 200, 200, 404, 404, 404),
    ),
    ("POST", "/pairings/{match_id}/landing", None, (422, 422, 403, 403, 403, 403, 403)),
    (
        "GET",
        "/my/achievements/{record_id}/resources",
        "/api/v1/achievements/{record_id}/resources",
        (200, 200, 200, 200, 200, 200, 200),
    ),
    (
        "GET",
        "/pairings/{match_id}/resources",
        "/api/v1/matches/{match_id}/resources",
        (200, 200, 200, 200, 404, 404, 404),
    ),
]
ROUTERS = (proposals.router, challenge_actions.router, contracts.router)


def test_every_route_of_the_forms_is_in_the_matrix() -> None:
    routes = {
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    covered = {(method, path.split("?")[0]) for method, path, _, _ in MATRIX}
    assert routes == covered


@pytest.mark.parametrize(("method", "page", "twin", "expected"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_forms_authorization_matrix(
    web_client: TestClient,
    world: World,
    method: str,
    page: str,
    twin: str | None,
    expected: tuple[int | None, ...],
) -> None:
    path = page.format(**world.ids)
    for role, status in zip(ROLES, expected, strict=True):
        if status is None:
            continue
        browser = TestClient(web_client.app, base_url="http://testserver")  # type: ignore[arg-type]
        web_sign_in(browser, world.emails[role])
        if method == "GET":
            response = browser.get(path, follow_redirects=False)
        else:
            token = csrf_of(browser.get("/challenges").text)
            response = browser.post(path, data={"csrf_token": token}, follow_redirects=False)
        assert response.status_code == status, f"{role} {method} {path}: {response.status_code}"
        if twin is not None:
            api = web_client.get(twin.format(**world.ids), headers={"Authorization": f"Bearer {world.tokens[role]}"})
            assert api.status_code == status, f"{role} API twin of {path}: {api.status_code}"
        if role.startswith(("uni", "expert")) and path.startswith("/challenges"):
            assert "津门发榜装备" not in response.text, f"{role} saw the confidential issuer on {path}"
