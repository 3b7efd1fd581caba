"""The distributed job engine (``MATCHMAKER_JOB_BROKER=redis://…``): Dramatiq on Redis.

A reindex sends the records whose vector is missing from the shared cache as ``embed_chunk`` messages, waits until
the workers have embedded them all, then rebuilds without a model call (:mod:`~matchmaker.services.reindex_jobs`).

A matching run becomes one ``run_job`` message, which plans the run (once) and sends one ``run_chunk`` message per
pending chunk; any worker process on any machine (``matchmaker worker``) takes a chunk, ranks it against its own
replica of the index and writes it with :func:`~matchmaker.services.run_jobs.store_chunk` — the code the in-process
engine runs — then finishes the run when no chunk is pending. Messages are acknowledged after they are handled, so a
worker killed mid-chunk leaves its message to be delivered again (Dramatiq requeues the messages of a worker whose
heartbeat stops); the service's job watch also sends ``run_job`` again for a run that shows no progress. A chunk
handled twice is written once: its transaction claims it (pending → done) before writing.

The broker, the queue and the database come from the environment (``MATCHMAKER_*``, as for ``serve``), read when
this module is imported: the same settings on the service and on every worker machine.

Each worker process builds its search service once, on its first message, from the database and the index
snapshot (as ``serve`` does), and follows the change log like a server process.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from matchmaker import db
from matchmaker.config import Settings
from matchmaker.kinds import SPECS
from matchmaker.services.chunk_pool import rank
from matchmaker.services.indexing import SearchService
from matchmaker.services.reindex_jobs import embed_on_workers
from matchmaker.services.run_jobs import (
    fail_run,
    finish_run,
    pending_chunks,
    plan_run,
    prepare_chunk,
    rank_settings,
    start_attempt,
    store_chunk,
)
from matchmaker.services.search_setup import build_search_service

log = logging.getLogger("matchmaker.jobs")

SETTINGS = Settings()
QUEUE = SETTINGS.job_queue
CHUNK_RETRIES = 3  # an error in a chunk (not a killed worker: that message is delivered again) is retried this often


def _broker(settings: Settings) -> RedisBroker:
    # A worker that stops sending heartbeats for as long as a job may stay silent loses its messages to the others.
    return RedisBroker(
        url=settings.job_broker or "redis://127.0.0.1:6379/0",
        namespace=f"{settings.job_queue}-jobs",
        heartbeat_timeout=int(settings.job_stale_after_s * 1000),
        maintenance_chance=10_000,  # of a million fetches: requeue dead workers' messages soon after their timeout
    )


class _ReadyAtBoot(dramatiq.Middleware):
    """Each worker process builds its search service as it boots, before it takes a message."""

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        worker_context()


_BROKER = _broker(SETTINGS)
_BROKER.add_middleware(_ReadyAtBoot())
dramatiq.set_broker(_BROKER)


@dataclass
class _WorkerContext:
    settings: Settings
    session_factory: sessionmaker[Session]
    search: SearchService


_context: _WorkerContext | None = None
_context_lock = threading.Lock()


def worker_context() -> _WorkerContext:
    """This worker process's database and search service, built on first use."""
    global _context
    with _context_lock:
        if _context is None:
            settings = SETTINGS
            engine = db.create_db_engine(settings)
            session_factory = db.create_session_factory(engine)
            search = build_search_service(settings, session_factory)
            search.start()
            _context = _WorkerContext(settings, session_factory, search)
        return _context


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def run_job(run_id: int) -> None:
    """Plan a run (once) and send a message for each of its pending chunks."""
    ctx = worker_context()
    try:
        if not start_attempt(ctx.session_factory, run_id):
            return
        plan_run(ctx.session_factory, run_id, ctx.settings.run_chunk_size)
        pending = pending_chunks(ctx.session_factory, run_id)
        if not pending:
            finish_run(ctx.session_factory, run_id)
        for seq, _ in pending:
            run_chunk.send(run_id, seq)
    except Exception as exc:
        fail_run(ctx.session_factory, run_id, exc)
        raise


@dramatiq.actor(queue_name=QUEUE, max_retries=CHUNK_RETRIES, min_backoff=200, max_backoff=5_000)
def run_chunk(run_id: int, seq: int) -> None:
    """Rank and write one chunk of a run (nothing when it is written already), then finish the run if it was the
    last one."""
    ctx = worker_context()
    pending = dict(pending_chunks(ctx.session_factory, run_id))
    if seq in pending:
        ctx.search.sync()
        chunk = prepare_chunk(ctx.session_factory, ctx.search, run_id, seq, pending[seq])
        ranked = rank(ctx.search.matcher, rank_settings(ctx.session_factory, run_id, None), chunk.task)
        store_chunk(ctx.session_factory, run_id, chunk, ranked)
    finish_run(ctx.session_factory, run_id)


@dramatiq.actor(queue_name=QUEUE, max_retries=CHUNK_RETRIES, min_backoff=200, max_backoff=5_000)
def embed_chunk(kind: str, ids: list[int]) -> None:
    """Embed one reindex chunk into the shared vector cache (records cached already or deleted are skipped)."""
    ctx = worker_context()
    record = SPECS[kind].model
    with ctx.session_factory() as session:
        records = list(session.scalars(select(record).where(record.id.in_(ids)).order_by(record.id)))
        ctx.search.cache.vectors(session, kind, records)  # type: ignore[arg-type]


def reindex_on_workers(
    session_factory: sessionmaker[Session], model: str, progress: Callable[[int, int], None] | None = None
) -> int:
    """Embed every missing vector on the broker's workers (see :mod:`matchmaker.services.reindex_jobs`)."""
    return embed_on_workers(
        session_factory,
        model,
        embed_chunk.send,
        stale_after_s=SETTINGS.job_stale_after_s,
        progress=progress,
    )


class BrokerEngine:
    """Sends jobs to the broker's workers."""

    def __init__(self, url: str) -> None:
        self.url = url

    def submit_run(self, run_id: int) -> None:
        """Send the run's planning message."""
        run_job.send(run_id)

    def stop(self) -> None:
        """Nothing runs here: the workers keep going."""


def worker_main(processes: int, threads: int = 1, extra: list[str] | None = None) -> None:
    """Replace this process with Dramatiq's worker command on this module (``matchmaker worker``)."""
    args: list[Any] = [sys.executable, "-m", "dramatiq", __name__, "--processes", str(processes)]
    args += ["--threads", str(threads), "--queues", QUEUE, *(extra or [])]
    os.execv(sys.executable, [str(a) for a in args])
