"""A reindex split into chunks for the broker's workers: the records whose vector is missing from the shared cache
(new text, a new model) are embedded by whichever workers take the chunks, then every process rebuilds its index
from the cache without a model call.

The durable state is the embedding cache itself: a chunk is done when each of its records has a vector of its
current text, written batch by batch. A reindex interrupted anywhere (this process, a worker) is resumed by running
it again, which sends only what is still missing; a chunk embedded twice writes the same rows (an upsert).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, sessionmaker

from matchmaker.errors import MatchmakerError
from matchmaker.kinds import KINDS, SPECS
from matchmaker.models import Embedding

log = logging.getLogger("matchmaker.jobs")


class ReindexStalled(MatchmakerError):
    """No worker embedded anything for too long."""

    code = "reindex_stalled"
    status_code = 503


def missing_vectors(session: Session, kind: str, model: str) -> list[int]:
    """Ids of the records of a list without a cached vector of their current text for ``model``."""
    record = SPECS[kind].model
    cached = and_(
        Embedding.kind == kind,
        Embedding.record_id == record.id,
        Embedding.model == model,
        Embedding.content_hash == record.content_hash,
    )
    stmt = select(record.id).outerjoin(Embedding, cached).where(Embedding.record_id.is_(None)).order_by(record.id)
    return list(session.scalars(stmt))


def embed_on_workers(
    session_factory: sessionmaker[Session],
    model: str,
    send: Callable[[str, list[int]], object],
    *,
    chunk_size: int = 256,
    stale_after_s: float = 60.0,
    poll_s: float = 0.5,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Send every missing vector as chunks and wait until none is missing; returns how many were sent.

    Chunks still missing after ``stale_after_s`` without progress (a worker died with its messages) are sent again
    once; with still no progress after that the reindex stops with :class:`ReindexStalled` (run it again)."""

    def missing() -> dict[str, list[int]]:
        with session_factory() as session:
            return {kind: missing_vectors(session, kind, model) for kind in KINDS}

    def send_all(todo: dict[str, list[int]]) -> None:
        for kind, ids in todo.items():
            for start in range(0, len(ids), chunk_size):
                send(kind, ids[start : start + chunk_size])

    todo = missing()
    total = sum(len(ids) for ids in todo.values())
    send_all(todo)
    left, last_change, resent = total, time.monotonic(), False
    while left:
        time.sleep(poll_s)
        todo = missing()
        now_left = sum(len(ids) for ids in todo.values())
        if now_left < left:
            left, last_change = now_left, time.monotonic()
            if progress is not None:
                progress(total - left, total)
        elif time.monotonic() - last_change > stale_after_s:
            if resent:
                raise ReindexStalled(f"no worker embedded anything for {stale_after_s:.0f} s ({left} vectors left)")
            log.warning("reindex: no progress for %.0f s; sending the %d missing vectors again", stale_after_s, left)
            send_all(todo)
            resent, last_change = True, time.monotonic()
    return total
