"""BM25 index over segmented Chinese and English text, keyed by database integer ids.

Scoring
-------
Okapi BM25 in its Lucene form, as computed by ``bm25s`` (``method="lucene"``). For a query ``q`` and a document ``d``
of ``|d|`` tokens in a corpus of ``N`` documents with average length ``avgdl``::

    score(q, d) = Σ_{t ∈ q} idf(t) · tf(t, d) / (tf(t, d) + k1 · (1 − b + b · |d| / avgdl))
    idf(t)      = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))

where ``tf(t, d)`` counts ``t`` in ``d`` and ``df(t)`` counts the documents holding ``t``. The sum runs over the query
tokens as given, so a token repeated in the query counts once per occurrence (as in Lucene); pass distinct tokens to
weigh each once. Scores are ``float32``, non-negative, and 0 exactly when a document shares no token with the query.

Tokens come from :func:`matchmaker.search.text.tokenize` (jieba search mode, Traditional→Simplified, lower-case,
stop words removed); ``bm25s`` gets the token lists as they are and applies no stemmer or stop-word list of its own.

Updates
-------
``bm25s`` builds a static index (a CSC matrix of precomputed per-term document scores); rebuilding it costs about 40 µs
a document (16 ms at 300, 0.4 s at 10,000, minutes at a million). Writes therefore do not rebuild it. A write goes into
an *overlay*: the records written since the snapshot was built, each scored with the snapshot's frozen statistics
(``N``, ``df``, ``avgdl``; a token the snapshot has never seen gets the ``df = 0`` idf), while the snapshot's own copy
of a changed or removed record is left out of its answers. Every read sees every earlier write at once, at the cost of
slightly stale statistics for the few records in the overlay. A *merge* (a full rebuild in one background thread,
swapped in when done) folds the overlay into a new snapshot once it holds ``merge_pending`` records (256) or its oldest
write is ``merge_age_s`` old (30 s), but not sooner than three times the last merge's duration after it (at a million
documents a merge takes minutes, and back-to-back merges would keep a core busy), unless the overlay is half full. Reads
never wait for a merge, and writes made during one stay in the next overlay. :meth:`LexicalIndex.refresh` merges now and
waits, after which every score is exact.

The overlay is made for a trickle of writes, not for bulk loads: it is copy-on-write (a read holds one consistent
view without a lock), so each write copies its tokens' posting maps. A batch that would take the overlay past
``overlay_max`` records (2,000), or a corpus that has more than doubled since the snapshot (the first build after a
bulk load), drops the overlay: up to ``sync_rebuild_max`` documents (10,000) the next read rebuilds and waits; above,
reads go on with the snapshot as built (new texts lag, and the matcher drops records that are gone) until the
background rebuild swaps the new one in. Tokenising happens in :meth:`LexicalIndex.upsert` outside every lock.

Queries
-------
Snapshot scores are the sum over the query's distinct columns (strongest first, a repeated token weighted by its
count) of the matrix's precomputed per-document scores; every path adds the same float32 terms in the same order, so
:meth:`~LexicalIndex.search` and :meth:`~LexicalIndex.scores` agree exactly. ``search`` scores the whole corpus
(``np.add.at`` per column, memory-bound: about 3 ns per posting) and then selects among the documents at or above a
lower bound of the k-th best score, found from the documents of the query's strongest tokens (usually little more
than k documents are left to sort). ``scores`` looks given ids up in the query's posting lists by binary search,
without a pass over the corpus. Overlay records are scored from the overlay's own posting maps (Python, so the
cost grows with the postings the query shares with them); both paths go through the same function, so ``search``
and ``scores`` agree exactly there too. The measured costs (overlay, rebuild, tokenising, ``search`` and ``scores``
at 100k and 1M documents) are in benchmarks/README.md.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import bm25s
import numpy as np
import numpy.typing as npt

from matchmaker.search.bm25 import FloatArray, IdArray, Overlay, Snapshot
from matchmaker.search.text import tokenize

__all__ = ["LexicalIndex"]

log = logging.getLogger(__name__)

Ids = Sequence[int] | npt.NDArray[np.integer[Any]]
"""Record ids: a list or an integer numpy array."""


SYNC_REBUILD_MAX = 10_000
"""Up to this many documents a read waits for a rebuild the overlay cannot stand in for (0.4 s at most)."""
MERGE_PENDING = 256
"""Records in the overlay that start a background merge."""
MERGE_AGE_S = 30.0
"""Age of the oldest write in the overlay that starts a background merge."""
MERGE_REST = 3.0
"""A merge waits until this many times the last merge's duration has passed since it (merges use ≤ 1/4 of a core)."""
OVERLAY_MAX = 2_000
"""Records the overlay takes; a batch past it drops the overlay (see Updates)."""


class LexicalIndex:
    """BM25 over tokenized records: upsert / remove / scores / search / idf; see the module docstring for costs."""

    def __init__(
        self,
        *,
        k1: float = 1.2,
        b: float = 0.75,
        merge_pending: int = MERGE_PENDING,
        merge_age_s: float = MERGE_AGE_S,
        merge_rest: float = MERGE_REST,
        overlay_max: int = OVERLAY_MAX,
        sync_rebuild_max: int = SYNC_REBUILD_MAX,
    ) -> None:
        self.k1 = k1
        self.b = b
        self.merge_pending = merge_pending
        self.merge_age_s = merge_age_s
        self.merge_rest = merge_rest
        self.overlay_max = overlay_max
        self.sync_rebuild_max = sync_rebuild_max
        self._docs: dict[int, list[str]] = {}
        self._lock = threading.Lock()  # guards _docs, _version, _pending and swapping _view
        self._build_lock = threading.Lock()  # one build at a time
        self._version = 0  # bumped by every write
        self._pending: dict[int, int] = {}  # records written since the snapshot's copy -> the write's version
        # What reads use, swapped as one: the snapshot, and the overlay (None when dropped, see Updates).
        self._view: tuple[Snapshot, Overlay | None] = (self._build(np.zeros(0, dtype=np.int64), []), Overlay())
        self._rebuilder: threading.Thread | None = None
        self._merged_at = 0.0  # time.monotonic() when the last build was swapped in
        self._merge_s = 0.0  # how long it took

    # -- writes ---------------------------------------------------------------------------------------------------

    def upsert(self, ids: Ids, texts: Sequence[str]) -> None:
        """Tokenize ``texts`` with :func:`~matchmaker.search.text.tokenize` and add or replace the records."""
        if len(ids) != len(texts):
            raise ValueError(f"{len(ids)} ids but {len(texts)} texts")
        self.upsert_tokens(ids, [tokenize(t) for t in texts])

    def upsert_tokens(self, ids: Ids, tokens: Sequence[list[str]]) -> None:
        """Add or replace records from already tokenized text (the last one wins when an id repeats)."""
        if len(ids) != len(tokens):
            raise ValueError(f"{len(ids)} ids but {len(tokens)} token lists")
        if len(ids) == 0:
            return
        # Interned, each distinct token is stored once rather than once per occurrence (100k documents of 80
        # tokens: about 80 MiB instead of 680 MiB).
        interned = [[sys.intern(t) for t in toks] for toks in tokens]
        with self._lock:
            writes: dict[int, list[str] | None] = {}
            for record_id, toks in zip(ids, interned, strict=True):
                key = int(record_id)
                if self._docs.get(key) != toks:  # an unchanged text (a price edit, a replay) costs nothing
                    self._docs[key] = toks
                    writes[key] = toks
            self._write(writes)

    def remove(self, ids: Ids) -> None:
        """Remove records; unknown ids are ignored."""
        with self._lock:
            self._write({int(i): None for i in ids if self._docs.pop(int(i), None) is not None})

    def _write(self, writes: dict[int, list[str] | None]) -> None:
        """Record applied writes as pending and in the overlay (caller holds ``_lock``)."""
        if not writes:
            return
        self._version += 1
        self._pending.update(dict.fromkeys(writes, self._version))
        snap, overlay = self._view
        if overlay is not None and len(self._pending) <= self.overlay_max and snap.n_docs >= len(self._docs) // 2:
            overlay = overlay.written(snap, writes, time.monotonic())
        else:
            overlay = None
        self._view = (snap, overlay)

    def refresh(self) -> None:
        """Merge pending writes now and wait: afterwards every score is exact (the statistics of the whole corpus)."""
        self._rebuild_now()

    def after_fork(self) -> None:
        """In a forked child: new locks and no rebuild thread (threads do not survive a fork; held locks would)."""
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._rebuilder = None

    # -- reads ----------------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, id: object) -> bool:
        return isinstance(id, int | np.integer) and int(id) in self._docs

    def stats(self) -> dict[str, int]:
        """Size of the built index (documents, distinct tokens, postings, bytes of the score matrix) and the overlay."""
        snap, overlay = self._view
        postings = matrix_bytes = 0
        if snap.retriever is not None:
            arrays = [snap.retriever.scores[key] for key in ("data", "indices", "indptr")]
            postings = int(arrays[0].shape[0])
            matrix_bytes = sum(int(a.nbytes) for a in arrays)
        return {
            "documents": snap.n_docs,
            "vocabulary": len(snap.vocab),
            "postings": postings,
            "matrix_bytes": matrix_bytes,
            "pending": len(self._pending),
            "overlay": -1 if overlay is None else len(overlay.docs),
        }

    def tokens(self, id: int) -> list[str] | None:
        """The stored tokens of a record, or None when it is not indexed."""
        toks = self._docs.get(int(id))  # a single dict lookup is atomic, no lock needed
        return None if toks is None else list(toks)

    def scores(self, query_tokens: list[str], ids: Ids) -> FloatArray:
        """BM25 score of each given id, in the given order (0 for ids that are not indexed).

        Looks the ids up in the query's posting lists (no pass over the corpus), so it is cheap for the hundred or
        so candidates of one query whatever the corpus size.
        """
        snap, overlay = self._current()
        out = np.zeros(len(ids), dtype=np.float32)
        if not len(ids):
            return out
        wanted = np.asarray(ids, dtype=np.int64)
        pos, known = self._in_snapshot(snap, overlay, wanted)
        if known.any():
            out[known] = snap.scores_at(query_tokens, pos[known])
        if overlay is not None and overlay.docs:
            self._fill_fresh(out, wanted, overlay, overlay.score_map(snap, query_tokens))
        return out

    def search(self, query_tokens: list[str], k: int, allowed: npt.ArrayLike | None = None) -> list[tuple[int, float]]:
        """The ``k`` best records with a positive score, best first, as ``(id, score)``.

        ``allowed`` (record ids, any integer array-like) restricts the search to those records; unknown ids in it
        are ignored. Ties are broken by ascending id so results are deterministic.
        """
        if k <= 0:
            return []
        allowed_ids: IdArray | None = None
        if allowed is not None:
            raw = np.asarray(allowed)
            if raw.dtype == np.bool_:
                raise TypeError("allowed holds record ids, not a boolean mask")
            allowed_ids = raw.astype(np.int64, copy=False).ravel()
        return self._search(query_tokens, k, allowed_ids, np.zeros(0, dtype=np.int64))[0]

    def search_scoring(self, query_tokens: list[str], k: int, ids: Ids) -> tuple[list[tuple[int, float]], FloatArray]:
        """``search(query_tokens, k)`` and ``scores(query_tokens, ids)`` from one pass over the corpus, bit for bit
        the same: the matcher's BM25 candidates and the BM25 of its dense candidates at the price of the search."""
        return self._search(query_tokens, k, None, np.asarray(ids, dtype=np.int64).ravel())

    def _search(
        self, query_tokens: list[str], k: int, allowed: IdArray | None, wanted: IdArray
    ) -> tuple[list[tuple[int, float]], FloatArray]:
        snap, overlay = self._current()
        pos, known = self._in_snapshot(snap, overlay, wanted)
        stale = overlay.stale if overlay is not None else np.zeros(0, dtype=np.int64)
        hits, at = snap.top(query_tokens, k, allowed, stale, pos[known])
        scores = np.zeros(len(wanted), dtype=np.float32)
        scores[known] = at
        if overlay is None or not overlay.docs:
            return hits, scores
        fresh_map = overlay.score_map(snap, query_tokens)
        self._fill_fresh(scores, wanted, overlay, fresh_map)
        fresh = [(i, float(np.float32(s))) for i, s in fresh_map.items() if s > 0]
        if fresh and allowed is not None:
            keep = np.isin(np.fromiter((i for i, _ in fresh), dtype=np.int64, count=len(fresh)), allowed)
            fresh = [hit for hit, kept in zip(fresh, keep.tolist(), strict=True) if kept]
        if fresh and k > 0:
            hits = sorted(hits + fresh, key=lambda hit: (-hit[1], hit[0]))[:k]
        return hits, scores

    @staticmethod
    def _in_snapshot(snap: Snapshot, overlay: Overlay | None, wanted: IdArray) -> tuple[IdArray, npt.NDArray[np.bool_]]:
        """Snapshot positions of ``wanted`` and whether the snapshot answers for each (indexed and not stale)."""
        pos, known = snap.positions(wanted)
        if overlay is not None and len(overlay.stale) and len(wanted):
            known &= ~np.isin(wanted, overlay.stale)
        return pos, known

    @staticmethod
    def _fill_fresh(out: FloatArray, wanted: IdArray, overlay: Overlay, fresh: dict[int, float]) -> None:
        """Set the scores of the overlay's records among ``wanted`` from its score map."""
        for i, record_id in enumerate(wanted.tolist()):
            if record_id in overlay.docs:
                out[i] = fresh.get(record_id, 0.0)

    def idf(self, token: str) -> float:
        """Inverse document frequency ``ln(1 + (N − df + 0.5) / (df + 0.5))`` of the snapshot (see Updates)."""
        snap, _ = self._view
        return snap.token_idf(token)

    # -- building -------------------------------------------------------------------------------------------------

    def _current(self) -> tuple[Snapshot, Overlay | None]:
        """The snapshot and overlay to read, starting or waiting for a rebuild where one is due (see Updates)."""
        view = self._view
        snap, overlay = view
        if overlay is None:
            if len(self._docs) <= self.sync_rebuild_max or snap.n_docs < len(self._docs) // 2:
                self._rebuild_now()
                return self._view
            self._rebuild_in_background()
        elif self._merge_due(overlay):
            self._rebuild_in_background()
        return view

    def _merge_due(self, overlay: Overlay) -> bool:
        """Whether to start a merge: see Updates (limits, and the rest between merges)."""
        pending = len(self._pending)
        if not pending:
            return False
        if pending >= self.overlay_max // 2:  # before the overlay overflows, whatever the rest
            return True
        now = time.monotonic()
        if now - self._merged_at < self.merge_rest * self._merge_s:
            return False
        return pending >= self.merge_pending or now - overlay.since >= self.merge_age_s

    def _rebuild_now(self) -> None:
        with self._build_lock:
            with self._lock:  # a consistent copy of the corpus; the token lists themselves are never mutated
                if not self._pending and self._view[1] is not None:
                    return
                version, started = self._version, time.monotonic()
                ids = np.fromiter(sorted(self._docs), dtype=np.int64, count=len(self._docs))
                corpus = [self._docs[i] for i in ids.tolist()]
            snap = self._build(ids, corpus)
            with self._lock:
                self._merged_at = time.monotonic()
                self._merge_s = self._merged_at - started
                # Writes made during the build stay pending, in a new overlay over the new snapshot.
                self._pending = {i: v for i, v in self._pending.items() if v > version}
                overlay: Overlay | None = None
                if len(self._pending) <= self.overlay_max:
                    writes = {i: self._docs.get(i) for i in self._pending}
                    overlay = Overlay().written(snap, writes, started) if writes else Overlay()
                self._view = (snap, overlay)

    def _rebuild_in_background(self) -> None:
        with self._lock:
            if self._rebuilder is not None and self._rebuilder.is_alive():
                return
            self._rebuilder = threading.Thread(target=self._rebuild_until_readable, name="bm25-rebuild", daemon=True)
            self._rebuilder.start()

    def _rebuild_until_readable(self) -> None:
        """Merge; again while the overlay stays dropped (writes during the build went past ``overlay_max``)."""
        while True:
            try:
                self._rebuild_now()
            except Exception:  # readers keep the previous view; the next read that finds a merge due tries again
                log.exception("BM25 rebuild failed")
                return
            if self._view[1] is not None:
                return

    def _build(self, ids: IdArray, corpus: list[list[str]]) -> Snapshot:
        """Build a snapshot of ``corpus`` (token lists in the order of ``ids``, ascending)."""
        avgdl = float(np.mean([len(doc) for doc in corpus])) if corpus else 0.0
        if not any(corpus):
            empty = np.zeros(0, dtype=np.float32)
            return Snapshot(
                ids=ids, retriever=None, vocab={}, idf=empty, col_max=empty, avgdl=avgdl, k1=self.k1, b=self.b
            )
        retriever = bm25s.BM25(k1=self.k1, b=self.b, method="lucene", backend="numpy", csc_backend="auto")
        retriever.index(corpus, create_empty_token=False, show_progress=False)
        n_docs = len(ids)
        # The matrix holds one entry per (document, distinct token): a column's length is the token's df.
        df = np.diff(retriever.scores["indptr"]).astype(np.float64)
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        data, indptr = retriever.scores["data"], retriever.scores["indptr"]
        col_max = np.zeros(len(indptr) - 1, dtype=np.float32)
        filled = np.flatnonzero(df > 0)
        if filled.size:
            col_max[filled] = np.maximum.reduceat(data, indptr[filled])
        vocab = dict(retriever.vocab_dict)
        return Snapshot(
            ids=ids, retriever=retriever, vocab=vocab, idf=idf, col_max=col_max, avgdl=avgdl, k1=self.k1, b=self.b
        )
