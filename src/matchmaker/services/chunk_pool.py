"""The chunk executor of a matching run on one machine: the ranking stage (Python, so one core per process under the
GIL) runs in forked worker processes that share the parent's indexes copy-on-write; the parent embeds the queries,
reads and writes the database.

Forked rather than spawned: a child starts in milliseconds with the indexes already in memory (100k achievements are
not copied until written, and a child never writes them), where a spawned one would load the model and the index
snapshot again. A fork copies the locks of the parent's other threads as they were: the child replaces them all
(:meth:`~matchmaker.search.matcher.Matcher.after_fork`) before it ranks. ``workers=1`` ranks in the calling thread,
with no process at all.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

import numpy as np

from matchmaker.search.filters import Filter
from matchmaker.search.matcher import Matcher, Query
from matchmaker.search.ranking import ConstraintPolicy, Ranked

T = TypeVar("T")


@dataclass(frozen=True)
class RankTask:
    """One chunk's queries for the ranking stage, with their vectors (embedded by the parent) and a tag it returns."""

    queries: list[Query]
    vectors: np.ndarray
    k: int


@dataclass(frozen=True)
class RankSettings:
    """What is the same for every chunk of a run."""

    flt: Filter | None
    policy: ConstraintPolicy
    today: date | None


_child: tuple[Matcher, RankSettings] | None = None  # set in the parent just before the fork, read in the children


def rank(matcher: Matcher, settings: RankSettings, task: RankTask) -> list[list[Ranked]]:
    """The ranking stage of one chunk: achievements for each need."""
    return matcher.match_many(
        task.queries,
        "achievements",
        k=task.k,
        flt=settings.flt,
        policy=settings.policy,
        today=settings.today,
        vectors=task.vectors,
    )


def _child_init() -> None:
    assert _child is not None
    _child[0].after_fork()


def _child_rank(item: tuple[T, RankTask]) -> tuple[T, list[list[Ranked]]]:
    assert _child is not None
    tag, task = item
    return tag, rank(_child[0], _child[1], task)


def default_workers() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class RankingPool:
    """Ranks chunks on ``workers`` processes (forked from this one) or, with one worker, in the calling thread."""

    def __init__(
        self,
        matcher: Matcher,
        settings: RankSettings,
        workers: int,
        fork_guard: Callable[[], AbstractContextManager[object]] = nullcontext,
    ) -> None:
        self.matcher = matcher
        self.settings = settings
        self.workers = max(1, workers)
        self.fork_guard = fork_guard  # held while the children are forked (the index follower paused)
        self._pool: multiprocessing.pool.Pool | None = None

    def __enter__(self) -> RankingPool:
        if self.workers > 1:
            global _child
            _child = (self.matcher, self.settings)
            # The collector walks (and so writes to) every object it tracks: in a child that would copy each page of
            # the shared indexes. Frozen, the parent's objects are left alone (what app.py does after start-up).
            gc.freeze()
            with self.fork_guard():
                self._pool = multiprocessing.get_context("fork").Pool(self.workers, initializer=_child_init)
        return self

    def __exit__(self, *exc: object) -> None:
        global _child
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
        _child = None

    def map(self, items: Iterable[tuple[T, RankTask]]) -> Iterator[tuple[T, list[list[Ranked]]]]:
        """Rank each (tag, task) in order of the input; the input is read ahead while earlier chunks rank."""
        if self._pool is None:
            for tag, task in items:
                yield tag, rank(self.matcher, self.settings, task)
            return
        yield from self._pool.imap(_child_rank, items)
