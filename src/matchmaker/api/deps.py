"""Dependencies shared by the routers, as annotated aliases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from matchmaker.config import Settings
from matchmaker.services.access import Principal
from matchmaker.services.auth import authenticate


def get_settings(request: Request) -> Settings:
    """The running app's settings."""
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """One unit of work per request: commit on success, roll back on any error.

    After a commit that changed records, this process's indexes replay the change log at once, so a record is
    searchable when the call that wrote it returns (other workers follow within their sync interval).
    """
    session: Session = request.app.state.session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    search = getattr(request.app.state, "search", None)
    if session.info.get("records_changed") and search is not None:
        search.sync()


# scope="function": the unit of work ends (commits) when the route function returns, before the response is sent,
# so a client that got 201 can read its own write on the next request.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]

_bearer = HTTPBearer(auto_error=False, description="A login token (POST /api/v1/auth/login) or a personal API token")


def get_principal(
    session: SessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The caller, from the bearer token; 401 when it is missing, unknown, revoked or expired."""
    principal = authenticate(session, credentials.credentials if credentials else None)
    session.info["actor_id"] = principal.user_id  # every audit entry of this unit of work names the caller
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal, scope="function")]
