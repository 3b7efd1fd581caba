"""Sign-in, sign-out, the language switch and the home page of each role."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request, Response

from matchmaker.api.deps import SessionDep
from matchmaker.errors import Unauthorized
from matchmaker.services import auth as auth_svc
from matchmaker.web.deps import OptionalPrincipalDep, WebPrincipalDep, page_router, redirect, safe_next
from matchmaker.web.i18n import LANG_COOKIE, LANGS
from matchmaker.web.security import end_session, set_cookie, start_session
from matchmaker.web.templating import render

router = page_router()
HOME_OF_ROLE = {
    "admin": "/queue",
    "manager": "/queue",
    "enterprise": "/my/needs",
    "institution": "/my/achievements",
    "expert": "/challenges",
}


@router.get("/login")
def login_form(request: Request, principal: OptionalPrincipalDep, next: str | None = None) -> Response:
    """The sign-in form (a signed-in user goes straight on)."""
    if principal is not None:
        return redirect(safe_next(next) if next else "/", request)
    return render(request, "login.html", {"next": safe_next(next), "email": ""})


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the email and password with the API's own login; the session cookie holds the login token."""
    try:
        token, raw = auth_svc.login(session, email, password)
    except Unauthorized:
        context = {"next": safe_next(next), "email": email, "failed": True}
        return render(request, "login.html", context, status_code=401)
    response = redirect(safe_next(next), request)
    start_session(request, response, raw, int(auth_svc.SESSION_TTL.total_seconds()))
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, principal: WebPrincipalDep) -> Response:
    """Revoke the session's token and drop the cookie."""
    if principal.token_id is not None:
        auth_svc.revoke_token(session, principal, principal.token_id)
    response = redirect("/login", request)
    end_session(request, response)
    return response


@router.post("/lang")
def switch_language(request: Request, lang: Annotated[str, Form()], next: Annotated[str, Form()] = "/") -> Response:
    """Remember the chosen language for a year."""
    response = redirect(safe_next(next), request)
    if lang in LANGS:
        set_cookie(request, response, LANG_COOKIE, lang, max_age=365 * 24 * 3600)
    return response


@router.get("/")
def home(request: Request, principal: WebPrincipalDep) -> Response:
    """Each role's own workspace."""
    return redirect(HOME_OF_ROLE.get(principal.role, "/login"), request)
