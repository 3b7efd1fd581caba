"""Request and response models of accounts: login, personal API tokens and users."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from matchmaker.schemas.common import Id, UtcDateTime


class LoginRequest(BaseModel):
    """Email and password."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"email": "manager@tj-centre.example", "password": "correct horse battery"}]},
    )

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=200)


class LoginResponse(BaseModel):
    """A bearer token for the next requests."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: UtcDateTime | None


class TokenRequest(BaseModel):
    """A new personal API token."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "nightly import", "expires_in_days": 90}]}
    )

    name: str = Field(min_length=1, max_length=100)
    expires_in_days: int | None = Field(default=90, ge=1, le=3650, description="null: never expires")


class TokenRead(BaseModel):
    """A personal API token or a login session (never its value)."""

    id: int
    kind: str = Field(description="personal or session (a login)")
    current: bool = Field(description="the token this request used")
    name: str
    prefix: str
    created_at: UtcDateTime | None
    expires_at: UtcDateTime | None
    revoked: bool
    last_used_at: UtcDateTime | None


class TokenCreated(TokenRead):
    """A new personal token with its value, shown this once."""

    token: str


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
    role: Literal["admin", "manager", "enterprise", "institution", "expert"]
    org: str | None = Field(default=None, max_length=200, description="organisation name (created when new)")
    password: str | None = Field(default=None, min_length=8, max_length=200)


class UserRead(BaseModel):
    """An account (never its password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    role: str
    org_id: Id | None
    active: bool
    created_at: UtcDateTime | None


class UserChange(BaseModel):
    """What an admin may change of an account."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"active": False}]})

    active: bool = Field(description="false: the account's tokens are revoked and it can no longer log in")
