"""Dependencies shared by the routers, as annotated aliases: the unit of work (:data:`SessionDep`,
:func:`in_unit_of_work`), the caller (:data:`PrincipalDep`) and the access checks (:data:`AdminDep`,
:data:`StaffDep`)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, TypeVar

import anyio
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from matchmaker.config import Settings
from matchmaker.db import unit_of_work
from matchmaker.services.access import Principal, require_admin, require_staff
from matchmaker.services.auth import authenticate
from matchmaker.services.row_errors import Language

log = logging.getLogger("matchmaker")


async def get_settings(request: Request) -> Settings:
    """The running app's settings (async: no I/O, so no worker thread)."""
    settings: Settings = request.app.state.settings
    return settings


def _index_catch_up(request: Request) -> Callable[[Session], None] | None:
    """After a commit that changed records, this process's indexes apply the request's own changes at once, so a
    record is searchable when the call that wrote it returns (other workers follow within their sync interval); a
    large import is left to the follower thread, outside the request."""
    search = getattr(request.app.state, "search", None)
    if search is None:
        return None

    def catch_up(session: Session) -> None:
        written = session.info.get("record_changes")
        if written:
            try:
                search.after_commit(written)
            except Exception:  # committed is committed: the follower thread applies the change on its next pass
                log.exception("index catch-up after a commit failed; the follower will retry")

    return catch_up


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One unit of work per request (:func:`matchmaker.db.unit_of_work`): commit on success, roll back on any error.

    Opening a session does no I/O, so it happens on the event loop; the end of the unit of work (commit or rollback,
    close, and the index catch-up) is one call in a worker thread, shielded from cancellation so that a client that
    goes away never leaves a connection checked out.
    """
    work = unit_of_work(request.app.state.session_factory, _index_catch_up(request))
    session = work.__enter__()
    try:
        yield session
    except BaseException as exc:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(work.__exit__, type(exc), exc, exc.__traceback__)
        raise
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(work.__exit__, None, None, None)


# scope="function": the unit of work ends (commits) when the route function returns, before the response is sent,
# so a client that got 201 can read its own write on the next request.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def request_language(request: Request) -> Language:
    """``en`` when the caller's Accept-Language ranks English above Chinese, else ``zh`` (import reports)."""
    ranked: list[tuple[float, str]] = []
    for part in request.headers.get("accept-language", "").split(","):
        tag, _, params = part.strip().partition(";")
        try:
            weight = float(params.strip().removeprefix("q=")) if params.strip().startswith("q=") else 1.0
        except ValueError:
            weight = 0.0
        ranked.append((weight, tag.strip().lower()))
    for _, tag in sorted(ranked, key=lambda t: -t[0]):
        if tag.startswith("en"):
            return "en"
        if tag.startswith("zh"):
            return "zh"
    return "zh"


LanguageDep = Annotated[Language, Depends(request_language)]

_bearer = HTTPBearer(auto_error=False, description="A login token (POST /api/v1/auth/login) or a personal API token")


def get_principal(
    session: SessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The caller, from the bearer token; 401 when it is missing, unknown, revoked or expired."""
    return _authenticate(session, credentials)


def _authenticate(session: Session, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    principal = authenticate(session, credentials.credentials if credentials else None)
    session.info["actor_id"] = principal.user_id  # every audit entry of this unit of work names the caller
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal, scope="function")]
CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]

T = TypeVar("T")


async def in_unit_of_work(
    request: Request, credentials: HTTPAuthorizationCredentials | None, work: Callable[[Session, Principal], T]
) -> T:
    """Authenticate the caller and run ``work`` in one unit of work, all of it in one worker-thread call.

    What :data:`SessionDep` and :data:`PrincipalDep` do, for the hottest routes: with those dependencies a request
    hands work to the thread pool three times (authentication, the route, the end of the unit of work), and each
    hand-over is a thread wake-up and two GIL switches. The call runs to its end even when the client goes away, so
    the session is always closed.
    """
    return await run_in_threadpool(_authenticated_unit_of_work, request, credentials, work)


def _authenticated_unit_of_work(
    request: Request, credentials: HTTPAuthorizationCredentials | None, work: Callable[[Session, Principal], T]
) -> T:
    with unit_of_work(request.app.state.session_factory, _index_catch_up(request)) as session:
        result = work(session, _authenticate(session, credentials))
    return result


async def _admin(principal: PrincipalDep) -> Principal:  # async: no I/O, so no worker thread
    require_admin(principal, "manage accounts")
    return principal


async def _staff(principal: PrincipalDep) -> Principal:
    require_staff(principal, "use this route")
    return principal


AdminDep = Annotated[Principal, Depends(_admin, scope="function")]
"""The caller, who must be an admin (403 otherwise)."""
StaffDep = Annotated[Principal, Depends(_staff, scope="function")]
"""The caller, who must be a manager or an admin (403 otherwise)."""
