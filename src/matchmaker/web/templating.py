"""Jinja2 environment of the pages: autoescaped templates, the translator, CSRF token, Asia/Shanghai dates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from matchmaker.web.i18n import LANGS, Translator, request_lang
from matchmaker.web.security import csrf_token, remember_pre_secret

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
STAFF = ("admin", "manager")
# The navigation of each role: (catalogue key, path, roles that see it).
NAV: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("nav.queue", "/queue", STAFF),
    ("nav.runs", "/runs", STAFF),
    ("nav.dashboard", "/dashboard", STAFF),
    ("nav.needs", "/my/needs", STAFF),
    ("nav.achievements", "/my/achievements", STAFF),
    ("nav.imports", "/imports", STAFF),
    ("nav.my_needs", "/my/needs", ("enterprise",)),
    ("nav.my_achievements", "/my/achievements", ("institution",)),
    ("nav.challenges", "/challenges", (*STAFF, "enterprise", "institution", "expert")),
    ("nav.events", "/events", ("admin", "manager", "enterprise", "institution")),
    ("nav.targets", "/targets", STAFF),
    ("nav.duplicates", "/duplicates", STAFF),
    ("nav.stale", "/stale", (*STAFF, "enterprise", "institution")),
)
# Menus of the top bar, so a manager's dozen pages fit one line at 1280 px: a page named here sits in its menu, any
# other page stands alone in the bar. A role that sees few pages gets them all in the bar.
NAV_GROUPS: dict[str, str] = {
    "/my/needs": "nav.group.lists",
    "/my/achievements": "nav.group.lists",
    "/imports": "nav.group.lists",
    "/duplicates": "nav.group.lists",
    "/stale": "nav.group.lists",
    "/challenges": "nav.group.work",
    "/events": "nav.group.work",
    "/targets": "nav.group.work",
}
FLAT_NAV_MAX = 5


def navigation(role: str | None, path: str) -> list[dict[str, Any]]:
    """The top bar of a role: links, and menus of links (``menu``); ``current`` marks the page's own entry and
    the menu that holds it."""
    links = [
        {"label": label, "href": href, "current": path.startswith(href)}
        for label, href, roles in NAV
        if role is not None and role in roles
    ]
    if len(links) <= FLAT_NAV_MAX:
        return links
    bar: list[dict[str, Any]] = []
    menus: dict[str, dict[str, Any]] = {}
    for link in links:
        group = NAV_GROUPS.get(str(link["href"]))
        if group is None:
            bar.append(link)
        elif group not in menus:
            menus[group] = {"label": group, "menu": [link], "current": link["current"]}
            bar.append(menus[group])
        else:
            menus[group]["menu"].append(link)
            menus[group]["current"] = menus[group]["current"] or link["current"]
    return bar


def local_time(value: datetime | date | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored time (UTC, naive on SQLite) as Beijing time; a date as it is."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(LOCAL_TZ).strftime(fmt)
    return value.isoformat()


def query_with(params: dict[str, Any], **changes: Any) -> str:
    """The query string of ``params`` with some values changed (None removes one)."""
    merged = {**params, **changes}
    pairs: list[tuple[str, Any]] = []
    for key, value in merged.items():
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, list | tuple):
            pairs.extend((key, v) for v in value)
        else:
            pairs.append((key, value))
    return urlencode(pairs)


def highlight(text: str | None, terms: list[str]) -> Markup:
    """The text, escaped, with every shared term wrapped in <mark> (longest terms first)."""
    text = text or ""
    spans: list[tuple[int, int]] = []
    for term in sorted({t for t in terms if t}, key=len, reverse=True):
        start = text.find(term)
        while start != -1:
            end = start + len(term)
            if all(end <= s or start >= e for s, e in spans):
                spans.append((start, end))
            start = text.find(term, end)
    out, last = [], 0
    for start, end in sorted(spans):
        out.append(escape(text[last:start]))
        out.append(Markup("<mark>{}</mark>").format(text[start:end]))
        last = end
    out.append(escape(text[last:]))
    return Markup("").join(out)


@cache
def templates() -> Jinja2Templates:
    """The templates (built once, on first use)."""
    tpl = Jinja2Templates(directory=TEMPLATES_DIR)
    tpl.env.filters["local"] = local_time
    tpl.env.filters["highlight"] = highlight
    tpl.env.globals["query_with"] = query_with
    tpl.env.globals["LANGS"] = LANGS
    return tpl


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page (or an HTMX fragment) in the request's language."""
    lang = request_lang(request)
    principal = getattr(request.state, "principal", None)
    nav = navigation(principal.role if principal is not None else None, request.url.path)
    base = {
        "nav": nav,
        "t": Translator(lang),
        "lang": lang,
        "principal": principal,
        "csrf_token": csrf_token(request),
        "path": request.url.path,
        "full_path": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }
    response = templates().TemplateResponse(
        request, name, {**base, **(context or {})}, status_code=status_code, headers=headers
    )
    remember_pre_secret(request, response)
    return response
