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
``bm25s`` builds a static index (a CSC matrix of precomputed per-term document scores). Writes only change the token
lists kept here and bump a version (rewriting identical tokens changes nothing); reads notice the snapshot is behind
and rebuild the whole ``bm25s`` index, so a batch of writes costs one rebuild (about 40 µs a document: 16 ms at 300,
0.4 s at 10,000). Up to ``sync_rebuild_max`` documents (10,000) the read waits for that rebuild, so every read sees
every earlier write. Above, a rebuild takes seconds to minutes, so the read goes on with the previous snapshot while
one background thread rebuilds and swaps the new one in: reads never stall behind a write, and lexical results lag
writes by one rebuild (new records are still found by the dense retriever meanwhile, and the matcher drops records
that are gone). The read waits anyway when the snapshot holds fewer than half the documents (the first build after a
bulk load). :meth:`LexicalIndex.refresh` rebuilds and waits. Tokenising happens in :meth:`LexicalIndex.upsert`
outside every lock.

Queries
-------
Scores are the sum over the query's distinct columns (strongest first, a repeated token weighted by its count) of the
matrix's precomputed per-document scores; every path adds the same float32 terms in the same order, so
:meth:`~LexicalIndex.search` and :meth:`~LexicalIndex.scores` agree exactly. ``search`` scores the whole corpus
(``np.add.at`` per column, memory-bound: about 3 ns per posting) and then selects among the documents at or above a
lower bound of the k-th best score, found from the documents of the query's strongest tokens (usually little more
than k documents are left to sort). ``scores`` looks given ids up in the query's posting lists by binary search,
without a pass over the corpus.

Cost, measured on the synthetic corpus of benchmarks/_common.py (the sample records' jieba tokens resampled with a
long tail of compound terms: about 117 tokens and 85 postings a document, 208k distinct tokens at 1M documents; the
100 sample needs as queries, about 70 distinct tokens each; bm25s 0.3.16, numpy 2.4; a 2-core VM shared with other
jobs, so the ranges are load noise):

    =========  ==================  ===========================  =======================  ===================
    documents  rebuild             jieba ``tokenize`` of all    ``search`` k = 120       ``scores``, 120 ids
                                   texts (done once, at write)  (median / p90)
    =========  ==================  ===========================  =======================  ===================
    100,000    8-10 s              45-78 s                      1.6 / 2.0 ms             0.7 ms
    1,000,000  80-166 s            (not measured)               7-15 / 11-29 ms          0.7-1 ms
    =========  ==================  ===========================  =======================  ===================

The scoring pass is the floor of ``search`` (a compiled loop was measured at 4-6 ms at 1M: the postings' memory
traffic dominates); beyond a million documents, exact top-k with dynamic pruning (block-max WAND in a search engine
or PostgreSQL's text search) is the next step.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import bm25s
import numpy as np
import numpy.typing as npt

from matchmaker.search.text import tokenize

__all__ = ["LexicalIndex"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
IdArray = npt.NDArray[np.int64]
Ids = Sequence[int] | npt.NDArray[np.integer[Any]]
"""Record ids: a list or an integer numpy array."""


SYNC_REBUILD_MAX = 10_000
"""Up to this many documents a read after a write waits for the rebuild (about 0.4 s at most); above, see Updates."""
THRESHOLD_PROBE = 4096
"""Postings read from the query's strongest terms to find a score threshold before selecting the top k."""


@dataclass(frozen=True)
class _Snapshot:
    """A built, immutable ``bm25s`` index; ``ids[p]`` is the record id at corpus position ``p`` (ascending)."""

    ids: IdArray
    retriever: bm25s.BM25 | None  # None when no document has a token (bm25s cannot build an empty vocabulary)
    vocab: dict[str, int]
    idf: FloatArray  # per vocabulary column
    col_max: FloatArray  # per vocabulary column: the largest score any document gets from that token

    @property
    def n_docs(self) -> int:
        return len(self.ids)

    def positions(self, ids: npt.ArrayLike) -> tuple[IdArray, npt.NDArray[np.bool_]]:
        """Corpus positions of ``ids`` and whether each id is indexed (positions of unknown ids are meaningless)."""
        wanted = np.asarray(ids, dtype=np.int64).ravel()
        pos = np.searchsorted(self.ids, wanted)
        known = pos < self.n_docs
        known[known] = self.ids[pos[known]] == wanted[known]
        return pos.astype(np.int64), known

    def columns(self, query_tokens: list[str]) -> tuple[IdArray, FloatArray]:
        """The query's distinct vocabulary columns and each token's count in the query, strongest column first.

        "Strongest" is the largest contribution the column can make to any document (count × column maximum).
        Every scoring path adds the columns' float32 terms in this order, so :meth:`all_scores` and
        :meth:`scores_at` give bit-identical scores.
        """
        token_ids = [self.vocab[t] for t in query_tokens if t in self.vocab]
        if not token_ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        ordered = np.sort(np.asarray(token_ids, dtype=np.int64))
        first = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
        cols = ordered[first]
        counts = np.diff(np.append(first, ordered.shape[0])).astype(np.float32)
        order = np.argsort(-(counts * self.col_max[cols]), kind="stable")
        return cols[order], counts[order]

    def _arrays(self) -> tuple[FloatArray, npt.NDArray[Any], npt.NDArray[Any]]:
        assert self.retriever is not None
        scores = self.retriever.scores
        return scores["data"], scores["indices"], scores["indptr"]

    def all_scores(self, query_tokens: list[str], weight_mask: FloatArray | None = None) -> FloatArray | None:
        """BM25 score of every document, or None when no query token is in the vocabulary (all scores 0).

        The sum over the query's columns of bm25s's precomputed per-document scores (what
        ``BM25.get_scores_from_ids`` computes), a repeated query token counted once per occurrence.
        """
        if self.retriever is None:
            return None
        cols, counts = self.columns(query_tokens)
        if not len(cols):
            return None
        data, indices, indptr = self._arrays()
        scores = np.zeros(self.n_docs, dtype=np.float32)
        for col, count in zip(cols.tolist(), counts.tolist(), strict=True):
            start, end = int(indptr[col]), int(indptr[col + 1])
            values = data[start:end] if count == 1.0 else np.float32(count) * data[start:end]
            np.add.at(scores, indices[start:end], values)  # indices are distinct within a column
        if weight_mask is not None:
            scores *= weight_mask
        return scores

    def scores_at(self, query_tokens: list[str], positions: IdArray) -> FloatArray:
        """BM25 scores of the documents at ``positions`` only.

        Each column's postings are sorted by document position, so a binary search per column finds the given
        documents: O(columns × m × log df) instead of a pass over every posting of the query, which is what scoring
        a hundred candidates of a million-document corpus needs. The positions are searched in ascending order
        (numpy narrows each search from the previous one).
        """
        out = np.zeros(len(positions), dtype=np.float32)
        if self.retriever is None or not len(positions):
            return out
        cols, counts = self.columns(query_tokens)
        data, indices, indptr = self._arrays()
        order = np.argsort(positions, kind="stable")
        wanted = positions[order].astype(indices.dtype, copy=False)
        sums = np.zeros(len(positions), dtype=np.float32)
        for col, count in zip(cols.tolist(), counts.tolist(), strict=True):
            start, end = int(indptr[col]), int(indptr[col + 1])
            column = indices[start:end]
            at = np.searchsorted(column, wanted)
            found = at < column.shape[0]
            found[found] = column[at[found]] == wanted[found]
            if found.any():
                values = data[start + at[found]]
                sums[found] += values if count == 1.0 else np.float32(count) * values
        out[order] = sums
        return out

    def threshold(self, query_tokens: list[str], scores: FloatArray, k: int) -> float:
        """A lower bound of the k-th best score: the k-th best among the documents of the strongest query tokens.

        Any k distinct documents bound the k-th best score from below; those holding the tokens with the highest
        possible contribution are the likeliest to be near the top, so ``scores >= threshold`` usually keeps little
        more than k documents instead of every document that shares one common word with the query. 0.0 when the
        probe finds fewer than k documents (the caller then keeps every positive score).
        """
        if self.retriever is None:
            return 0.0
        cols, _ = self.columns(query_tokens)
        if not len(cols):
            return 0.0
        _, indices, indptr = self._arrays()
        parts: list[npt.NDArray[Any]] = []
        taken = 0
        for col in cols.tolist():
            start, end = int(indptr[col]), int(indptr[col + 1])
            parts.append(indices[start : min(end, start + THRESHOLD_PROBE)])
            taken += parts[-1].shape[0]
            if taken >= max(THRESHOLD_PROBE, 4 * k):
                break
        probe = _distinct(np.concatenate(parts))
        if probe.shape[0] < k:
            return 0.0
        values = scores[probe]
        return float(np.partition(values, values.shape[0] - k)[values.shape[0] - k])


def _distinct(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Sorted distinct values (np.unique hashes in numpy 2, about ten times slower than a sort at these sizes)."""
    ordered = np.sort(values)
    if ordered.shape[0] > 1:
        ordered = ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]
    return ordered


class LexicalIndex:
    """BM25 over tokenized records: upsert / remove / scores / search / idf; see the module docstring for costs."""

    def __init__(self, *, k1: float = 1.2, b: float = 0.75, sync_rebuild_max: int = SYNC_REBUILD_MAX) -> None:
        self.k1 = k1
        self.b = b
        self.sync_rebuild_max = sync_rebuild_max
        self._docs: dict[int, list[str]] = {}
        self._lock = threading.Lock()  # guards _docs, _version and swapping the snapshot in
        self._build_lock = threading.Lock()  # one build at a time
        self._version = 0  # bumped by every write
        self._built_version = 0  # the write version the snapshot reflects
        self._snapshot: _Snapshot = self._build(np.zeros(0, dtype=np.int64), [])
        self._rebuilder: threading.Thread | None = None

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
            changed = False
            for record_id, toks in zip(ids, interned, strict=True):
                key = int(record_id)
                if self._docs.get(key) != toks:  # an unchanged text (a price edit, a replay) costs no rebuild
                    self._docs[key] = toks
                    changed = True
            if changed:
                self._version += 1

    def remove(self, ids: Ids) -> None:
        """Remove records; unknown ids are ignored."""
        with self._lock:
            removed = [self._docs.pop(int(record_id), None) for record_id in ids]
            if any(r is not None for r in removed):
                self._version += 1

    def refresh(self) -> None:
        """Rebuild now if writes are pending and wait for it: afterwards every read sees every earlier write."""
        self._rebuild_now()

    # -- reads ----------------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, id: object) -> bool:
        return isinstance(id, int | np.integer) and int(id) in self._docs

    def stats(self) -> dict[str, int]:
        """Size of the built index: documents, distinct tokens, postings and bytes of the score matrix."""
        snap = self._current()
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
        snap = self._current()
        out = np.zeros(len(ids), dtype=np.float32)
        if not len(ids):
            return out
        pos, known = snap.positions(ids)
        if known.any():
            out[known] = snap.scores_at(query_tokens, pos[known])
        return out

    def search(self, query_tokens: list[str], k: int, allowed: npt.ArrayLike | None = None) -> list[tuple[int, float]]:
        """The ``k`` best records with a positive score, best first, as ``(id, score)``.

        ``allowed`` (record ids, any integer array-like) restricts the search to those records; unknown ids in it
        are ignored. Ties are broken by ascending id so results are deterministic.
        """
        if k <= 0:
            return []
        snap = self._current()
        mask: FloatArray | None = None
        if allowed is not None:
            allowed_ids = np.asarray(allowed)
            if allowed_ids.dtype == np.bool_:
                raise TypeError("allowed holds record ids, not a boolean mask")
            pos, known = snap.positions(allowed_ids)
            if not known.any():
                return []
            mask = np.zeros(snap.n_docs, dtype=np.float32)
            mask[pos[known]] = 1.0
        # Scores through bm25s, selection here rather than with BM25.retrieve: retrieve raises when k exceeds the
        # corpus size, returns zero-score documents and breaks ties arbitrarily.
        all_scores = snap.all_scores(query_tokens, weight_mask=mask)
        if all_scores is None:
            return []
        # Select from the documents at or above a cheap lower bound of the k-th best score rather than from every
        # positive score: with common words in the query that is most of the corpus, and partitioning a million
        # scores costs more than computing them.
        floor = snap.threshold(query_tokens, all_scores, k)
        hits = np.flatnonzero(all_scores >= floor) if floor > 0 else np.flatnonzero(all_scores > 0)
        if len(hits) > k:
            # Keep every hit scoring at least the k-th best score (ties included), so the id tie-break below
            # decides which of the tied ones make the cut.
            kth = np.partition(all_scores[hits], len(hits) - k)[len(hits) - k]
            hits = hits[all_scores[hits] >= kth]
        order = np.lexsort((snap.ids[hits], -all_scores[hits]))[:k]
        best = hits[order]
        return [(int(i), float(s)) for i, s in zip(snap.ids[best], all_scores[best], strict=True)]

    def idf(self, token: str) -> float:
        """Inverse document frequency ``ln(1 + (N − df + 0.5) / (df + 0.5))``; unseen tokens get the df = 0 value."""
        snap = self._current()
        col = snap.vocab.get(token)
        if col is not None:
            return float(snap.idf[col])
        return math.log(1.0 + (snap.n_docs + 0.5) / 0.5)

    # -- building -------------------------------------------------------------------------------------------------

    def _current(self) -> _Snapshot:
        """The snapshot to read: rebuilt first when writes are pending and the corpus is small (see Updates)."""
        snap = self._snapshot
        if self._built_version == self._version:
            return snap
        if len(self._docs) <= self.sync_rebuild_max or snap.n_docs < len(self._docs) // 2:
            self._rebuild_now()
            return self._snapshot
        self._rebuild_in_background()
        return snap

    def _rebuild_now(self) -> None:
        with self._build_lock:
            if self._built_version == self._version:
                return
            with self._lock:  # a consistent copy of the corpus; the token lists themselves are never mutated
                version = self._version
                ids = np.fromiter(sorted(self._docs), dtype=np.int64, count=len(self._docs))
                corpus = [self._docs[i] for i in ids.tolist()]
            snap = self._build(ids, corpus)
            with self._lock:
                self._snapshot, self._built_version = snap, version

    def _rebuild_in_background(self) -> None:
        with self._lock:
            if self._rebuilder is not None and self._rebuilder.is_alive():
                return
            self._rebuilder = threading.Thread(target=self._rebuild_until_current, name="bm25-rebuild", daemon=True)
            self._rebuilder.start()

    def _rebuild_until_current(self) -> None:
        while True:
            try:
                self._rebuild_now()
            except Exception:  # readers keep the previous snapshot; the next read after a write tries again
                log.exception("BM25 rebuild failed")
                return
            with self._lock:
                if self._built_version == self._version:
                    return

    def _build(self, ids: IdArray, corpus: list[list[str]]) -> _Snapshot:
        """Build a snapshot of ``corpus`` (token lists in the order of ``ids``, ascending)."""
        if not any(corpus):
            empty = np.zeros(0, dtype=np.float32)
            return _Snapshot(ids=ids, retriever=None, vocab={}, idf=empty, col_max=empty)
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
        return _Snapshot(ids=ids, retriever=retriever, vocab=dict(retriever.vocab_dict), idf=idf, col_max=col_max)
