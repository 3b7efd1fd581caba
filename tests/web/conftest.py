"""Browser tests: a live uvicorn server on a free 127.0.0.1 port over a fresh SQLite database, driven by Playwright
(from PyPI) through Debian's Chromium (/usr/bin/chromium; Playwright's own browser download is never used).

Screenshots go to $MATCHMAKER_SCREENSHOT_DIR (README's images: ``MATCHMAKER_SCREENSHOT_DIR=docs/screenshots``),
otherwise to a temporary folder.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from matchmaker.app import create_app
from matchmaker.config import Settings
from matchmaker.services.auth import create_user

CHROMIUM = os.environ.get("MATCHMAKER_TEST_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "correct-horse-battery"


@dataclass
class LiveServer:
    """The running app and its address."""

    app: FastAPI
    url: str

    def session(self) -> Any:
        """A session on the server's database (for setting up data the way the services do)."""
        return self.app.state.session_factory()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app served by uvicorn in a thread, on a port the OS picked."""
    data_dir = tmp_path_factory.mktemp("web-data")
    settings = Settings(
        data_dir=data_dir,
        load_sample_data=False,
        auto_migrate=True,
        embedder="use",
        sync_interval_s=0.2,
        admin_password=PASSWORD,
    )
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 180
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the live server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(app=app, url=f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright (per module: Playwright's sync API keeps an event loop in
    this thread while it runs, which tests that call asyncio.run must not meet)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) at 1280 px, in Beijing time."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def account(live_server: LiveServer) -> Callable[..., str]:
    """Create an account with a role (and organisation) on the live server; returns its email."""

    def make(role: str, org: str | None = None) -> str:
        email = f"{role}-{uuid.uuid4().hex[:8]}@web.example"
        with live_server.session() as session:
            create_user(session, email=email, role=role, org=org, password=PASSWORD)
            session.commit()
        return email

    return make


@pytest.fixture
def sign_in(live_server: LiveServer) -> Callable[[Any, str], None]:
    """Sign a browser page in through the form."""

    def do(page: Any, email: str) -> None:
        page.goto(f"{live_server.url}/login")
        page.get_by_label(re.compile("邮箱|Email")).fill(email)
        page.get_by_label(re.compile("密码|Password")).fill(PASSWORD)
        page.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()
        page.wait_for_load_state("networkidle")

    return do


@pytest.fixture(scope="session")
def api(live_server: LiveServer) -> Iterator[httpx.Client]:
    """The live server's API as the first admin (test data goes in the way clients put it)."""
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        login = client.post("/api/v1/auth/login", json={"email": "admin@localhost", "password": PASSWORD})
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        yield client


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests save their screenshots."""
    configured = os.environ.get("MATCHMAKER_SCREENSHOT_DIR")
    path = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def web_account(client: TestClient) -> Callable[..., str]:
    """Create an account with a password on the test app; returns its email."""

    def make(role: str, org: str | None = None) -> str:
        email = f"{role}-{uuid.uuid4().hex[:8]}@web.example"
        with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
            create_user(session, email=email, role=role, org=org, password=PASSWORD)
            session.commit()
        return email

    return make


@pytest.fixture
def web_client(client: TestClient) -> Iterator[TestClient]:
    """A client of the test app (SQLite and PostgreSQL) with its own cookie jar and no bearer token."""
    # Not entered as a context manager: the session-wide app is already started (its lifespan ran once).
    return TestClient(client.app, base_url="http://testserver")  # type: ignore[arg-type]


def csrf_of(html: str) -> str:
    """The CSRF token a page put in its forms."""
    found = re.search(r'name="csrf-token" content="([0-9a-f]+)"', html)
    assert found is not None, "the page carries no CSRF token"
    return found.group(1)


def web_sign_in(client: TestClient, email: str, password: str = PASSWORD) -> None:
    """Sign a TestClient in through the form."""
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303, response.text


@pytest.fixture
def member_api(live_server: LiveServer) -> Iterator[Callable[[str], httpx.Client]]:
    """The API as one of the test's accounts (signed in with its password)."""
    clients: list[httpx.Client] = []

    def make(email: str) -> httpx.Client:
        client = httpx.Client(base_url=live_server.url, timeout=60)
        token = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def follow_menu(page: Any, menu: str, link: str) -> None:
    """Open a menu of the top bar (templating.NAV_GROUPS) and follow one of its links."""
    page.locator(".topbar summary", has_text=menu).click()
    page.locator(".topbar .nav-menu").get_by_role("link", name=link, exact=True).click()
