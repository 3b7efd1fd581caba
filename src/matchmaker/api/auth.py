"""Login, the caller's identity, personal API tokens, and user accounts (admins)."""

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from matchmaker.api.deps import AdminDep, PrincipalDep, SessionDep
from matchmaker.models import ApiToken
from matchmaker.schemas.accounts import (
    LoginRequest,
    LoginResponse,
    TokenCreated,
    TokenRead,
    TokenRequest,
    UserRead,
    UserRequest,
)
from matchmaker.schemas.common import Items, Page
from matchmaker.schemas.queries import PageParams
from matchmaker.services import auth as svc

router = APIRouter(tags=["accounts"])


@router.post("/auth/login", response_model=LoginResponse, summary="Log in")
def login(body: LoginRequest, session: SessionDep) -> dict[str, Any]:
    """Exchange email and password for a bearer token valid 12 hours (401 on a wrong email or password)."""
    token, raw = svc.login(session, body.email, body.password)
    return {"access_token": raw, "token_type": "bearer", "expires_at": token.expires_at}


@router.get("/auth/me", response_model=UserRead, summary="Who am I")
def me(principal: PrincipalDep, session: SessionDep) -> Any:
    """The caller's account."""
    return svc.get_user(session, principal, principal.user_id)


def _token(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
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
    return {**_token(token), "token": raw}


@router.get("/tokens", response_model=Items[TokenRead], summary="My personal API tokens")
def list_tokens(principal: PrincipalDep, session: SessionDep) -> dict[str, Any]:
    """The caller's personal tokens (never their values)."""
    return {"items": [_token(t) for t in svc.list_tokens(session, principal)]}


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke a token")
def revoke_token(token_id: int, principal: PrincipalDep, session: SessionDep) -> Response:
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
def get_user(user_id: int, principal: PrincipalDep, session: SessionDep) -> Any:
    """One account (admins: any; everyone: their own)."""
    return svc.get_user(session, principal, user_id)
