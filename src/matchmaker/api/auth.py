"""Login, the caller's identity, personal API tokens, and user accounts (admins)."""

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from matchmaker.api.deps import AdminDep, PrincipalDep, SessionDep
from matchmaker.errors import Unauthorized
from matchmaker.models import ApiToken
from matchmaker.schemas.accounts import (
    LoginRequest,
    LoginResponse,
    TokenCreated,
    TokenRead,
    TokenRequest,
    UserChange,
    UserRead,
    UserRequest,
)
from matchmaker.schemas.common import Id, Items, Page
from matchmaker.schemas.queries import PageParams
from matchmaker.services import auth as svc

router = APIRouter(tags=["accounts"])


@router.post("/auth/login", response_model=LoginResponse, summary="Log in")
def login(body: LoginRequest, session: SessionDep, request: Request) -> dict[str, Any]:
    """Exchange email and password for a bearer token valid 12 hours (401 on a wrong email or password, 429 after
    too many failed logins of the account or from the address)."""
    throttle = request.app.state.login_throttle
    address = request.client.host if request.client else "unknown"
    throttle.check(body.email, address)  # before any password work: a throttled guess costs no argon2 time
    try:
        token, raw = svc.login(session, body.email, body.password)
    except Unauthorized:
        throttle.failed(body.email, address)
        raise
    return {"access_token": raw, "token_type": "bearer", "expires_at": token.expires_at}


@router.get("/auth/me", response_model=UserRead, summary="Who am I")
def me(principal: PrincipalDep, session: SessionDep) -> Any:
    """The caller's account."""
    return svc.get_user(session, principal, principal.user_id)


def _token(token: ApiToken, current_id: Id | None = None) -> dict[str, Any]:
    return {
        "id": token.id,
        "kind": token.kind,
        "current": token.id == current_id,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "revoked": token.revoked_at is not None,
        "last_used_at": token.last_used_at,
    }


@router.post(
    "/tokens", status_code=status.HTTP_201_CREATED, response_model=TokenCreated, summary="Create a personal API token"
)
def create_token(body: TokenRequest, principal: PrincipalDep, session: SessionDep) -> dict[str, Any]:
    """A personal token for scripts; its value is shown once, only its hash is stored."""
    user = svc.get_user(session, principal, principal.user_id)
    ttl = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    token, raw = svc.issue_token(session, user, kind="personal", name=body.name, ttl=ttl)
    return {**_token(token, principal.token_id), "token": raw}


@router.get("/tokens", response_model=Items[TokenRead], summary="My tokens")
def list_tokens(principal: PrincipalDep, session: SessionDep) -> dict[str, Any]:
    """The caller's working tokens, personal ones and login sessions (never their values); ``current`` marks the one
    this request used."""
    return {"items": [_token(t, principal.token_id) for t in svc.list_tokens(session, principal)]}


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, summary="Log out")
def logout(principal: PrincipalDep, session: SessionDep) -> Response:
    """Revoke the token this request used; it answers 401 from then on."""
    assert principal.token_id is not None
    svc.revoke_token(session, principal, principal.token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke a token")
def revoke_token(token_id: Id, principal: PrincipalDep, session: SessionDep) -> Response:
    """Revoke one of the caller's tokens; it answers 401 from then on."""
    svc.revoke_token(session, principal, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/users", status_code=status.HTTP_201_CREATED, response_model=UserRead, summary="Create a user (admins)")
def create_user(body: UserRequest, principal: AdminDep, session: SessionDep) -> Any:
    """Create an account with one role; enterprise and institution members belong to an organisation."""
    return svc.create_user(session, email=body.email, role=body.role, org=body.org, password=body.password)


@router.get("/users", response_model=Page[UserRead], summary="List users (admins)")
def list_users(params: Annotated[PageParams, Query()], principal: AdminDep, session: SessionDep) -> dict[str, Any]:
    """Every account, oldest first."""
    users, total = svc.list_users(session, principal, limit=params.limit, offset=params.offset)
    return {"items": users, "total": total, "limit": params.limit, "offset": params.offset}


@router.get("/users/{user_id}", response_model=UserRead, summary="Get a user (admins)")
def get_user(user_id: Id, principal: PrincipalDep, session: SessionDep) -> Any:
    """One account (admins: any; everyone: their own)."""
    return svc.get_user(session, principal, user_id)


@router.patch("/users/{user_id}", response_model=UserRead, summary="Deactivate or reactivate a user (admins)")
def change_user(user_id: Id, body: UserChange, principal: AdminDep, session: SessionDep) -> Any:
    """Deactivate an account (its tokens are revoked at once) or reactivate it; 409 for one's own account."""
    return svc.set_active(session, principal, user_id, body.active)
