"""The web workspace: server-rendered pages (Jinja2 + HTMX) in the same app, calling services/ like the API does."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from matchmaker.web.templating import STATIC_DIR


def install(app: FastAPI) -> None:
    """Serve the vendored assets, /docs and /redoc from them, and the pages."""
    from matchmaker.web.pages import PAGE_ROUTERS, docs

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(docs.router)
    for router in PAGE_ROUTERS:
        app.include_router(router)
