"""The unit of work of a request: authentication, the work and the commit (or rollback) in one worker-thread call."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.api.deps import in_unit_of_work
from matchmaker.errors import Unauthorized
from matchmaker.models import ApiToken, Organisation
from matchmaker.services.access import Principal
from matchmaker.services.auth import token_hash


def _run(app_client: TestClient, raw: str | None, work: Callable[[Session, Principal], Any]) -> Any:
    request: Any = SimpleNamespace(app=app_client.app)
    credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=raw) if raw else None
    return asyncio.run(in_unit_of_work(request, credentials, work))


def _org_exists(app_client: TestClient, name: str) -> bool:
    with app_client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        return session.scalar(select(Organisation.id).where(Organisation.name == name)) is not None


def test_the_work_sees_the_caller_and_its_writes_are_committed(
    app_client: TestClient, make_user: Callable[..., str]
) -> None:
    raw = make_user("manager")
    name = f"org-{uuid.uuid4().hex[:8]}"

    def work(session: Session, principal: Principal) -> tuple[str, Any]:
        session.add(Organisation(name=name, kind="enterprise"))
        return principal.role, session.info["actor_id"]

    role, actor = _run(app_client, raw, work)
    assert role == "manager"
    with app_client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        token = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(raw)))
        assert token is not None
        assert actor == token.user_id
        assert token.last_used_at is not None  # authentication's own write is part of the same unit of work
    assert _org_exists(app_client, name)


def test_a_failing_unit_of_work_writes_nothing_and_returns_its_connection(
    app_client: TestClient, make_user: Callable[..., str]
) -> None:
    raw = make_user("manager")
    name = f"org-{uuid.uuid4().hex[:8]}"
    pool = app_client.app.state.engine.pool  # type: ignore[attr-defined]

    def work(session: Session, _principal: Principal) -> None:
        session.add(Organisation(name=name, kind="enterprise"))
        session.flush()
        raise ValueError("the work failed half-way")

    with pytest.raises(ValueError, match="half-way"):
        _run(app_client, raw, work)
    assert not _org_exists(app_client, name)
    assert pool.checkedout() == 0


def test_no_work_runs_without_a_valid_token(app_client: TestClient) -> None:
    ran: list[bool] = []

    def work(_session: Session, _principal: Principal) -> None:
        ran.append(True)

    for raw in (None, "mm_not-a-token"):
        with pytest.raises(Unauthorized):
            _run(app_client, raw, work)
    assert ran == []


@pytest.mark.parametrize("url", ["/api/v1/demands/1/matches", "/api/v1/achievements/1/matches"])
def test_the_matching_routes_answer_401_without_a_valid_token(client: TestClient, url: str) -> None:
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer mm_not-a-token"}):
        answer = client.get(url, headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error"] == "unauthorized"
