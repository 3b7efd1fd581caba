"""Keeps the in-memory matcher in step with the database, which is the truth.

* Vectors are cached in the `embeddings` table by (list, record, model, content hash): a restart or a rebuild never
  re-embeds unchanged text; switching model re-embeds (with progress reported).
* Every record write appends to `record_changes`. Each process follows that log: right after its own commits (so a
  record is searchable when the API call returns) and from a background thread every `sync_interval` seconds (so
  every worker process sees other workers' writes within about that interval — no shared memory needed).
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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from matchmaker.config import Settings
from matchmaker.kinds import KINDS, SPECS, Kind
from matchmaker.models import Achievement, Demand, Embedding, RecordChange
from matchmaker.search.bands import DEFAULT_BANDS, Bands
from matchmaker.search.concepts import Thesaurus
from matchmaker.search.documents import document
from matchmaker.search.embedding import Embedder
from matchmaker.search.index import VectorIndex
from matchmaker.search.matcher import Collection, Matcher
from matchmaker.search.ranking import Weights
from matchmaker.search.rerank import CrossEncoderReranker
from matchmaker.search.snapshot import IndexStateError

log = logging.getLogger("matchmaker.indexing")

Progress = Callable[[str, int, int], None]  # (list, done, total)
EMBED_BATCH = 64
CONCEPT_CHANGES = "concepts"  # change-log kind of a thesaurus edit (services/concepts.py)
GAP_PATIENCE_S = 30.0  # how long a missing change id may still appear (a transaction that committed late)


def build_search_service(
    settings: Settings, session_factory: sessionmaker[Session], *, sync_interval: float | None = None
) -> SearchService:
    """A search service configured from settings (embedder, index, weights, optional reranker); not started."""
    from matchmaker.search.embedding import create_embedder
    from matchmaker.search.index import set_faiss_threads

    set_faiss_threads(settings.faiss_threads)
    embedder = create_embedder(
        settings.embedder,
        device=settings.embedder_device,
        batch_size=settings.embed_batch_size,
        to_simplified=settings.embed_to_simplified,
    )
    reranker = None
    if settings.reranker is not None:
        reranker = CrossEncoderReranker(
            settings.reranker,
            device=settings.embedder_device,
            top_n=settings.reranker_top_n,
            weight=settings.reranker_weight,
        )
    return SearchService(
        session_factory,
        embedder,
        index_dir=settings.index_dir,
        weights=Weights.from_dict(settings.ranking_weights),
        index_kind=settings.index_kind,
        hnsw_threshold=settings.hnsw_threshold,
        hnsw_ef_search=settings.hnsw_ef_search,
        sync_interval=sync_interval or settings.sync_interval_s,
        use_thesaurus=settings.thesaurus,
        bands=replace(DEFAULT_BANDS, **settings.band_thresholds) if settings.band_thresholds else None,
        snapshot_interval=settings.snapshot_interval_s,
        reranker=reranker,
    )


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


class EmbeddingCache:
    """Vectors stored in the database by (list, record, model, content hash)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.model_calls = 0  # texts sent to the model (benchmarks assert 0 for an unchanged reindex)

    def vectors(
        self,
        session: Session,
        kind: str,
        records: Sequence[Achievement | Demand],
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """One normalised vector per record: cached where the hash matches, otherwise embedded and stored."""
        dim = self.embedder.dimension
        out = np.zeros((len(records), dim), dtype=np.float32)
        if not records:
            return out
        cached: dict[int, Embedding] = {}
        ids = [r.id for r in records]
        for start in range(0, len(ids), 900):
            stmt = select(Embedding).where(
                Embedding.kind == kind,
                Embedding.model == self.embedder.name,
                Embedding.record_id.in_(ids[start : start + 900]),
            )
            cached.update({e.record_id: e for e in session.scalars(stmt)})
        todo: list[int] = []
        for row, record in enumerate(records):
            hit = cached.get(record.id)
            if hit is not None and hit.content_hash == record.content_hash and hit.dimension == dim:
                out[row] = np.frombuffer(hit.vector, dtype=np.float32)
            else:
                todo.append(row)
        if progress is not None and len(records) > len(todo):
            progress(len(records) - len(todo))
        for start in range(0, len(todo), EMBED_BATCH):
            rows = todo[start : start + EMBED_BATCH]
            vectors = self.embedder.encode_documents([records[r].embed_text() for r in rows])
            self.model_calls += len(rows)
            out[rows] = vectors
            self._store(session, kind, [records[r] for r in rows], vectors)
            if progress is not None:
                progress(len(rows))
        return out

    def _store(self, session: Session, kind: str, records: Sequence[Achievement | Demand], vectors: np.ndarray) -> None:
        rows = [
            {
                "kind": kind,
                "record_id": r.id,
                "model": self.embedder.name,
                "content_hash": r.content_hash,
                "dimension": self.embedder.dimension,
                "vector": v.astype(np.float32).tobytes(),
            }
            for r, v in zip(records, vectors, strict=True)
        ]
        dialect = session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = insert(Embedding).values(rows)
        stmt = stmt.on_conflict_do_update(
            index_elements=["kind", "record_id", "model"],
            set_={
                "content_hash": stmt.excluded.content_hash,
                "dimension": stmt.excluded.dimension,
                "vector": stmt.excluded.vector,
            },
        )
        session.execute(stmt)
        # Committed batch by batch: the model call for the next batch must not run while this transaction holds the
        # database's write lock (on SQLite that lock is the whole file, and requests waiting on it answered 500).
        session.commit()


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
        self._sync_lock = threading.Lock()
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
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._dirty_since_snapshot:
            self.save_snapshot()

    def _follow(self) -> None:
        last_snapshot = time.monotonic()
        while not self._stop.wait(self.sync_interval):
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
            self.matcher.lists = fresh
            self.last_change_id = head
            self._gaps.clear()
            self._dirty_since_snapshot = True
        if save:
            self.save_snapshot()
        return counts

    # ----------------------------------------------------------------------------------------------- following
    def sync(self) -> SyncStats:
        """Apply every change committed since the last pass (the database decides what each record now is)."""
        stats = SyncStats()
        with self._sync_lock, self.session_factory() as session:
            now = time.monotonic()
            self._gaps = {g: t for g, t in self._gaps.items() if now - t < GAP_PATIENCE_S}
            condition = RecordChange.id > self.last_change_id
            if self._gaps:
                condition = or_(condition, RecordChange.id.in_(list(self._gaps)))
            changes = list(session.scalars(select(RecordChange).where(condition).order_by(RecordChange.id)))
            if not changes:
                return stats
            stats.changes = len(changes)
            # Ids below the highest one seen that did not show up may belong to transactions still committing
            # (PostgreSQL hands out sequence numbers before commit): look for them again for a while.
            seen = {c.id for c in changes}
            top = max(seen)
            by_kind: dict[Kind, set[int]] = {}
            thesaurus_changed = False
            for change in changes:
                if change.kind == CONCEPT_CHANGES:
                    thesaurus_changed = True
                    continue
                by_kind.setdefault(cast(Kind, change.kind), set()).add(change.record_id)
            if thesaurus_changed:
                self._load_thesaurus(session)
            for kind, ids in by_kind.items():
                up, removed, embedded = self._apply(session, kind, ids)
                stats.upserted += up
                stats.removed += removed
                stats.embedded += embedded
            session.commit()
            # Only now that every change is in the index (and the new vectors stored) does the position move: a pass
            # that fails half-way leaves it where it was, and the next pass applies the same changes again (applying
            # is idempotent: the database says what each record now is).
            for change in changes:
                self._gaps.pop(change.id, None)
            for missing in range(self.last_change_id + 1, top):
                if missing not in seen:
                    self._gaps.setdefault(missing, now)
            self.last_change_id = max(self.last_change_id, top)
            self._dirty_since_snapshot = True
        return stats

    def _apply(self, session: Session, kind: Kind, ids: Iterable[int]) -> tuple[int, int, int]:
        model = SPECS[kind].model
        collection = self.matcher.lists[kind]
        wanted = sorted(ids)
        # In id order, so that two workers storing the same new vectors lock the cache rows in the same order.
        stmt = select(model).where(model.id.in_(wanted)).order_by(model.id)
        records = cast(list[Achievement | Demand], list(session.scalars(stmt)))
        present = {r.id for r in records}
        gone = [i for i in wanted if i not in present]
        before = self.cache.model_calls
        vectors = self.cache.vectors(session, kind, records)
        collection.upsert([document(kind, r) for r in records], vectors)
        # A deleted record's cached vector is removed by the transaction that deletes the record (records.py), never
        # here: every worker follows the log, and their deletes raced the writers' into deadlocks on PostgreSQL.
        collection.remove(gone)
        return len(records), len(gone), self.cache.model_calls - before

    def ensure_current(self, kind: str, record_id: int) -> bool:
        """Whether a record is in the index, syncing once first if it is not yet (another worker wrote it)."""
        if record_id in self.matcher.lists[kind].docs:  # type: ignore[index]
            return True
        try:
            self.sync()
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
                    self._apply(session, kind, missing)
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
