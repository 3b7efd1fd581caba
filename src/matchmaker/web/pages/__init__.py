"""Page routers, one file per area; `PAGE_ROUTERS` is what the app includes."""

from __future__ import annotations

from fastapi import APIRouter

from matchmaker.web.pages import account, pairing, queue, runs

PAGE_ROUTERS: tuple[APIRouter, ...] = (account.router, queue.router, pairing.router, runs.router)
