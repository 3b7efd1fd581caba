"""Accounts: organisations, users with one role, argon2 passwords, hashed bearer tokens (login and personal)."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.orm import Session

from matchmaker.domain import with_article
from matchmaker.errors import Conflict, NotFound, Unauthorized, ValidationFailed, field_error
from matchmaker.models import ApiToken, Organisation, User, as_utc
from matchmaker.services.access import ORG_KIND_OF_ROLE, ROLES, Principal, require_admin
from matchmaker.services.audit import audit
from matchmaker.services.paging import page

TOKEN_PREFIX = "mm_"
SESSION_TTL = timedelta(hours=12)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of a password."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether a password matches its hash (False for accounts without a password)."""
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token_hash(raw: str) -> str:
    """What is stored of a token: its SHA-256 (tokens are long random strings, so no slow hash is needed)."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def get_or_create_org(session: Session, name: str, kind: str) -> Organisation:
    """The organisation of that name, created with `kind` when missing."""
    org = session.scalar(select(Organisation).where(Organisation.name == name))
    if org is None:
        org = Organisation(name=name, kind=kind)
        session.add(org)
        session.flush()
    return org


def create_user(
    session: Session, *, email: str, role: str, org: str | None = None, password: str | None = None
) -> User:
    """A new account; enterprise and institution members belong to an organisation (created when new)."""
    email = email.strip().lower()
    problems = []
    if not _EMAIL.match(email):
        problems.append(field_error("email", "not an email address"))
    if role not in ROLES:
        problems.append(field_error("role", f"role must be one of {', '.join(ROLES)}"))
    elif role in ("enterprise", "institution") and not org:
        problems.append(field_error("org", f"{with_article(role)} member needs an organisation"))
    if password is not None and len(password) < 8:
        problems.append(field_error("password", "at least 8 characters"))
    if problems:
        raise ValidationFailed("; ".join(p["message"] for p in problems), fields=problems)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with email {email} exists", fields=[field_error("email", "already used")])
    org_id = get_or_create_org(session, org, ORG_KIND_OF_ROLE[role]).id if org else None
    user = User(email=email, role=role, org_id=org_id, password_hash=hash_password(password) if password else None)
    session.add(user)
    session.flush()
    audit(session, "user", user.id, "create", {"email": email, "role": role, "org_id": org_id})
    return user


def issue_token(
    session: Session, user: User, *, kind: str = "personal", name: str = "api", ttl: timedelta | None = None
) -> tuple[ApiToken, str]:
    """A new bearer token; the raw value is returned once and only its hash is kept."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + ttl if ttl is not None else None
    token = ApiToken(
        user_id=user.id, name=name[:100], kind=kind, token_hash=token_hash(raw), prefix=raw[:10], expires_at=expires
    )
    session.add(token)
    session.flush()
    if kind == "personal":
        audit(
            session,
            "token",
            token.id,
            "create",
            {"user_id": user.id, "name": token.name, "expires_at": expires.isoformat() if expires else None},
        )
    return token, raw


@cache
def _unknown_user_hash() -> str:
    """A hash that no password matches, verified for unknown emails so that they cost what a wrong password does."""
    return hash_password(secrets.token_urlsafe(16))


def login(session: Session, email: str, password: str) -> tuple[ApiToken, str]:
    """A session token for a correct email and password; 401 otherwise (the same answer, at the same cost, for both
    mistakes: an unknown email or a password-less account still runs one argon2 verification)."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    password_hash = user.password_hash if user is not None and user.password_hash else _unknown_user_hash()
    matches = verify_password(password_hash, password)
    if user is None or not user.active or not user.password_hash or not matches:
        raise Unauthorized("wrong email or password")
    return issue_token(session, user, kind="session", name="login", ttl=SESSION_TTL)


LAST_USED_RESOLUTION = timedelta(minutes=1)
"""A token's ``last_used_at`` is rewritten at most this often: writing it on every request would turn every read into
a write (serialised on SQLite, a row lock every request of a script contends for on PostgreSQL)."""


_TOKENS: Table = ApiToken.__table__  # type: ignore[assignment]
_USERS: Table = User.__table__  # type: ignore[assignment]
# Core statements built once: authentication runs on every API request, and loading two ORM objects (then flushing
# one) cost several times what reading nine columns does, most of it in SQLAlchemy rather than the database.
_PRINCIPAL_OF_TOKEN = (
    select(
        _TOKENS.c.id,
        _TOKENS.c.revoked_at,
        _TOKENS.c.expires_at,
        _TOKENS.c.last_used_at,
        _USERS.c.id.label("user_id"),
        _USERS.c.role,
        _USERS.c.org_id,
        _USERS.c.email,
        _USERS.c.active,
    )
    .join_from(_TOKENS, _USERS, _USERS.c.id == _TOKENS.c.user_id)
    .where(_TOKENS.c.token_hash == bindparam("token_hash"))
)
_RECORD_USE = (
    update(_TOKENS)
    .where(
        _TOKENS.c.id == bindparam("token_id"),
        or_(_TOKENS.c.last_used_at.is_(None), _TOKENS.c.last_used_at <= bindparam("stale_before")),
    )
    .values(last_used_at=bindparam("now"))
)


def authenticate(session: Session, raw: str | None) -> Principal:
    """The principal of a bearer token; 401 for a missing, unknown, revoked or expired token."""
    if not raw:
        raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)")
    row = session.execute(_PRINCIPAL_OF_TOKEN, {"token_hash": token_hash(raw)}).first()
    now = datetime.now(UTC)
    if row is None or row.revoked_at is not None:
        raise Unauthorized("the token is not valid")
    if row.expires_at is not None and as_utc(row.expires_at) <= now:
        raise Unauthorized("the token has expired")
    if not row.active:
        raise Unauthorized("the token is not valid")
    if row.last_used_at is None or now - as_utc(row.last_used_at) >= LAST_USED_RESOLUTION:
        # Conditional, so that requests racing past the check above write it once.
        session.execute(_RECORD_USE, {"token_id": row.id, "stale_before": now - LAST_USED_RESOLUTION, "now": now})
    return Principal(user_id=row.user_id, role=row.role, org_id=row.org_id, email=row.email, token_id=row.id)


def list_tokens(session: Session, principal: Principal) -> list[ApiToken]:
    """The caller's tokens, personal ones and login sessions alike, that still work (never their values)."""
    now = datetime.now(UTC)
    stmt = select(ApiToken).where(ApiToken.user_id == principal.user_id, ApiToken.revoked_at.is_(None))
    tokens = session.scalars(stmt.order_by(ApiToken.id))
    return [t for t in tokens if t.expires_at is None or as_utc(t.expires_at) > now]


def revoke_token(session: Session, principal: Principal, token_id: int) -> None:
    """Revoke one of the caller's tokens (admins may revoke anyone's); 404 for another user's token."""
    token = session.get(ApiToken, token_id)
    if token is None or (token.user_id != principal.user_id and not principal.is_admin):
        raise NotFound(f"token {token_id} not found")
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        audit(session, "token", token.id, "revoke", {"user_id": token.user_id})


def set_active(session: Session, principal: Principal, user_id: int, active: bool) -> User:
    """Deactivate (or reactivate) an account (admins); a deactivated account's tokens are revoked at once and its
    logins answer 401. An admin cannot deactivate their own account (409): someone must be left to undo it."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    if not active and user.id == principal.user_id:
        raise Conflict("you cannot deactivate your own account", fields=[field_error("active", "own account")])
    if user.active != active:
        user.active = active
        revoked = 0
        if not active:
            now = datetime.now(UTC)
            result = session.execute(
                update(ApiToken)
                .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            revoked = int(getattr(result, "rowcount", 0) or 0)
        audit(session, "user", user.id, "activate" if active else "deactivate", {"tokens_revoked": revoked})
        session.flush()
    return user


def list_users(session: Session, principal: Principal | None, *, limit: int, offset: int) -> tuple[list[User], int]:
    """One page of every account, oldest first, and the total (admins)."""
    require_admin(principal, "list users")
    return page(session, select(User), order_by=[User.id], limit=limit, offset=offset)


def get_user(session: Session, principal: Principal | None, user_id: int) -> User:
    """One account: admins see any, everyone their own; 404 otherwise."""
    if principal is not None and not principal.is_admin and principal.user_id != user_id:
        raise NotFound(f"user {user_id} not found")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def ensure_admin(session: Session, email: str, password: str | None) -> tuple[bool, str | None]:
    """Create the first admin when the database has no user yet.

    Returns whether an admin was created and the generated password (None when one was configured).
    """
    if session.scalar(select(User.id).limit(1)) is not None:
        return False, None
    generated = None if password else secrets.token_urlsafe(12)
    create_user(session, email=email, role="admin", org="天津中心成果转化组", password=password or generated)
    return True, generated
