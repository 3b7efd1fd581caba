"""A matching run as a durable job: planned into chunks of needs in the database, each chunk ranked and its proposals
written in one transaction that also marks the chunk done, so that a run interrupted anywhere resumes from its
pending chunks and never writes a chunk twice.

* **Plan** (:func:`plan_run`): the open needs the run selects, split into ``job_chunks`` rows (unique per run and
  sequence number: two planners cannot both plan).
* **Chunk** (:func:`prepare_chunk` → :func:`~matchmaker.services.chunk_pool.rank` → :func:`store_chunk`): the
  needs still there, their decided pairings left out; the ranking stage; then one transaction that claims the chunk
  (``pending`` → ``done``, a no-op when another executor got there first), keeps only the needs and achievements that
  still exist (locked against deletion until the commit on PostgreSQL), writes the proposals and the run's progress.
  The pairing (need, achievement) is unique in ``matches``: even a bug could not write one twice.
* **Finish** (:func:`finish_run`): done when no chunk is pending.

The same chunk functions run in-process (:func:`execute_run`, the embedded default, its ranking spread over the
machine's cores by :class:`~matchmaker.services.chunk_pool.RankingPool`) and on broker workers
(:mod:`matchmaker.services.job_broker`). A run's ``heartbeat_at`` moves with every chunk; a run whose heartbeat
stops (its process died) is claimed again by :func:`claim_stale_runs` and resumed, up to ``MAX_ATTEMPTS`` times.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import cast

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from matchmaker.db import unit_of_work
from matchmaker.domain import DECIDED_STATUSES
from matchmaker.errors import MatchmakerError
from matchmaker.kinds import DEMANDS
from matchmaker.models import Achievement, Demand, Match, MatchingRun, utcnow
from matchmaker.models.jobs import JobChunk
from matchmaker.schemas.matching import MatchFilters
from matchmaker.search.documents import need_doc
from matchmaker.search.matcher import Query
from matchmaker.search.ranking import ConstraintPolicy, Ranked
from matchmaker.services.chunk_pool import RankingPool, RankSettings, RankTask
from matchmaker.services.duplicates import collapse_duplicates
from matchmaker.services.indexing import SearchService
from matchmaker.services.matching import index_filter
from matchmaker.services.runs import selected_needs
from matchmaker.services.staleness import stale_ids

log = logging.getLogger("matchmaker.matching")

RUN = "matching_run"  # job_chunks.job_kind of a matching run
MAX_ATTEMPTS = 3  # executions of one run (the first and two resumptions) before it is failed for good
STORE_TRIES = 3  # a chunk's transaction is retried when a concurrent write made it fail (it is idempotent)


@dataclass(frozen=True)
class PreparedChunk:
    """A chunk ready for the ranking stage: its number, its needs (those still open) and their decided pairings."""

    seq: int
    planned: int  # needs the plan put in this chunk (the run's progress counts them all)
    need_ids: list[int]
    decided: dict[int, set[int]]
    task: RankTask


def public_error(exc: BaseException) -> str:
    """What a run's ``error`` says: never a statement or its parameters."""
    if isinstance(exc, MatchmakerError):
        return exc.detail
    if isinstance(exc, SQLAlchemyError):
        return f"database error ({exc.__class__.__name__}); start the run again"
    return f"{exc.__class__.__name__}: {str(exc)[:300]}"


def plan_run(session_factory: sessionmaker[Session], run_id: int, chunk_size: int) -> None:
    """Split the run's needs into chunks, once: a run already planned (a resumption) is left as it is."""
    with unit_of_work(session_factory) as session:
        if session.scalar(select(func.count()).where(JobChunk.job_kind == RUN, JobChunk.job_id == run_id)):
            return
        run = session.get_one(MatchingRun, run_id)
        need_filters = MatchFilters(**run.filters.get("demands", {}))
        need_ids = list(session.scalars(selected_needs(need_filters).with_only_columns(Demand.id)))
        if run.filters.get("skip_stale"):  # closed records are never ranked; stale ones on request
            stale_needs = stale_ids(session, "demands")
            need_ids = [i for i in need_ids if i not in stale_needs]
        for seq, start in enumerate(range(0, len(need_ids), chunk_size)):
            session.add(JobChunk(job_kind=RUN, job_id=run_id, seq=seq, items=need_ids[start : start + chunk_size]))
        run.total, run.status, run.heartbeat_at = len(need_ids), "running", utcnow()


def start_attempt(session_factory: sessionmaker[Session], run_id: int) -> bool:
    """Count one more execution of the run; False (and the run failed) past ``MAX_ATTEMPTS`` or when it is over."""
    with unit_of_work(session_factory) as session:
        run = session.get_one(MatchingRun, run_id)
        if run.status not in ("queued", "running"):
            return False
        run.attempts += 1
        run.heartbeat_at = utcnow()
        if run.attempts > MAX_ATTEMPTS:
            _end(run, "failed", f"interrupted {MAX_ATTEMPTS} times (done {run.done}/{run.total}); start a new run")
            return False
        return True


def rank_settings(session_factory: sessionmaker[Session], run_id: int, today: date | None) -> RankSettings:
    """The run's achievement filter (stale achievements left out on request), constraint policy and date."""
    with session_factory() as session:
        run = session.get_one(MatchingRun, run_id)
        skipped = stale_ids(session, "achievements") if run.filters.get("skip_stale") else set()
        flt = index_filter(MatchFilters(**run.filters.get("achievements", {})), "achievements", exclude=sorted(skipped))
        return RankSettings(flt=flt, policy=cast(ConstraintPolicy, run.constraints), today=today)


def pending_chunks(session_factory: sessionmaker[Session], run_id: int) -> list[tuple[int, list[int]]]:
    """(seq, need ids) of the run's chunks not written yet, in order."""
    with session_factory() as session:
        rows = session.execute(
            select(JobChunk.seq, JobChunk.items)
            .where(JobChunk.job_kind == RUN, JobChunk.job_id == run_id, JobChunk.status == "pending")
            .order_by(JobChunk.seq)
        )
        return [(seq, list(items)) for seq, items in rows]


def prepare_chunk(
    session_factory: sessionmaker[Session], search: SearchService, run_id: int, seq: int, need_ids: list[int]
) -> PreparedChunk:
    """Read a chunk's needs (a need deleted or closed since the plan is left out) and embed them."""
    with session_factory() as session:
        k = session.get_one(MatchingRun, run_id).k
        needs = list(
            session.scalars(
                select(Demand).where(Demand.id.in_(need_ids), Demand.status == DEMANDS.live_status).order_by(Demand.id)
            )
        )
        decided: dict[int, set[int]] = {}
        rows = session.execute(
            select(Match.demand_id, Match.achievement_id).where(
                Match.demand_id.in_([d.id for d in needs]), Match.status.in_(DECIDED_STATUSES)
            )
        )
        for demand_id, achievement_id in rows:
            decided.setdefault(demand_id, set()).add(achievement_id)
        docs = [need_doc(d) for d in needs]
    queries = [Query(text=d.text, facts=d.facts) for d in docs]
    vectors = search.matcher.query_vectors([q.text for q in queries]) if queries else None
    extra = max((len(v) for v in decided.values()), default=0)
    # Room for the decided pairings and the duplicate copies dropped after the ranking.
    task = RankTask(queries=queries, vectors=vectors, k=2 * k + extra)  # type: ignore[arg-type]
    return PreparedChunk(seq=seq, planned=len(need_ids), need_ids=[d.id for d in needs], decided=decided, task=task)


def store_chunk(
    session_factory: sessionmaker[Session], run_id: int, chunk: PreparedChunk, ranked: list[list[Ranked]]
) -> bool:
    """Write one chunk's proposals and mark it done, in one transaction; False when it was done already."""
    for attempt in range(1, STORE_TRIES + 1):
        try:
            with unit_of_work(session_factory) as session:
                return _store(session, run_id, chunk, ranked)
        except (IntegrityError, OperationalError) as exc:  # a concurrent write (a delete, a lock): once more
            if attempt == STORE_TRIES:
                raise
            log.warning("matching run %s chunk %s: retrying after %s", run_id, chunk.seq, exc.__class__.__name__)
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def _store(session: Session, run_id: int, chunk: PreparedChunk, ranked: list[list[Ranked]]) -> bool:
    claimed = session.execute(
        update(JobChunk)
        .where(JobChunk.job_kind == RUN, JobChunk.job_id == run_id, JobChunk.seq == chunk.seq)
        .where(JobChunk.status == "pending")
        .values(status="done", done_at=utcnow())
    )
    if claimed.rowcount == 0:  # type: ignore[attr-defined]
        return False
    run = session.get_one(MatchingRun, run_id)
    # What still exists now, locked so that no delete can commit before this transaction (PostgreSQL).
    live_needs = set(
        session.scalars(
            select(Demand.id).where(Demand.id.in_(chunk.need_ids)).order_by(Demand.id).with_for_update(key_share=True)
        )
    )
    offer_ids = sorted({r.id for rs in ranked for r in rs})
    live_offers = set(
        session.scalars(
            select(Achievement.id)
            .where(Achievement.id.in_(offer_ids))
            .order_by(Achievement.id)
            .with_for_update(key_share=True)
        )
    )
    trimmed = [
        [r for r in rs if r.id in live_offers and r.id not in chunk.decided.get(need_id, set())]
        for need_id, rs in zip(chunk.need_ids, ranked, strict=True)
    ]
    lists = collapse_duplicates(session, "achievements", trimmed, run.k)
    existing = {
        (m.demand_id, m.achievement_id): m
        for m in session.scalars(select(Match).where(Match.demand_id.in_(sorted(live_needs))))
    }
    proposed = 0
    kept = sum(1 for m in existing.values() if m.status != "proposed")  # decided pairings, left untouched
    keep_ids: set[int] = set()
    for need_id, results in zip(chunk.need_ids, lists, strict=True):
        if need_id not in live_needs:
            continue
        for position, r in enumerate(results, start=1):
            match = existing.get((need_id, r.id))
            if match is None:
                match = Match(demand_id=need_id, achievement_id=r.id, status="proposed")
                session.add(match)
            elif match.status != "proposed":
                continue
            match.run_id, match.rank, match.score = run_id, position, float(r.score)
            match.explanation = r.explanation()
            proposed += 1
            if match.id is not None:
                keep_ids.add(match.id)
    stale = [m.id for m in existing.values() if m.status == "proposed" and m.id not in keep_ids]
    if stale:  # earlier undecided proposals for these needs, replaced (one a manager just decided stays)
        session.execute(delete(Match).where(Match.id.in_(stale), Match.status == "proposed"))
    run.done += chunk.planned
    run.proposed += proposed
    run.kept += kept
    run.heartbeat_at = utcnow()
    return True


def finish_run(session_factory: sessionmaker[Session], run_id: int) -> bool:
    """Mark the run done when none of its chunks is pending (idempotent); True when it is done now."""
    with unit_of_work(session_factory) as session:
        run = session.get_one(MatchingRun, run_id)
        if run.status == "done":
            return True
        if run.status != "running" or pending_count(session, run_id):
            return False
        _end(run, "done", None)
        return True


def pending_count(session: Session, run_id: int) -> int:
    """How many chunks of the run are not written yet."""
    return (
        session.scalar(
            select(func.count()).where(
                JobChunk.job_kind == RUN, JobChunk.job_id == run_id, JobChunk.status == "pending"
            )
        )
        or 0
    )


def release_run(session_factory: sessionmaker[Session], run_id: int) -> None:
    """Leave an unfinished run to the next executor: no heartbeat, so the next claim takes it at once."""
    with unit_of_work(session_factory) as session:
        session.execute(
            update(MatchingRun)
            .where(MatchingRun.id == run_id, MatchingRun.status == "running")
            .values(heartbeat_at=None)
        )


def fail_run(session_factory: sessionmaker[Session], run_id: int, exc: BaseException) -> None:
    """Record the failure (the message, never a statement) and free the scope for the next run."""
    log.error("matching run %s failed: %s", run_id, public_error(exc))
    with unit_of_work(session_factory) as session:
        run = session.get_one(MatchingRun, run_id)
        if run.status in ("queued", "running"):
            _end(run, "failed", public_error(exc))


def _end(run: MatchingRun, status: str, error: str | None) -> None:
    run.status, run.error, run.active, run.finished_at = status, error, None, utcnow()


def claim_stale_runs(session_factory: sessionmaker[Session], stale_after_s: float) -> list[int]:
    """Runs queued or running whose executor has shown no sign of life for ``stale_after_s``, claimed for this
    caller (their heartbeat set to now in one conditional update each, so two processes never both claim one)."""
    cutoff = utcnow() - timedelta(seconds=stale_after_s)
    claimed = []
    with session_factory() as session:
        candidates = list(session.scalars(select(MatchingRun.id).where(MatchingRun.status.in_(("queued", "running")))))
    for run_id in candidates:
        with unit_of_work(session_factory) as session:
            stale = or_(MatchingRun.heartbeat_at.is_(None), MatchingRun.heartbeat_at < cutoff)
            result = session.execute(
                update(MatchingRun).where(MatchingRun.id == run_id, stale).values(heartbeat_at=utcnow())
            )
            if result.rowcount:  # type: ignore[attr-defined]
                claimed.append(run_id)
    return claimed


def execute_run(
    session_factory: sessionmaker[Session],
    search: SearchService,
    run_id: int,
    *,
    workers: int = 1,
    chunk_size: int = 128,
    today: date | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Plan the run (once), then rank and write its pending chunks on ``workers`` processes, then finish it.

    Pairings a manager has decided (any status but proposed) are left untouched and never proposed again; the run's
    proposals replace earlier undecided proposals for the same needs. Any error fails the run with a message that
    names no statement; the run can then be started again. When ``stop`` is set (the process is shutting down) the
    run stops after the chunk in hand and is left for the next executor to resume at once (no heartbeat).
    """
    try:
        if not start_attempt(session_factory, run_id):
            return
        plan_run(session_factory, run_id, chunk_size)
        search.sync()
        settings = rank_settings(session_factory, run_id, today)

        pending = pending_chunks(session_factory, run_id)
        workers = min(workers, len(pending))  # a process per chunk at most (one chunk: none forked)

        def prepared() -> Iterator[tuple[PreparedChunk, RankTask]]:
            for seq, need_ids in pending:
                chunk = prepare_chunk(session_factory, search, run_id, seq, need_ids)
                yield chunk, chunk.task

        # Forked while the index follower is paused: no index write is half-done in the children.
        with RankingPool(search.matcher, settings, workers, fork_guard=search.paused) as pool:
            for chunk, ranked in pool.map(prepared()):
                store_chunk(session_factory, run_id, chunk, ranked)
                if stop is not None and stop.is_set():
                    release_run(session_factory, run_id)
                    return
        finish_run(session_factory, run_id)
    except Exception as exc:
        log.exception("matching run %s failed", run_id)
        fail_run(session_factory, run_id, exc)
        raise
