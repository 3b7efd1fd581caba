"""Login, the caller's identity, personal API tokens, and user accounts (admins)."""

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from matchmaker.api.deps import PrincipalDep, SessionDep
from matchmaker.errors import Forbidden, NotFound, Unauthorized
from matchmaker.models import User
from matchmaker.schemas import Id, Offset
from matchmaker.services import auth as svc
from matchmaker.services.access import require_role

router = APIRouter(tags=["accounts"])


class LoginRequest(BaseModel):
    """Email and password."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"email": "manager@tj-centre.example", "password": "correct horse battery"}]},
    )

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=200)


@router.post("/auth/login", summary="Log in")
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
    return {
        "access_token": raw,
        "token_type": "bearer",
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
    }


@router.get("/auth/me", summary="Who am I")
def me(principal: PrincipalDep, session: SessionDep) -> dict[str, Any]:
    """The caller's account."""
    user = session.get(User, principal.user_id)
    assert user is not None
    return svc.user_summary(user)


class TokenRequest(BaseModel):
    """A new personal API token."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "nightly import", "expires_in_days": 90}]}
    )

    name: str = Field(min_length=1, max_length=100)
    expires_in_days: int | None = Field(default=90, ge=1, le=3650, description="null: never expires")


def _token(token: Any, current_id: int | None = None) -> dict[str, Any]:
    return {
        "id": token.id,
        "kind": token.kind,
        "current": token.id == current_id,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": token.created_at.isoformat() if token.created_at else None,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "revoked": token.revoked_at is not None,
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
    }


@router.post("/tokens", status_code=status.HTTP_201_CREATED, summary="Create a personal API token")
def create_token(body: TokenRequest, principal: PrincipalDep, session: SessionDep) -> dict[str, Any]:
    """A personal token for scripts; its value is shown once, only its hash is stored."""
    user = session.get(User, principal.user_id)
    assert user is not None
    ttl = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    token, raw = svc.issue_token(session, user, kind="personal", name=body.name, ttl=ttl)
    return {**_token(token, principal.token_id), "token": raw}


@router.get("/tokens", summary="My tokens")
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


class UserRequest(BaseModel):
    """A new account."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "li.wei@jinnan-pharma.example",
                    "role": "enterprise",
                    "org": "津南医药物流有限公司",
                    "password": "a long passphrase",
                }
            ]
        },
    )

    email: str
    role: Literal["admin", "manager", "enterprise", "institution"]
    org: str | None = Field(default=None, max_length=200, description="organisation name (created when new)")
    password: str | None = Field(default=None, min_length=8, max_length=200)


@router.post("/users", status_code=status.HTTP_201_CREATED, summary="Create a user (admins)")
def create_user(body: UserRequest, principal: PrincipalDep, session: SessionDep) -> dict[str, Any]:
    """Create an account with one role; enterprise and institution members belong to an organisation."""
    require_role(principal, ("admin",), "create users")
    if principal.role != "admin":
        from matchmaker.errors import Forbidden

        raise Forbidden("only admins may create users")
    user = svc.create_user(session, email=body.email, role=body.role, org=body.org, password=body.password)
    return svc.user_summary(user)


@router.get("/users", summary="List users (admins)")
def list_users(
    principal: PrincipalDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Every account, oldest first."""
    if principal.role != "admin":
        from matchmaker.errors import Forbidden

        raise Forbidden("only admins may list users")
    users = list(session.scalars(select(User).order_by(User.id).limit(limit).offset(offset)))
    total = session.query(User).count()
    return {"items": [svc.user_summary(u) for u in users], "total": total, "limit": limit, "offset": offset}


@router.get("/users/{user_id}", summary="Get a user (admins)")
def get_user(user_id: Id, principal: PrincipalDep, session: SessionDep) -> dict[str, Any]:
    """One account."""
    if principal.role != "admin" and principal.user_id != user_id:
        raise NotFound(f"user {user_id} not found")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return svc.user_summary(user)


class UserChange(BaseModel):
    """What an admin may change of an account."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"active": False}]})

    active: bool = Field(description="false: the account's tokens are revoked and it can no longer log in")


@router.patch("/users/{user_id}", summary="Deactivate or reactivate a user (admins)")
def change_user(user_id: Id, body: UserChange, principal: PrincipalDep, session: SessionDep) -> dict[str, Any]:
    """Deactivate an account (its tokens are revoked at once) or reactivate it; 409 for one's own account."""
    if principal.role != "admin":
        raise Forbidden("only admins may change users")
    return svc.user_summary(svc.set_active(session, principal, user_id, body.active))
