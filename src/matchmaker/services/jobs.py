"""The job engine of this process: where durable jobs execute, and the watch that resumes interrupted ones.

* :class:`InProcessEngine` (the embedded default, no broker): one thread executes one job at a time, the ranking
  stage spread over the machine's cores (:mod:`matchmaker.services.chunk_pool`).
* :class:`~matchmaker.services.job_broker.BrokerEngine` (``MATCHMAKER_JOB_BROKER`` set): the job's chunks become
  messages that worker processes on any machine take (``matchmaker worker``).

Both run the same chunk code (:mod:`matchmaker.services.run_jobs`) against the same tables; the database says what
is done. :class:`JobWatch` claims the runs whose executor stopped showing signs of life (a process killed, a machine
lost, a server stopped mid-run) and hands them to the engine again, which resumes them from their pending chunks.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from matchmaker.config import Settings
from matchmaker.services.chunk_pool import default_workers
from matchmaker.services.indexing import SearchService
from matchmaker.services.run_jobs import claim_stale_runs, execute_run

log = logging.getLogger("matchmaker.jobs")


class JobEngine(Protocol):
    """Executes durable jobs."""

    def submit_run(self, run_id: int) -> None:
        """Execute (or resume) a matching run."""

    def stop(self) -> None:
        """Stop taking jobs; a job in hand stops after its current chunk and is left to be resumed."""


class InProcessEngine:
    """Runs jobs in this process, one at a time, each over ``workers`` ranking processes."""

    def __init__(self, session_factory: sessionmaker[Session], search: SearchService, settings: Settings) -> None:
        self.session_factory = session_factory
        self.search = search
        self.workers = settings.run_workers or default_workers()
        self.chunk_size = settings.run_chunk_size
        self._stop = threading.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="matchmaker-run")

    def submit_run(self, run_id: int) -> None:
        """Queue the run behind the job in hand."""
        self._executor.submit(self._execute, run_id)

    def _execute(self, run_id: int) -> None:
        try:
            execute_run(
                self.session_factory,
                self.search,
                run_id,
                workers=self.workers,
                chunk_size=self.chunk_size,
                stop=self._stop,
            )
        except Exception:  # recorded on the run (failed, with its message) by execute_run
            pass

    def stop(self) -> None:
        """Finish the chunk in hand, leave the run to be resumed, and drop queued ones (the watch finds them)."""
        self._stop.set()
        self._executor.shutdown(wait=True, cancel_futures=True)


class JobWatch:
    """Every ``interval`` seconds (and once at start), resume the runs whose heartbeat is older than ``stale_after``."""

    def __init__(
        self, session_factory: sessionmaker[Session], engine: JobEngine, stale_after_s: float, interval: float
    ) -> None:
        self.session_factory = session_factory
        self.engine = engine
        self.stale_after_s = stale_after_s
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the daemon thread."""
        self._thread = threading.Thread(target=self._loop, name="matchmaker-job-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run_once(self) -> list[int]:
        """One pass: the runs claimed and handed to the engine."""
        claimed = claim_stale_runs(self.session_factory, self.stale_after_s)
        for run_id in claimed:
            log.warning("matching run %s was interrupted: resuming it", run_id)
            self.engine.submit_run(run_id)
        return claimed

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a database restart, say: the next pass retries
                log.exception("job watch pass failed")
            self._stop.wait(self.interval)


def build_engine(settings: Settings, session_factory: sessionmaker[Session], search: SearchService) -> JobEngine:
    """The broker engine when ``job_broker`` is set, else the in-process one."""
    if settings.job_broker:
        from matchmaker.services.job_broker import BrokerEngine

        return BrokerEngine(settings.job_broker)
    return InProcessEngine(session_factory, search, settings)


def start_jobs(
    settings: Settings, session_factory: sessionmaker[Session], search: SearchService
) -> tuple[JobEngine, JobWatch]:
    """This process's engine and its watch (started)."""
    engine = build_engine(settings, session_factory, search)
    watch = JobWatch(session_factory, engine, settings.job_stale_after_s, max(1.0, settings.job_stale_after_s / 2))
    watch.start()
    return engine, watch
