"""Vectors cached in the database by (list, record, model, content hash): a restart, a rebuild or another worker never
re-embeds text that was embedded once with the same model."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from matchmaker.models import Achievement, Demand, Embedding
from matchmaker.search.embedding import Embedder

EMBED_BATCH = 64
LOOKUP_CHUNK = 900  # ids per IN (...) list: within every database's parameter limit


class EmbeddingCache:
    """Vectors stored in the database by (list, record, model, content hash)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.model_calls = 0  # texts sent to the model (benchmarks assert 0 for an unchanged reindex)

    def _cached(self, session: Session, kind: str, records: Sequence[Achievement | Demand]) -> dict[int, np.ndarray]:
        """The stored vectors of these records that still match their text and the model's dimension."""
        dim = self.embedder.dimension
        hashes = {r.id: r.content_hash for r in records}
        ids = list(hashes)
        found: dict[int, np.ndarray] = {}
        for start in range(0, len(ids), LOOKUP_CHUNK):
            stmt = select(Embedding).where(
                Embedding.kind == kind,
                Embedding.model == self.embedder.name,
                Embedding.record_id.in_(ids[start : start + LOOKUP_CHUNK]),
            )
            for hit in session.scalars(stmt):
                if hit.content_hash == hashes[hit.record_id] and hit.dimension == dim:
                    found[hit.record_id] = np.frombuffer(hit.vector, dtype=np.float32)
        return found

    def vectors(
        self,
        session: Session,
        kind: str,
        records: Sequence[Achievement | Demand],
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """One normalised vector per record: cached where the hash matches, otherwise embedded and stored."""
        out = np.zeros((len(records), self.embedder.dimension), dtype=np.float32)
        if not records:
            return out
        cached = self._cached(session, kind, records)
        todo: list[int] = []
        for row, record in enumerate(records):
            if record.id in cached:
                out[row] = cached[record.id]
            else:
                todo.append(row)
        if progress is not None and len(records) > len(todo):
            progress(len(records) - len(todo))
        batches = [todo[start : start + EMBED_BATCH] for start in range(0, len(todo), EMBED_BATCH)]
        # Each process starts at its own batch and looks in the cache again before every model call: two workers
        # following the same large import embed different halves and take the rest from each other's stored vectors.
        turn = random.randrange(len(batches)) if len(batches) > 1 else 0
        for rows in batches[turn:] + batches[:turn]:
            stored = self._cached(session, kind, [records[r] for r in rows]) if len(batches) > 1 else {}
            missing = [r for r in rows if records[r].id not in stored]
            for r in rows:
                if records[r].id in stored:
                    out[r] = stored[records[r].id]
            if missing:
                vectors = self.embedder.encode_documents([records[r].embed_text() for r in missing])
                self.model_calls += len(missing)
                out[missing] = vectors
                self._store(session, kind, [records[r] for r in missing], vectors)
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
