"""Item 15: owners list and revoke their tokens (login sessions too) and log out; admins deactivate accounts."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _login(client: TestClient, email: str, password: str) -> str:
    answer = client.post("/api/v1/auth/login", json={"email": email, "password": password}, headers={})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def test_login_sessions_are_listed_revoked_and_logged_out(client: TestClient, make_user: Callable[..., str]) -> None:
    personal = make_user("enterprise", "津南医药", password="long enough pw")
    email = client.get("/api/v1/auth/me", headers=_auth(personal)).json()["email"]
    laptop, phone = _login(client, email, "long enough pw"), _login(client, email, "long enough pw")
    listed = client.get("/api/v1/tokens", headers=_auth(laptop)).json()["items"]
    assert sorted(t["kind"] for t in listed) == ["personal", "session", "session"]
    assert [t["current"] for t in listed if t["kind"] == "session"].count(True) == 1
    phone_id = next(t["id"] for t in listed if t["kind"] == "session" and not t["current"])
    assert client.delete(f"/api/v1/tokens/{phone_id}", headers=_auth(laptop)).status_code == 204
    assert client.get("/api/v1/auth/me", headers=_auth(phone)).status_code == 401
    assert client.post("/api/v1/auth/logout", headers=_auth(laptop)).status_code == 204
    assert client.get("/api/v1/auth/me", headers=_auth(laptop)).status_code == 401
    remaining = client.get("/api/v1/tokens", headers=_auth(personal)).json()["items"]
    assert [t["kind"] for t in remaining] == ["personal"]


def test_an_admin_deactivates_and_reactivates_a_user(client: TestClient, make_user: Callable[..., str]) -> None:
    token = make_user("manager", "天津中心成果转化组", password="long enough pw")
    me = client.get("/api/v1/auth/me", headers=_auth(token)).json()
    session_token = _login(client, me["email"], "long enough pw")
    answer = client.patch(f"/api/v1/users/{me['id']}", json={"active": False})
    assert answer.status_code == 200
    assert answer.json()["active"] is False
    for raw in (token, session_token):
        assert client.get("/api/v1/auth/me", headers=_auth(raw)).status_code == 401
    failed = client.post("/api/v1/auth/login", json={"email": me["email"], "password": "long enough pw"}, headers={})
    assert failed.status_code == 401
    assert client.patch(f"/api/v1/users/{me['id']}", json={"active": True}).json()["active"] is True
    assert client.get("/api/v1/auth/me", headers=_auth(token)).status_code == 401  # revoked tokens stay revoked
    _login(client, me["email"], "long enough pw")
    admin_id = client.get("/api/v1/auth/me").json()["id"]
    own = client.patch(f"/api/v1/users/{admin_id}", json={"active": False})
    assert own.status_code == 409
