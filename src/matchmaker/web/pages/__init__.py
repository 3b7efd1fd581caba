"""Page routers, one file per area; `PAGE_ROUTERS` is what the app includes."""

from __future__ import annotations

from fastapi import APIRouter

from matchmaker.web.pages import (
    account,
    challenge_actions,
    challenges,
    contracts,
    dashboard,
    events,
    imports,
    listings,
    pairing,
    proposals,
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
    # 揭榜挂帅 forms (proposals, review, decision) and 签约 / 落地 forms with the resources panel
    proposals.router,
    challenge_actions.router,
    contracts.router,
)
