"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import secrets
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from matchmaker.db import migration_state
from matchmaker.errors import Unauthorized
from matchmaker.kinds import SPECS
from matchmaker.services.records import count_records

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> Any:
    """The database answers and its schema is at the newest migration."""
    state = request.app.state
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current, heads = migration_state(state.settings, state.engine)
    except Exception as exc:  # any failure to reach the database means not ready; the reason is reported
        return JSONResponse({"status": "unavailable", "database": f"unreachable: {exc.__class__.__name__}"}, 503)
    if current not in heads:
        return JSONResponse(
            {"status": "unavailable", "database": "ok", "migration": current, "expected": list(heads)}, 503
        )
    return {"status": "ready", "database": "ok", "migration": current}


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus metrics of this process (behind MATCHMAKER_METRICS_TOKEN when it is set)."""
    settings = request.app.state.settings
    if settings.metrics_token is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(given.encode(), settings.metrics_token.encode()):
            raise Unauthorized("/metrics needs 'Authorization: Bearer <MATCHMAKER_METRICS_TOKEN>'")
    metrics = request.app.state.metrics
    # Counting the lists is the only database work of a scrape: done at most once per interval, so that polling
    # /metrics (by anyone who can reach it) costs no database time.
    interval = settings.metrics_counts_interval_s
    if interval > 0 and time.monotonic() - metrics.counted_at >= interval:
        metrics.counted_at = time.monotonic()
        with request.app.state.session_factory() as session:
            for kind, spec in SPECS.items():
                metrics.records.labels(kind).set(count_records(session, spec))
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
