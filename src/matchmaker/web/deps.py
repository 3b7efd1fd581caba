"""What every page route shares: the signed-in principal, CSRF on writes, and errors rendered as pages."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from matchmaker.api.deps import SessionDep
from matchmaker.errors import MatchmakerError, Unauthorized
from matchmaker.services.access import Principal
from matchmaker.services.auth import authenticate
from matchmaker.web.security import SESSION_COOKIE, csrf_protect
from matchmaker.web.templating import render


class SignInRequired(Exception):
    """The page needs a signed-in user."""


def _principal(request: Request, session: Session) -> Principal:
    try:
        principal = authenticate(session, request.cookies.get(SESSION_COOKIE))
    except Unauthorized as exc:
        raise SignInRequired from exc
    session.info["actor_id"] = principal.user_id  # audit entries name the person, as with the API
    request.state.principal = principal
    return principal


def web_principal(request: Request, session: SessionDep) -> Principal:
    """The signed-in user of the session cookie; otherwise the page redirects to the sign-in form."""
    return _principal(request, session)


def optional_principal(request: Request, session: SessionDep) -> Principal | None:
    """The signed-in user, or None (pages anyone may see, like the sign-in form)."""
    try:
        return _principal(request, session)
    except SignInRequired:
        return None


WebPrincipalDep = Annotated[Principal, Depends(web_principal, scope="function")]
OptionalPrincipalDep = Annotated[Principal | None, Depends(optional_principal, scope="function")]


def redirect(url: str, request: Request) -> Response:
    """A 303 to ``url``; for an HTMX request, HX-Redirect makes the browser follow it as a full page."""
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def safe_next(value: str | None) -> str:
    """A local path to go back to (never another site)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


class WebRoute(APIRoute):
    """A page route: errors become pages in the user's language, a missing sign-in a redirect to the form."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return redirect(f"/login?next={quote(target)}", request)
            except MatchmakerError as exc:
                return render(request, "error.html", {"error": exc}, status_code=exc.status_code)
            except RequestValidationError as exc:
                error = MatchmakerError("; ".join(str(e.get("msg")) for e in exc.errors()))
                return render(request, "error.html", {"error": error}, status_code=422)

        return handle


def page_router() -> APIRouter:
    """A router of pages: hidden from the API description, CSRF-checked on every write."""
    return APIRouter(route_class=WebRoute, include_in_schema=False, dependencies=[Depends(csrf_protect)])
