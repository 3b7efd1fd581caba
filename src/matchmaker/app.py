"""The FastAPI application: create_app(settings) builds everything in the lifespan and keeps it on app.state."""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from matchmaker import db
from matchmaker.api import (
    auth,
    challenges,
    concepts,
    contracts,
    duplicates,
    event_schedule,
    events,
    health,
    imports,
    matches,
    matching,
    records,
    resources,
    stale,
    targets,
)
from matchmaker.config import Settings
from matchmaker.errors import MatchmakerError
from matchmaker.middleware import BoundedBody, SecurityHeaders
from matchmaker.schemas import ERROR_RESPONSES
from matchmaker.services.indexing import SearchService
from matchmaker.services.jobs import start_jobs
from matchmaker.services.search_setup import build_search_service
from matchmaker.services.staleness import StaleJob, StalePolicy
from matchmaker.services.throttle import LoginThrottle
from matchmaker.web import install as install_web

log = logging.getLogger("matchmaker")

API_DESCRIPTION = """
科技成果供需对接服务 — technology-transfer supply–demand matchmaking for the Beijing–Tianjin–Hebei region.

* **Achievements (科技成果)**: the supply list universities and institutes offer for transfer.
* **Demands (技术需求)**: the demand list enterprises post, often as production problems.
* **Imports / exports**: CSV (UTF-8 or GB18030), XLSX, JSON, JSON Lines, with English or Chinese column headers.

Errors always answer `{"error": code, "detail": message, "fields": [{"field", "message"}]}`.
"""


class Metrics:
    """Prometheus instruments of one app (own registry, so several apps in one process never collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "matchmaker_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "matchmaker_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.records = Gauge("matchmaker_records", "Records in each list", ["kind"], registry=self.registry)
        self.counted_at = float("-inf")  # when /metrics last counted the lists (time.monotonic)


class LimitConcurrency:
    """At most ``limit`` API requests of this worker inside the application at once; the others wait, in arrival
    order, before any of their work starts (no database session is opened while waiting).

    Request work runs in worker threads (a matching request in one call), and matching is CPU-bound under the GIL. More
    requests in flight than cores only add thread switching — measured with wrk on the 2-core test machine, 2 workers:
    385 match requests/s at p99 10 ms with 2 connections, 280/s at p99 340 ms with 8 — and each holds a database
    connection, so an unbounded number exhausts the pool. Health and metrics endpoints are not limited.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._gate: asyncio.Semaphore | None = None  # made lazily: it belongs to the server's event loop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        if self._gate is None:
            self._gate = asyncio.Semaphore(self.limit)
        async with self._gate:
            await self.app(scope, receive, send)


class ObserveRequests:
    """Counts and times every HTTP request by route template (a pure ASGI middleware: Starlette's
    BaseHTTPMiddleware costs a task and a stream per request, a sizeable share of a fast matching request)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before it starts a response

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            # The router writes the matched route into the scope. The route template (not the raw path) keeps
            # label cardinality bounded; FastAPI ≥ 0.120 keeps the full template of an included route on
            # effective_route_context, older versions on the route itself.
            fastapi_scope = scope.get("fastapi")
            context = (
                fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
            ) or scope.get("route")
            path = getattr(context, "path", "unmatched")
            self.metrics.requests.labels(scope["method"], path, str(status)).inc()
            self.metrics.latency.labels(scope["method"], path).observe(time.perf_counter() - started)


def _validation_fields(exc: RequestValidationError) -> list[dict[str, Any]]:
    fields = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            message = "unknown parameter" if err.get("loc", ("",))[0] == "query" else "unknown field"
        fields.append({"field": ".".join(loc) or "body", "message": message})
    return fields


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to the one JSON shape."""

    @app.exception_handler(MatchmakerError)
    async def matchmaker_error(_request: Request, exc: MatchmakerError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = _validation_fields(exc)
        detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
        return JSONResponse({"error": "validation_error", "detail": detail, "fields": fields}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(exc.status_code, "http_error")
        return JSONResponse(
            {"error": code, "detail": str(exc.detail), "fields": []},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )


def prepare_database(settings: Settings, engine: Any, session_factory: Any) -> None:
    """Migrate (when configured), create the first admin, load the sample lists into an empty database."""
    if settings.auto_migrate:
        db.upgrade(settings, engine)
    from matchmaker.services.auth import ensure_admin

    with db.unit_of_work(session_factory) as session:
        created, generated = ensure_admin(session, settings.admin_email, settings.admin_password)
    if created:
        password = generated if generated else "(MATCHMAKER_ADMIN_PASSWORD)"
        print(  # noqa: T201 - shown once to the person starting the service, by design
            f"\nFirst start: admin account created.\n  email:    {settings.admin_email}\n  password: {password}\n"
            "Log in:  curl -s -X POST <host:port>/api/v1/auth/login -H 'content-type: application/json' "
            f'-d \'{{"email": "{settings.admin_email}", "password": "..."}}\'\n'
            "then send 'Authorization: Bearer <access_token>' with every /api/v1 request "
            "(or create a personal token: matchmaker users create / POST /api/v1/tokens).\n",
            flush=True,
        )
    if settings.thesaurus and settings.starter_thesaurus_path.exists():
        from matchmaker.services.concepts import load_starter_if_empty

        with db.unit_of_work(session_factory) as session:
            seeded = load_starter_if_empty(session, settings.starter_thesaurus_path)
        if seeded:
            log.info("seeded the concept thesaurus with %d starter links", seeded)
    if settings.load_sample_data:
        from matchmaker.services.samples import load_samples_if_empty

        with db.unit_of_work(session_factory) as session:
            loaded = load_samples_if_empty(session, settings)
        if loaded:
            log.info("loaded sample data: %s", loaded)


def build_search(settings: Settings, session_factory: Any) -> SearchService:
    """Load the embedding model and the indexes (snapshot + change-log replay, or a build from the database)."""
    search = build_search_service(settings, session_factory)
    search.start(progress=_log_progress)
    return search


def _log_progress(kind: str, done: int, total: int) -> None:
    if done == total or done % 500 == 0:
        log.info("embedding %s: %d/%d", kind, done, total)


def start_stale_job(settings: Settings, session_factory: Any) -> StaleJob | None:
    """The periodic stale-listing job of this process (none when its interval is 0)."""
    if settings.stale_check_interval_s <= 0:
        return None
    job = StaleJob(session_factory, StalePolicy.from_settings(settings), settings.stale_check_interval_s)
    job.start()
    return job


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; the database engine is made in the lifespan, not at import time."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = db.create_db_engine(settings)
        session_factory = db.create_session_factory(engine)
        prepare_database(settings, engine, session_factory)
        app.state.engine = engine
        app.state.session_factory = session_factory
        app.state.search = build_search(settings, session_factory) if settings.search_enabled else None
        # Matching runs are durable jobs: executed here (or on broker workers), resumed after a crash by the watch.
        app.state.jobs, watch = (
            start_jobs(settings, session_factory, app.state.search) if app.state.search is not None else (None, None)
        )
        app.state.stale_job = start_stale_job(settings, session_factory)
        # What start-up built (the model, the indexes, the ORM's and the libraries' own objects) lives as long as
        # the process: moved out of the collector's generations, full collections no longer walk it per request.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if watch is not None:
                watch.stop()
            if app.state.jobs is not None:
                app.state.jobs.stop()
            if app.state.stale_job is not None:
                app.state.stale_job.stop()
            if app.state.search is not None:
                app.state.search.stop()
            engine.dispose()

    app = FastAPI(
        title="matchmaker 科技成果供需对接",
        version="0.1.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc come from the web package, with the vendored assets
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.state.login_throttle = LoginThrottle(settings.login_limit_per_account, settings.login_limit_per_address)
    install_error_handlers(app)

    app.add_middleware(LimitConcurrency, limit=settings.request_concurrency)
    # Outside the concurrency limit: a slow or huge body never holds a slot (or a database connection).
    app.add_middleware(
        BoundedBody,
        max_json_bytes=settings.max_body_kb * 1024,
        max_upload_bytes=settings.max_upload_bytes,
        timeout_s=settings.body_timeout_s,
        upload_prefix="/api/v1/imports/",
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(ObserveRequests, metrics=app.state.metrics)  # outermost: waiting time counts as latency
    app.include_router(health.router)
    app.include_router(records.achievements_router, prefix="/api/v1", responses=ERROR_RESPONSES)
    app.include_router(records.demands_router, prefix="/api/v1", responses=ERROR_RESPONSES)
    app.include_router(imports.router, prefix="/api/v1", responses=ERROR_RESPONSES)
    app.include_router(matching.router, prefix="/api/v1", responses=ERROR_RESPONSES)
    app.include_router(matches.router, prefix="/api/v1", responses=ERROR_RESPONSES)
    app.include_router(auth.router, prefix="/api/v1", responses=ERROR_RESPONSES)
    app.include_router(challenges.router, prefix="/api/v1", responses=ERROR_RESPONSES)
    app.include_router(events.router, prefix="/api/v1", responses=ERROR_RESPONSES)
    app.include_router(event_schedule.router, prefix="/api/v1", responses=ERROR_RESPONSES)
    app.include_router(concepts.router, prefix="/api/v1", responses=ERROR_RESPONSES)
    app.include_router(contracts.router, prefix="/api/v1", responses=ERROR_RESPONSES)
    app.include_router(resources.router, prefix="/api/v1", responses=ERROR_RESPONSES)
    app.include_router(targets.router, prefix="/api/v1", responses=ERROR_RESPONSES)
    app.include_router(duplicates.router, prefix="/api/v1", responses=ERROR_RESPONSES)
    app.include_router(stale.router, prefix="/api/v1", responses=ERROR_RESPONSES)
    install_web(app)
    return app


SUPERVISOR_ENV = "MATCHMAKER_SUPERVISOR_PID"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_supervisor() -> None:
    """A worker of `matchmaker serve --workers N` is killed when its supervisor dies (Linux): after a kill -9 of the
    server's process, orphaned workers went on serving the old port and writing to the database, so the restarted
    server could not bind its port, and on SQLite its start-up waited on their write lock ('database is locked')."""
    supervisor = os.environ.get(SUPERVISOR_ENV)
    if supervisor is None or int(supervisor) == os.getpid() or not sys.platform.startswith("linux"):
        return  # not a worker process (one worker runs in the supervisor's own process)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        log.warning("could not tie this worker to its supervisor (errno %d)", ctypes.get_errno())
    if os.getppid() != int(supervisor):  # it died before the tie was made
        os.kill(os.getpid(), signal.SIGKILL)


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` (settings from the environment), in a worker process of `serve`."""
    die_with_supervisor()
    return create_app(Settings())
