"""Page routers, one file per area; `PAGE_ROUTERS` is what the app includes."""

from __future__ import annotations

from fastapi import APIRouter

from matchmaker.web.pages import (
    account,
    challenges,
    dashboard,
    events,
    imports,
    listings,
    pairing,
    queue,
    records,
    runs,
    targets,
)

PAGE_ROUTERS: tuple[APIRouter, ...] = (
    account.router,
    queue.router,
    pairing.router,
    runs.router,
    records.router,
    dashboard.router,
    imports.router,
    events.router,
    targets.router,
    listings.router,
    challenges.router,
)
