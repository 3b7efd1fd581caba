"""Sign-in, sign-out, CSRF, cookies, the language switch, /docs and the vendored assets (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from matchmaker.web.i18n import catalogue
from tests.web.conftest import PASSWORD, csrf_of, web_sign_in

VENDOR = Path(__file__).resolve().parents[2] / "src" / "matchmaker" / "web" / "static" / "vendor"


def test_pages_need_sign_in_and_redirect_back(web_client: TestClient) -> None:
    response = web_client.get("/?from=mail", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/%3Ffrom%3Dmail"


def test_sign_in_sets_a_strict_session_cookie_and_sign_out_revokes_it(
    web_client: TestClient, web_account: Callable[..., str]
) -> None:
    email = web_account("manager")
    token = csrf_of(web_client.get("/login").text)
    response = web_client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token, "next": "/"}, follow_redirects=False
    )
    assert response.status_code == 303
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("mm_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here; over HTTPS the cookie is Secure (next test)
    raw = cookie.split(";")[0].split("=", 1)[1]
    # The cookie holds a login token of the API's own kind: the same account works with the API.
    assert web_client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {raw}"}).json()["email"] == email
    page = web_client.get("/")
    assert page.status_code in (200, 303)
    logout = web_client.post("/logout", data={"csrf_token": csrf_of(web_client.get("/login?next=/").text)})
    assert logout.status_code in (200, 303)
    assert web_client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    assert web_client.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_session_cookie_is_secure_over_https(client: TestClient, web_account: Callable[..., str]) -> None:
    email = web_account("manager")
    https = TestClient(client.app, base_url="https://testserver")  # type: ignore[arg-type]
    token = csrf_of(https.get("/login").text)
    response = https.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}, follow_redirects=False
    )
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("mm_session="))
    assert "Secure" in cookie
    assert "HttpOnly" in cookie


def test_wrong_password_is_refused_in_the_form(web_client: TestClient, web_account: Callable[..., str]) -> None:
    email = web_account("manager")
    token = csrf_of(web_client.get("/login").text)
    response = web_client.post("/login", data={"email": email, "password": "nope", "csrf_token": token})
    assert response.status_code == 401
    assert "邮箱或密码错误" in response.text
    assert f'value="{email}"' in response.text


def test_a_post_without_csrf_token_is_refused(web_client: TestClient, web_account: Callable[..., str]) -> None:
    email = web_account("manager")
    web_client.get("/login")
    no_token = web_client.post("/login", data={"email": email, "password": PASSWORD})
    assert no_token.status_code == 403
    assert "CSRF" in no_token.text
    web_sign_in(web_client, email)
    assert web_client.post("/logout").status_code == 403
    assert web_client.post("/logout", data={"csrf_token": "0" * 64}).status_code == 403
    assert web_client.post("/logout", headers={"X-CSRF-Token": "forged"}).status_code == 403
    # still signed in: nothing happened
    assert web_client.get("/", follow_redirects=False).headers["location"] != "/login"


def test_next_never_leaves_the_site(web_client: TestClient, web_account: Callable[..., str]) -> None:
    email = web_account("manager")
    token = csrf_of(web_client.get("/login").text)
    response = web_client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_language_switch(web_client: TestClient) -> None:
    page = web_client.get("/login")
    assert '<html lang="zh-CN"' in page.text
    assert "登录" in page.text
    switched = web_client.post("/lang", data={"lang": "en", "next": "/login", "csrf_token": csrf_of(page.text)})
    assert switched.status_code == 200
    assert '<html lang="en"' in switched.text
    assert "Sign in" in switched.text


def test_catalogues_have_the_same_keys() -> None:
    zh, en = catalogue("zh-CN"), catalogue("en")
    assert set(zh) == set(en)
    assert all(zh.values())
    assert all(en.values())
    assert re.search(r"[\u4e00-\u9fff]", zh["login.title"])


def test_docs_and_redoc_use_only_vendored_assets(web_client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        html = web_client.get(path).text
        urls = re.findall(r"""(?:src|href)=["']?([^"' >]+)""", html) + re.findall(r"url: '([^']+)'", html)
        assert urls
        assert not [u for u in urls if u.startswith(("http:", "https:", "//"))], (path, urls)
        for url in urls:
            if url.startswith("/static/"):
                assert web_client.get(url).status_code == 200, url
    assert "fonts.googleapis" not in web_client.get("/redoc").text


def test_every_vendored_package_is_listed_with_its_licence() -> None:
    listing = (VENDOR / "VENDOR.md").read_text(encoding="utf-8")
    for folder in sorted(p for p in VENDOR.iterdir() if p.is_dir()):
        assert f"`{folder.name}/`" in listing
        assert any(f.name.upper().startswith("LICENSE") for f in folder.iterdir()), folder
        row = next(line for line in listing.splitlines() if line.startswith(f"| `{folder.name}/`"))
        for name in re.findall(r"`([^`/]+\.(?:js|css|png))`", row):
            assert (folder / Path(name).name).exists(), name
