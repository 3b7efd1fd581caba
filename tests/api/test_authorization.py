"""Authorization matrix: every route × role × own / other / confidential record, and confidentiality leaks."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from matchmaker.models import ApiToken, Match
from tests.factories import achievement, demand

SECRET_ENTERPRISE = "津门保密装备有限公司"
ROLES = ("admin", "manager", "ent_a", "ent_b", "uni_a", "uni_b")


@dataclass
class World:
    tokens: dict[str, str]
    ids: dict[str, int]


@pytest.fixture
def world(client: TestClient, make_user: Callable[..., str], session: Session) -> World:
    suffix = uuid.uuid4().hex[:6]
    orgs = {
        "ent_a": SECRET_ENTERPRISE,
        "ent_b": f"渤海化工-{suffix}",
        "uni_a": f"北方理工大学-{suffix}",
        "uni_b": f"燕山大学-{suffix}",
    }
    tokens = {
        "admin": client.headers["Authorization"].removeprefix("Bearer "),
        "manager": make_user("manager", "天津中心成果转化组"),
        "ent_a": make_user("enterprise", orgs["ent_a"]),
        "ent_b": make_user("enterprise", orgs["ent_b"]),
        "uni_a": make_user("institution", orgs["uni_a"]),
        "uni_b": make_user("institution", orgs["uni_b"]),
    }

    def post(role: str, url: str, body: dict[str, Any]) -> int:
        response = client.post(url, json=body, headers=_auth(tokens[role]))
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    cold = {
        "title": "相变蓄冷保温箱温控技术",
        "summary": "相变蓄冷材料使保温箱在35℃环境保持2～8℃达120小时。",
        "field": "生物医药",
        "keywords": ["冷链"],
        "trl": 7,
        "transfer_modes": ["许可"],
    }
    ids = {
        "ach_a": post("uni_a", "/api/v1/achievements", achievement(external_id=f"A-{suffix}", **cold)),
        "ach_a_draft": post(
            "uni_a",
            "/api/v1/achievements",
            achievement(external_id=f"AD-{suffix}", status="draft", title="未公开的草稿成果"),
        ),
        "ach_b": post("uni_b", "/api/v1/achievements", achievement(external_id=f"B-{suffix}", title="钠离子电池正极")),
        "dem_a": post(
            "ent_a",
            "/api/v1/demands",
            demand(
                external_id=f"DA-{suffix}",
                confidential=True,
                enterprise=SECRET_ENTERPRISE,
                field="生物医药",
                title="疫苗配送箱内温度超标",
                description="夏季配送时保温箱内温度超过8℃，需保持2～8℃。",
            ),
        ),
        "dem_b": post("ent_b", "/api/v1/demands", demand(external_id=f"DB-{suffix}", enterprise=orgs["ent_b"])),
    }
    match = Match(
        demand_id=ids["dem_a"],
        achievement_id=ids["ach_a"],
        rank=1,
        score=0.9,
        status="proposed",
        explanation={"sentence": "语义相近(0.90)", "checks": []},
    )
    session.add(match)
    session.commit()
    ids["match"] = match.id
    ids["user_manager"] = client.get("/api/v1/auth/me", headers=_auth(tokens["manager"])).json()["id"]
    return World(tokens=tokens, ids=ids)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# (method, path, body, expected status per role in ROLES order)
MATRIX: list[tuple[str, str, dict[str, Any] | None, tuple[int, ...]]] = [
    ("GET", "/api/v1/achievements/{ach_a}", None, (200, 200, 200, 200, 200, 200)),
    ("GET", "/api/v1/achievements/{ach_a_draft}", None, (200, 200, 404, 404, 200, 404)),
    ("PATCH", "/api/v1/achievements/{ach_a}", {"trl": 8}, (200, 200, 403, 403, 200, 404)),
    ("PATCH", "/api/v1/achievements/{ach_a_draft}", {"trl": 3}, (200, 200, 403, 403, 200, 404)),
    ("GET", "/api/v1/demands/{dem_a}", None, (200, 200, 200, 404, 200, 200)),
    ("GET", "/api/v1/demands/{dem_b}", None, (200, 200, 404, 200, 200, 200)),
    ("PATCH", "/api/v1/demands/{dem_a}", {"budget_wan": 220}, (200, 200, 200, 404, 403, 403)),
    ("DELETE", "/api/v1/demands/{dem_b}", None, (None, None, 404, None, 403, 403)),
    ("DELETE", "/api/v1/achievements/{ach_b}", None, (None, None, 403, 403, 404, None)),
    ("POST", "/api/v1/achievements", "new_achievement", (201, 201, 403, 403, 201, 201)),
    ("POST", "/api/v1/demands", "new_demand", (201, 201, 201, 201, 403, 403)),
    ("GET", "/api/v1/demands/{dem_a}/matches", None, (200, 200, 200, 404, 403, 403)),
    ("GET", "/api/v1/achievements/{ach_a}/matches", None, (200, 200, 403, 403, 200, 404)),
    ("GET", "/api/v1/achievements/{ach_a_draft}/matches", None, (200, 200, 403, 403, 200, 404)),
    ("POST", "/api/v1/search", {"text": "冷链温控", "target": "achievements"}, (200, 200, 200, 200, 200, 200)),
    ("POST", "/api/v1/search", {"text": "冷链温控", "target": "demands"}, (200, 200, 403, 403, 200, 200)),
    ("POST", "/api/v1/matching-runs", {"k": 2}, (202, 202, 403, 403, 403, 403)),
    ("GET", "/api/v1/matches", None, (200, 200, 200, 200, 200, 200)),
    ("GET", "/api/v1/matches/{match}", None, (200, 200, 200, 404, 200, 404)),
    ("GET", "/api/v1/matches/{match}/history", None, (200, 200, 200, 404, 200, 404)),
    ("PATCH", "/api/v1/matches/{match}", {"note": "已联系"}, (200, 200, 403, 403, 403, 403)),
    ("GET", "/api/v1/stats", None, (200, 200, 403, 403, 403, 403)),
    ("GET", "/api/v1/users", None, (200, 403, 403, 403, 403, 403)),
    ("POST", "/api/v1/users", "new_user", (201, 403, 403, 403, 403, 403)),
    ("GET", "/api/v1/auth/me", None, (200, 200, 200, 200, 200, 200)),
    ("PATCH", "/api/v1/users/{user_manager}", {"active": True}, (200, 403, 403, 403, 403, 403)),
    ("GET", "/api/v1/tokens", None, (200, 200, 200, 200, 200, 200)),
    ("POST", "/api/v1/auth/logout", None, (None, 204, 204, 204, 204, 204)),  # not the admin: the suite's token
    ("POST", "/api/v1/tokens", {"name": "script"}, (201, 201, 201, 201, 201, 201)),
    ("GET", "/api/v1/achievements/export?format=json", None, (200, 200, 200, 200, 200, 200)),
    ("GET", "/api/v1/demands/export?format=csv", None, (200, 200, 200, 200, 200, 200)),
    ("POST", "/api/v1/imports/achievements", "upload", (200, 200, 403, 403, 200, 200)),
    ("POST", "/api/v1/imports/demands", "upload", (200, 200, 200, 200, 403, 403)),
]


def _body(kind: str | dict[str, Any] | None) -> dict[str, Any] | None:
    unique = uuid.uuid4().hex[:8]
    if kind == "new_achievement":
        return achievement(external_id=f"N-{unique}")
    if kind == "new_demand":
        return demand(external_id=f"ND-{unique}")
    if kind == "new_user":
        return {"email": f"u-{unique}@test.example", "role": "manager", "password": "long enough pw"}
    return kind if isinstance(kind, dict) else None


def _call(client: TestClient, token: str, method: str, path: str, body: Any) -> Any:
    headers = _auth(token)
    if body == "upload":
        body_column = "description" if path.endswith("demands") else "summary"
        csv = f"title,{body_column},external_id\n上传的记录,简介,U-{uuid.uuid4().hex[:8]}\n".encode()
        return client.post(path, files={"file": ("x.csv", io.BytesIO(csv))}, headers=headers)
    return client.request(method, path, json=_body(body), headers=headers)


@pytest.mark.parametrize(("method", "template", "body", "expected"), MATRIX, ids=[f"{m} {t}" for m, t, _, _ in MATRIX])
def test_authorization_matrix(
    client: TestClient, world: World, method: str, template: str, body: Any, expected: tuple[int | None, ...]
) -> None:
    path = template.format(**world.ids)
    for role, status in zip(ROLES, expected, strict=True):
        if status is None:
            continue
        response = _call(client, world.tokens[role], method, path, body)
        assert response.status_code == status, f"{role} {method} {path}: {response.status_code} {response.text}"
        if status in (401, 403, 404):
            assert set(response.json()) >= {"error", "detail", "fields"}
        # The confidential need's enterprise never reaches an institution, whatever the route.
        if role.startswith("uni"):
            assert SECRET_ENTERPRISE not in response.text, f"{role} {method} {path} leaked the enterprise"
        # An enterprise never sees the other enterprise's records.
        if role == "ent_b":
            assert "疫苗配送箱内温度超标" not in response.text


def test_owners_can_delete_their_own_records(client: TestClient, world: World) -> None:
    assert (
        client.delete(f"/api/v1/demands/{world.ids['dem_b']}", headers=_auth(world.tokens["ent_b"])).status_code == 204
    )
    response = client.delete(f"/api/v1/achievements/{world.ids['ach_b']}", headers=_auth(world.tokens["uni_b"]))
    assert response.status_code == 204


def test_lists_are_scoped(client: TestClient, world: World) -> None:
    def ext_ids(role: str, url: str) -> set[str]:
        items = client.get(url, headers=_auth(world.tokens[role])).json()["items"]
        return {i["external_id"] for i in items}

    ent_a = ext_ids("ent_a", "/api/v1/demands")
    assert len(ent_a) == 1
    assert next(iter(ent_a)).startswith("DA-")
    assert all(e.startswith("DB-") for e in ext_ids("ent_b", "/api/v1/demands"))
    assert not any(e.startswith("AD-") for e in ext_ids("uni_b", "/api/v1/achievements"))
    assert any(e.startswith("AD-") for e in ext_ids("uni_a", "/api/v1/achievements"))
    assert not any(e.startswith("AD-") for e in ext_ids("ent_a", "/api/v1/achievements"))
    assert client.get("/api/v1/matches", headers=_auth(world.tokens["ent_b"])).json()["total"] == 0
    assert client.get("/api/v1/matches", headers=_auth(world.tokens["uni_b"])).json()["total"] == 0
    assert client.get("/api/v1/matches", headers=_auth(world.tokens["ent_a"])).json()["total"] == 1


def test_confidential_need_is_hidden_until_disclosed_for_that_pairing(client: TestClient, world: World) -> None:
    uni_a, uni_b = _auth(world.tokens["uni_a"]), _auth(world.tokens["uni_b"])
    need = client.get(f"/api/v1/demands/{world.ids['dem_a']}", headers=uni_a).json()
    assert need["enterprise"] is None
    assert need["enterprise_hidden"] is True
    assert need["description"].startswith("夏季配送")  # the text itself is shown
    pairing = client.get(f"/api/v1/matches/{world.ids['match']}", headers=uni_a).json()
    assert pairing["demand"]["enterprise"] is None
    # The enterprise and staff see it.
    assert (
        client.get(f"/api/v1/demands/{world.ids['dem_a']}", headers=_auth(world.tokens["ent_a"])).json()["enterprise"]
        == SECRET_ENTERPRISE
    )
    # A manager discloses it for this one pairing: the institution of that pairing now sees it, the other does not.
    manager = _auth(world.tokens["manager"])
    assert (
        client.patch(f"/api/v1/matches/{world.ids['match']}", json={"disclosed": True}, headers=manager).status_code
        == 200
    )
    assert client.get(f"/api/v1/demands/{world.ids['dem_a']}", headers=uni_a).json()["enterprise"] == SECRET_ENTERPRISE
    assert SECRET_ENTERPRISE in client.get(f"/api/v1/matches/{world.ids['match']}", headers=uni_a).text
    assert SECRET_ENTERPRISE not in client.get(f"/api/v1/demands/{world.ids['dem_a']}", headers=uni_b).text
    assert SECRET_ENTERPRISE not in client.get("/api/v1/demands/export?format=json", headers=uni_b).text


def test_tokens_missing_wrong_expired_and_revoked_answer_401(
    client: TestClient, world: World, session: Session
) -> None:
    url = "/api/v1/achievements"
    assert client.get("/healthz", headers={"Authorization": ""}).status_code == 200
    no_token = client.get(url, headers={"Authorization": ""})
    assert no_token.status_code == 401
    assert no_token.json()["error"] == "unauthorized"
    assert client.get(url, headers=_auth("mm_not-a-token")).status_code == 401
    created = client.post("/api/v1/tokens", json={"name": "short"}, headers=_auth(world.tokens["manager"])).json()
    assert client.get(url, headers=_auth(created["token"])).status_code == 200
    session.execute(
        update(ApiToken).where(ApiToken.id == created["id"]).values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
    )
    session.commit()
    expired = client.get(url, headers=_auth(created["token"]))
    assert (expired.status_code, expired.json()["detail"]) == (401, "the token has expired")
    another = client.post("/api/v1/tokens", json={"name": "revoke me"}, headers=_auth(world.tokens["manager"])).json()
    assert client.delete(f"/api/v1/tokens/{another['id']}", headers=_auth(world.tokens["manager"])).status_code == 204
    assert client.get(url, headers=_auth(another["token"])).status_code == 401
    # Someone else's token cannot be revoked (and its existence is not confirmed).
    assert client.delete(f"/api/v1/tokens/{created['id']}", headers=_auth(world.tokens["uni_a"])).status_code == 404
    listed = client.get("/api/v1/tokens", headers=_auth(world.tokens["manager"])).json()["items"]
    assert all("token" not in t for t in listed)
    stored = session.scalar(select(ApiToken.token_hash).where(ApiToken.id == another["id"]))
    assert stored is not None
    assert another["token"] not in stored


def test_login_with_password(client: TestClient, make_user: Callable[..., str]) -> None:
    token = make_user("manager", None, password="a long passphrase")
    me = client.get("/api/v1/auth/me", headers=_auth(token)).json()
    login = client.post(
        "/api/v1/auth/login",
        json={"email": me["email"], "password": "a long passphrase"},
        headers={"Authorization": ""},
    )
    assert login.status_code == 200
    assert client.get("/api/v1/auth/me", headers=_auth(login.json()["access_token"])).json()["id"] == me["id"]
    wrong = client.post(
        "/api/v1/auth/login", json={"email": me["email"], "password": "nope"}, headers={"Authorization": ""}
    )
    assert (wrong.status_code, wrong.json()["detail"]) == (401, "wrong email or password")
