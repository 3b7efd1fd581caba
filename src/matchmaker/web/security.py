"""Cookie sessions and CSRF protection of the pages.

The session cookie holds a login token of the same kind the API issues (``services.auth.login``), so accounts, roles,
expiry and revocation are the API's own; it is HttpOnly, SameSite=Lax, and Secure when the page is served over HTTPS.
Every unsafe request (forms and HTMX writes) must carry a CSRF token, an HMAC of the session's secret: the hidden
``csrf_token`` field or the ``X-CSRF-Token`` header (HTMX sends it from the page's ``hx-headers``). Before sign-in the
secret is a random pre-session cookie, so the sign-in form is protected too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

from matchmaker.errors import Forbidden

SESSION_COOKIE = "mm_session"
PRE_COOKIE = "mm_pre"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRefused(Forbidden):
    """An unsafe request without a valid CSRF token."""

    code = "csrf_refused"


def _secret(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRE_COOKIE)


def _sign(secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), b"matchmaker-csrf", hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The CSRF token pages put in their forms; makes a pre-session secret when the browser has none yet."""
    secret = _secret(request) or getattr(request.state, "new_pre_secret", None)
    if secret is None:
        secret = secrets.token_urlsafe(32)
        request.state.new_pre_secret = secret
    return _sign(secret)


async def csrf_protect(request: Request) -> None:
    """Refuse (403) an unsafe request whose CSRF token is missing or wrong."""
    if request.method in SAFE_METHODS:
        return
    provided = request.headers.get(CSRF_HEADER)
    if not provided and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        provided = value if isinstance(value, str) else None
    secret = _secret(request)
    if not provided or secret is None or not hmac.compare_digest(provided, _sign(secret)):
        raise CsrfRefused("the form is missing a valid CSRF token; reload the page and try again")


def _cookie_args(request: Request) -> dict[str, object]:
    return {"httponly": True, "samesite": "lax", "secure": request.url.scheme == "https", "path": "/"}


def remember_pre_secret(request: Request, response: Response) -> None:
    """Send the pre-session secret made while rendering, if any."""
    secret = getattr(request.state, "new_pre_secret", None)
    if secret is not None:
        response.set_cookie(PRE_COOKIE, secret, **_cookie_args(request))  # type: ignore[arg-type]


def start_session(request: Request, response: Response, raw_token: str, max_age: int) -> None:
    """Put the login token in the session cookie."""
    response.set_cookie(SESSION_COOKIE, raw_token, max_age=max_age, **_cookie_args(request))  # type: ignore[arg-type]
    response.delete_cookie(PRE_COOKIE, path="/")


def end_session(request: Request, response: Response) -> None:
    """Drop the session cookie."""
    args = _cookie_args(request)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=bool(args["secure"]), httponly=True, samesite="lax")


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    """A plain preference cookie with the same flags."""
    response.set_cookie(name, value, max_age=max_age, **_cookie_args(request))  # type: ignore[arg-type]
