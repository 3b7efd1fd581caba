"""Keeps the in-memory matcher in step with the database, which is the truth.

* Vectors are cached in the `embeddings` table (services/embedding_cache.py): a restart or a rebuild never re-embeds
  unchanged text; switching model re-embeds (with progress reported).
* Every record write appends to `record_changes`. A request applies its own few changes when it commits (so a record
  is searchable when the API call returns, whatever backlog the follower has); a background thread follows the whole
  log every `sync_interval` seconds, or at once when a large import wakes it, embedding outside any lock a request
  waits on (so every worker sees other workers' writes within about that interval — no shared memory needed).
* The FAISS indexes are snapshotted atomically under data_dir/index/ with the last change applied; on start the
  snapshot is loaded (memory-mapped where FAISS allows) and the log since then is replayed. `matchmaker reindex`
  rebuilds from the database.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from matchmaker.kinds import KINDS, SPECS, Kind
from matchmaker.models import Achievement, Demand, RecordChange
from matchmaker.search.bands import DEFAULT_BANDS, Bands
from matchmaker.search.concepts import Thesaurus
from matchmaker.search.documents import Doc, document
from matchmaker.search.embedding import Embedder
from matchmaker.search.index import VectorIndex
from matchmaker.search.matcher import Collection, Matcher
from matchmaker.search.ranking import Weights
from matchmaker.search.rerank import CrossEncoderReranker
from matchmaker.search.snapshot import IndexStateError
from matchmaker.services.embedding_cache import EmbeddingCache

log = logging.getLogger("matchmaker.indexing")

Progress = Callable[[str, int, int], None]  # (list, done, total)
CONCEPT_CHANGES = "concepts"  # change-log kind of a thesaurus edit (services/concepts.py)
GAP_PATIENCE_S = 30.0  # how long a missing change id may still appear (a transaction that committed late)
INLINE_CATCH_UP = 64  # changes a request applies itself when it returns; a larger write is left to the follower
SYNC_CHUNK = 1000  # changes per pass over the log


def _all_records(session: Session, kind: Kind) -> list[Achievement | Demand]:
    model = SPECS[kind].model
    return cast(list[Achievement | Demand], list(session.scalars(select(model).order_by(model.id))))


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", name)[:120]


@dataclass
class SyncStats:
    """What one pass over the change log did."""

    changes: int = 0
    upserted: int = 0
    removed: int = 0
    embedded: int = 0


@dataclass
class Prepared:
    """Records of one list read from the database and embedded, ready to go into its index."""

    docs: list[Doc]
    vectors: np.ndarray
    gone: list[int]
    embedded: int


class SearchService:
    """The matcher of one process and its bookkeeping against the database."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        embedder: Embedder,
        *,
        index_dir: Path | None,
        weights: Weights | None = None,
        index_kind: str = "auto",
        hnsw_threshold: int = 20_000,
        hnsw_ef_search: int = 64,
        sync_interval: float = 0.5,
        snapshot_interval: float = 300.0,
        reranker: CrossEncoderReranker | None = None,
        use_thesaurus: bool = True,
        bands: Bands | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.use_thesaurus = use_thesaurus
        self.embedder = embedder
        self.cache = EmbeddingCache(embedder)
        self.index_dir = index_dir / _safe_name(embedder.name) if index_dir is not None else None
        self.matcher = Matcher(
            embedder,
            weights=weights,
            index_kind=index_kind,
            hnsw_threshold=hnsw_threshold,
            hnsw_ef_search=hnsw_ef_search,
            reranker=reranker,
            bands=bands or DEFAULT_BANDS,
        )
        self.last_change_id = 0
        self._gaps: dict[int, float] = {}
        self._sync_lock = threading.Lock()  # one pass over the change log (or a rebuild, or a snapshot) at a time
        self._apply_lock = threading.Lock()  # the lists change under it, briefly: never held while embedding
        self._written: dict[tuple[str, int], int] = {}  # records requests applied themselves → that change id
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sync_interval = sync_interval
        self.snapshot_interval = snapshot_interval
        self._dirty_since_snapshot = False
        self.ready = False

    # ------------------------------------------------------------------------------------------------ lifecycle
    def start(self, *, follow: bool = True, progress: Progress | None = None) -> None:
        """Load the snapshot (or build from the database), replay the change log, then follow it in a thread."""
        self.reload_thesaurus()
        loaded = self._load_snapshot()
        if not loaded:
            self.rebuild(progress=progress, save=True)
        self.sync()
        self.ready = True
        if follow:
            self._thread = threading.Thread(target=self._follow, name="matchmaker-index-follower", daemon=True)
            self._thread.start()

    def reload_thesaurus(self) -> None:
        """Read the managers' concept thesaurus into the matcher (an empty one when the thesaurus is switched off)."""
        with self.session_factory() as session:
            self._load_thesaurus(session)

    def _load_thesaurus(self, session: Session) -> None:
        from matchmaker.services.concepts import thesaurus

        # Replaced as a whole: a query in flight keeps the thesaurus it started with.
        self.matcher.thesaurus = thesaurus(session) if self.use_thesaurus else Thesaurus()

    def stop(self) -> None:
        """Stop following and write a final snapshot."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._dirty_since_snapshot:
            self.save_snapshot()

    def _follow(self) -> None:
        last_snapshot = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(self.sync_interval)
            self._wake.clear()
            try:
                self.sync()
                if self._dirty_since_snapshot and time.monotonic() - last_snapshot > self.snapshot_interval:
                    self.save_snapshot()
                    last_snapshot = time.monotonic()
            except Exception:  # keep following; the next pass retries (a database restart, say)
                log.exception("index follower pass failed")

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Hold off every sync (the follower's too) while the caller rewrites tables wholesale (TRUNCATE, restore):
        a follower pass reading between those statements would otherwise deadlock against them."""
        with self._sync_lock:
            yield

    # ----------------------------------------------------------------------------------------------- rebuilding
    def rebuild(self, *, progress: Progress | None = None, save: bool = True) -> dict[str, int]:
        """Rebuild both lists from the database (cached vectors reused; changed or missing ones embedded)."""
        with self._sync_lock:
            with self.session_factory() as session:
                head = session.scalar(select(func.max(RecordChange.id))) or 0
                counts: dict[str, int] = {}
                fresh: dict[Kind, Collection] = {}
                for kind in KINDS:
                    records = _all_records(session, kind)
                    done = 0

                    def advance(n: int, kind: str = kind, total: int = len(records)) -> None:
                        nonlocal done
                        done += n
                        if progress is not None:
                            progress(kind, done, total)

                    vectors = self.cache.vectors(session, kind, records, advance)
                    collection = Collection(self.matcher.new_index())
                    collection.upsert([document(kind, r) for r in records], vectors)
                    fresh[kind] = collection
                    counts[kind] = len(records)
                session.commit()  # the embedding cache rows
            with self._apply_lock:
                self.matcher.lists = fresh
                self.last_change_id = head
                self._gaps.clear()
                self._written.clear()
                self._dirty_since_snapshot = True
        if save:
            self.save_snapshot()
        return counts

    # ----------------------------------------------------------------------------------------------- following
    def sync(self) -> SyncStats:
        """Apply every change committed since the last pass (the database decides what each record now is), a chunk
        of the log at a time: the position moves, and a crash keeps the progress, chunk by chunk."""
        stats = SyncStats()
        while not self._stop.is_set():
            done = self._pass(stats)
            if done < SYNC_CHUNK:
                break
        return stats

    def _pass(self, stats: SyncStats) -> int:
        with self._sync_lock, self.session_factory() as session:
            now = time.monotonic()
            self._gaps = {g: t for g, t in self._gaps.items() if now - t < GAP_PATIENCE_S}
            condition = RecordChange.id > self.last_change_id
            if self._gaps:
                condition = or_(condition, RecordChange.id.in_(list(self._gaps)))
            stmt = select(RecordChange).where(condition).order_by(RecordChange.id).limit(SYNC_CHUNK)
            changes = list(session.scalars(stmt))
            if not changes:
                return 0
            stats.changes += len(changes)
            # Ids below the highest one seen that did not show up may belong to transactions still committing
            # (PostgreSQL hands out sequence numbers before commit): look for them again for a while.
            seen = {c.id for c in changes}
            top = max(seen)
            latest: dict[Kind, dict[int, int]] = {}  # list → record → its newest change in this chunk
            thesaurus_changed = False
            for change in changes:
                if change.kind == CONCEPT_CHANGES:
                    thesaurus_changed = True
                else:
                    latest.setdefault(cast(Kind, change.kind), {})[change.record_id] = change.id
            # Read and embed without the apply lock: a request applying its own write never waits for the model.
            prepared = {kind: self._prepare(session, kind, ids) for kind, ids in latest.items()}
            session.commit()
            with self._apply_lock:
                if thesaurus_changed:
                    self._load_thesaurus(session)
                for kind, batch in prepared.items():
                    # A record a request applied itself from a newer change keeps that state (this chunk may have
                    # read it before that write committed; a deleted record would otherwise come back).
                    newer = {i for i, c in latest[kind].items() if self._written.get((kind, i), 0) > c}
                    self._install(kind, batch, newer, stats)
                # Only now that every change is in the index (and the new vectors stored) does the position move:
                # a pass that fails half-way leaves it where it was, and the next pass applies the same changes
                # again (applying is idempotent: the database says what each record now is).
                for change in changes:
                    self._gaps.pop(change.id, None)
                for missing in range(self.last_change_id + 1, top):
                    if missing not in seen:
                        self._gaps.setdefault(missing, now)
                self.last_change_id = max(self.last_change_id, top)
                self._written = {k: c for k, c in self._written.items() if c > self.last_change_id}
                self._dirty_since_snapshot = True
            return len(changes)

    def _prepare(self, session: Session, kind: Kind, ids: Iterable[int]) -> Prepared:
        """What the database now holds for these records: their documents and vectors (embedded where not cached),
        and the ids that are gone."""
        model = SPECS[kind].model
        wanted = sorted(ids)
        # In id order, so that two workers storing the same new vectors lock the cache rows in the same order.
        stmt = select(model).where(model.id.in_(wanted)).order_by(model.id)
        records = cast(list[Achievement | Demand], list(session.scalars(stmt)))
        present = {r.id for r in records}
        before = self.cache.model_calls
        vectors = self.cache.vectors(session, kind, records)
        docs = [document(kind, r) for r in records]
        return Prepared(docs, vectors, [i for i in wanted if i not in present], self.cache.model_calls - before)

    def _install(self, kind: Kind, batch: Prepared, skip: set[int], stats: SyncStats) -> None:
        """Put prepared records into the index (the caller holds the apply lock)."""
        keep = [row for row, doc in enumerate(batch.docs) if doc.id not in skip]
        collection = self.matcher.lists[kind]
        collection.upsert([batch.docs[row] for row in keep], batch.vectors[keep])
        # A deleted record's cached vector is removed by the transaction that deletes the record (records.py), never
        # here: every worker follows the log, and their deletes raced the writers' into deadlocks on PostgreSQL.
        gone = [i for i in batch.gone if i not in skip]
        collection.remove(gone)
        stats.upserted += len(keep)
        stats.removed += len(gone)
        stats.embedded += batch.embedded

    def after_commit(self, written: Sequence[RecordChange]) -> None:
        """A request's own committed writes: applied at once when few (searchable when the call returns, without
        waiting for the follower or for another request's backlog); a large import is left to the follower."""
        if len(written) > INLINE_CATCH_UP:
            self._wake.set()
            return
        self.apply_written([(c.kind, c.record_id, c.id) for c in written])

    def apply_written(self, written: Sequence[tuple[str, int, int]]) -> None:
        """Apply these records' current state (list, record id, change id) without moving the log position; the
        follower applies the same changes again later (idempotent) unless this state is newer than what it read."""
        stats = SyncStats()
        with self.session_factory() as session:
            if any(kind == CONCEPT_CHANGES for kind, _, _ in written):
                self._load_thesaurus(session)
            newest: dict[Kind, dict[int, int]] = {}
            for kind, record_id, change_id in written:
                if kind != CONCEPT_CHANGES:
                    ids = newest.setdefault(cast(Kind, kind), {})
                    ids[record_id] = max(change_id, ids.get(record_id, 0))
            prepared = {kind: self._prepare(session, kind, ids) for kind, ids in newest.items()}
            session.commit()
        with self._apply_lock:
            for kind, batch in prepared.items():
                # A change the follower has passed was read after it committed: the index holds that state or newer.
                old = {i for i, c in newest[kind].items() if c <= self.last_change_id and c not in self._gaps}
                self._install(kind, batch, old, stats)
                for record_id, change_id in newest[kind].items():
                    if record_id not in old:
                        self._written[(kind, record_id)] = change_id
            self._dirty_since_snapshot = True

    def ensure_current(self, kind: str, record_id: int) -> bool:
        """Whether a record is in the index, applying it first if it is not yet (another worker wrote it)."""
        if record_id in self.matcher.lists[kind].docs:  # type: ignore[index]
            return True
        try:
            with self.session_factory() as session:
                stmt = select(func.max(RecordChange.id)).where(
                    RecordChange.kind == kind, RecordChange.record_id == record_id
                )
                change_id = session.scalar(stmt)
            if change_id is not None:
                self.apply_written([(kind, record_id, change_id)])
        except Exception:  # a read must not fail on the catch-up: the follower thread retries it
            log.exception("index catch-up failed; the follower will retry")
        return record_id in self.matcher.lists[kind].docs  # type: ignore[index]

    # ------------------------------------------------------------------------------------------------ snapshots
    def save_snapshot(self) -> None:
        """Write both indexes atomically with the change id they include."""
        if self.index_dir is None:
            return
        with self._sync_lock:
            applied = min(self._gaps) - 1 if self._gaps else self.last_change_id
            for kind in KINDS:
                meta = {"model": self.embedder.name, "list": kind, "last_change_id": applied}
                self.matcher.lists[kind].index.save(self.index_dir / kind, meta)
            self._dirty_since_snapshot = False

    def _load_snapshot(self) -> bool:
        if self.index_dir is None or not all((self.index_dir / k / "meta.json").exists() for k in KINDS):
            return False
        try:
            loaded: dict[str, tuple[VectorIndex, dict[str, Any]]] = {
                kind: VectorIndex.load(self.index_dir / kind, mmap=True) for kind in KINDS
            }
        except (IndexStateError, OSError, ValueError) as exc:
            log.warning("index snapshot unusable (%s); rebuilding from the database", exc)
            return False
        metas = [meta for _, meta in loaded.values()]
        if any(m.get("model") != self.embedder.name for m in metas):
            return False
        applied = min(int(m.get("last_change_id", 0)) for m in metas)
        with self.session_factory() as session:
            lists: dict[Kind, Collection] = {}
            for kind in KINDS:
                index, _meta = loaded[kind]
                index.ef_search = self.matcher.hnsw_ef_search  # the setting, not what the snapshot was saved with
                records = _all_records(session, kind)
                collection = Collection(index)
                docs = [document(kind, r) for r in records]
                collection.docs = {d.id: d for d in docs if d.id in index}
                collection.lexical.upsert(
                    [d.id for d in docs if d.id in index], [d.text for d in docs if d.id in index]
                )
                lists[kind] = collection
        self._gaps.clear()
        self.matcher.lists = lists
        self.last_change_id = applied
        # Repair what the log replay would not: vectors of records deleted while no process ran are dropped, and
        # records the snapshot lacks (a change older than the snapshot that it did not include) are added.
        with self.session_factory() as session:
            for kind in KINDS:
                stale = [
                    i for i in self.matcher.lists[kind].index.ids().tolist() if i not in self.matcher.lists[kind].docs
                ]
                self.matcher.lists[kind].index.remove(stale)
                db_ids = set(session.scalars(select(SPECS[kind].model.id)))
                missing = db_ids - set(self.matcher.lists[kind].docs)
                if missing:
                    self._install(kind, self._prepare(session, kind, missing), set(), SyncStats())
            session.commit()
        return True

    # ---------------------------------------------------------------------------------------------------- info
    def status(self) -> dict[str, Any]:
        """Counts and state of the indexes (for /readyz and the CLI)."""
        return {
            "model": self.embedder.name,
            "dimension": self.embedder.dimension,
            "last_change_id": self.last_change_id,
            "lists": {
                kind: {
                    "records": len(self.matcher.lists[kind]),
                    "index": self.matcher.lists[kind].index.kind_in_use,
                    "tombstone_share": round(self.matcher.lists[kind].index.tombstone_share, 4),
                }
                for kind in KINDS
            },
        }
