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
and ``scores`` agree exactly there too. Measured beside a 2,000-document snapshot (same corpus and queries as
below): ``search`` k = 120 took 0.4 ms with an empty overlay, 0.7 ms with 256 records in it, 1.6 ms with 1,000 and
3.0 ms with 2,000 (medians); a write into the overlay took 0.15-0.3 ms a record, against 0.27 s for the rebuild
it replaces.

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
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
"""Up to this many documents a read waits for a rebuild the overlay cannot stand in for (0.4 s at most)."""
MERGE_PENDING = 256
"""Records in the overlay that start a background merge."""
MERGE_AGE_S = 30.0
"""Age of the oldest write in the overlay that starts a background merge."""
MERGE_REST = 3.0
"""A merge waits until this many times the last merge's duration has passed since it (merges use ≤ 1/4 of a core)."""
OVERLAY_MAX = 2_000
"""Records the overlay takes; a batch past it drops the overlay (see Updates)."""
THRESHOLD_PROBE = 4096
"""Postings read from the query's strongest terms to find a score threshold before selecting the top k."""
COLUMN_CACHE_SIZE = 4096
"""Queries whose vocabulary columns a snapshot keeps (then it starts over)."""


@dataclass(frozen=True)
class _Snapshot:
    """A built, immutable ``bm25s`` index; ``ids[p]`` is the record id at corpus position ``p`` (ascending)."""

    ids: IdArray
    retriever: bm25s.BM25 | None  # None when no document has a token (bm25s cannot build an empty vocabulary)
    vocab: dict[str, int]
    idf: FloatArray  # per vocabulary column
    col_max: FloatArray  # per vocabulary column: the largest score any document gets from that token
    avgdl: float  # mean tokens per document (0.0 for an empty corpus)
    k1: float
    b: float
    # The columns of recent queries: a snapshot's vocabulary never changes, and the same needs are ranked again and
    # again (each lookup walks every query token through the vocabulary).
    _column_cache: dict[tuple[str, ...], tuple[IdArray, FloatArray]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def n_docs(self) -> int:
        return len(self.ids)

    def token_idf(self, token: str) -> float:
        """The token's idf in this snapshot; a token no document holds gets the ``df = 0`` value."""
        col = self.vocab.get(token)
        if col is not None:
            return float(self.idf[col])
        return math.log(1.0 + (self.n_docs + 0.5) / 0.5)

    def tf_parts(self, tokens: list[str]) -> dict[str, float]:
        """Each distinct token's ``tf / (tf + k1 · (1 − b + b · |d| / avgdl))`` for a document of ``tokens``."""
        avgdl = self.avgdl or float(len(tokens)) or 1.0
        norm = self.k1 * (1.0 - self.b + self.b * len(tokens) / avgdl)
        return {token: tf / (tf + norm) for token, tf in Counter(tokens).items()}

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
        key = tuple(query_tokens)
        found = self._column_cache.get(key)
        if found is not None:
            return found
        token_ids = [self.vocab[t] for t in query_tokens if t in self.vocab]
        if not token_ids:
            found = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        else:
            ordered = np.sort(np.asarray(token_ids, dtype=np.int64))
            first = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
            cols = ordered[first]
            counts = np.diff(np.append(first, ordered.shape[0])).astype(np.float32)
            order = np.argsort(-(counts * self.col_max[cols]), kind="stable")
            found = cols[order], counts[order]
            found[0].flags.writeable = found[1].flags.writeable = False  # shared by every later query
        if len(self._column_cache) >= COLUMN_CACHE_SIZE:
            self._column_cache.clear()
        self._column_cache[key] = found
        return found

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

    def top(
        self, query_tokens: list[str], k: int, allowed: IdArray | None, excluded: IdArray, also: IdArray
    ) -> tuple[list[tuple[int, float]], FloatArray]:
        """The ``k`` best documents with a positive score among ``allowed`` (all when None) minus ``excluded``, and
        the scores of the documents at positions ``also`` from the same pass (what :meth:`scores_at` gives them,
        bit for bit; 0 where ``allowed`` or ``excluded`` leaves them out)."""
        mask: FloatArray | None = None
        also_scores = np.zeros(len(also), dtype=np.float32)
        if allowed is not None:
            pos, known = self.positions(allowed)
            if not known.any():
                return [], also_scores
            mask = np.zeros(self.n_docs, dtype=np.float32)
            mask[pos[known]] = 1.0
        # Scores through bm25s, selection here rather than with BM25.retrieve: retrieve raises when k exceeds the
        # corpus size, returns zero-score documents and breaks ties arbitrarily.
        all_scores = self.all_scores(query_tokens, weight_mask=mask)
        if all_scores is None:
            return [], also_scores
        if len(excluded):
            pos, known = self.positions(excluded)
            all_scores[pos[known]] = 0.0
        also_scores[:] = all_scores[also]
        if k <= 0:
            return [], also_scores
        # Select from the documents at or above a cheap lower bound of the k-th best score rather than from every
        # positive score: with common words in the query that is most of the corpus, and partitioning a million
        # scores costs more than computing them.
        floor = self.threshold(query_tokens, all_scores, k)
        hits = np.flatnonzero(all_scores >= floor) if floor > 0 else np.flatnonzero(all_scores > 0)
        if len(hits) > k:
            # Keep every hit scoring at least the k-th best score (ties included), so the id tie-break below
            # decides which of the tied ones make the cut.
            kth = np.partition(all_scores[hits], len(hits) - k)[len(hits) - k]
            hits = hits[all_scores[hits] >= kth]
        order = np.lexsort((self.ids[hits], -all_scores[hits]))[:k]
        best = hits[order]
        return [(int(i), float(s)) for i, s in zip(self.ids[best], all_scores[best], strict=True)], also_scores


@dataclass(frozen=True)
class _Overlay:
    """Records written since the snapshot was built, scored with the snapshot's statistics (see Updates).

    Never mutated: :meth:`written` returns a new overlay that shares the unchanged parts, so a reader holding one
    needs no lock.
    """

    docs: Mapping[int, Mapping[str, float]] = field(default_factory=dict)  # present records: token -> tf part
    postings: Mapping[str, Mapping[int, float]] = field(default_factory=dict)  # token -> record -> tf part
    # Records of the snapshot that changed or are gone, ascending: kept as the array every read passes to numpy.
    stale: IdArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    since: float = 0.0  # time.monotonic() of the oldest pending write

    @property
    def empty(self) -> bool:
        return not self.docs and not len(self.stale)

    def written(self, snap: _Snapshot, writes: Mapping[int, list[str] | None], now: float) -> _Overlay:
        """This overlay with ``writes`` applied (tokens, or None for a removal) at ``now`` (time.monotonic())."""
        ids = list(writes)
        docs = dict(self.docs)
        postings = dict(self.postings)
        copied: set[str] = set()  # posting maps already copied for this overlay

        def posting(token: str) -> dict[int, float]:
            if token not in copied:
                postings[token] = dict(postings.get(token, {}))
                copied.add(token)
            return postings[token]  # type: ignore[return-value]

        for record_id, tokens in writes.items():
            for token in docs.pop(record_id, {}):
                posting(token).pop(record_id, None)
            if tokens is not None:
                parts = snap.tf_parts(tokens)
                docs[record_id] = parts
                for token, part in parts.items():
                    posting(token)[record_id] = part
        for token in copied:
            if not postings[token]:
                del postings[token]
        written_ids = np.asarray(ids, dtype=np.int64)
        _, held = snap.positions(written_ids)
        return _Overlay(docs, postings, np.union1d(self.stale, written_ids[held]), self.since or now)

    def score_map(self, snap: _Snapshot, query_tokens: list[str]) -> dict[int, float]:
        """Score of every overlay record sharing a token with the query (the one path both reads use)."""
        acc: dict[int, float] = {}
        if not self.postings:
            return acc
        for token, count in Counter(query_tokens).items():
            posting = self.postings.get(token)
            if posting:
                weight = count * snap.token_idf(token)
                for record_id, part in posting.items():
                    acc[record_id] = acc.get(record_id, 0.0) + weight * part
        return acc


def _distinct(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Sorted distinct values (np.unique hashes in numpy 2, about ten times slower than a sort at these sizes)."""
    ordered = np.sort(values)
    if ordered.shape[0] > 1:
        ordered = ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]
    return ordered


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
        self._view: tuple[_Snapshot, _Overlay | None] = (self._build(np.zeros(0, dtype=np.int64), []), _Overlay())
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
    def _in_snapshot(
        snap: _Snapshot, overlay: _Overlay | None, wanted: IdArray
    ) -> tuple[IdArray, npt.NDArray[np.bool_]]:
        """Snapshot positions of ``wanted`` and whether the snapshot answers for each (indexed and not stale)."""
        pos, known = snap.positions(wanted)
        if overlay is not None and len(overlay.stale) and len(wanted):
            known &= ~np.isin(wanted, overlay.stale)
        return pos, known

    @staticmethod
    def _fill_fresh(out: FloatArray, wanted: IdArray, overlay: _Overlay, fresh: dict[int, float]) -> None:
        """Set the scores of the overlay's records among ``wanted`` from its score map."""
        for i, record_id in enumerate(wanted.tolist()):
            if record_id in overlay.docs:
                out[i] = fresh.get(record_id, 0.0)

    def idf(self, token: str) -> float:
        """Inverse document frequency ``ln(1 + (N − df + 0.5) / (df + 0.5))`` of the snapshot (see Updates)."""
        snap, _ = self._view
        return snap.token_idf(token)

    # -- building -------------------------------------------------------------------------------------------------

    def _current(self) -> tuple[_Snapshot, _Overlay | None]:
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

    def _merge_due(self, overlay: _Overlay) -> bool:
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
                overlay: _Overlay | None = None
                if len(self._pending) <= self.overlay_max:
                    writes = {i: self._docs.get(i) for i in self._pending}
                    overlay = _Overlay().written(snap, writes, started) if writes else _Overlay()
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

    def _build(self, ids: IdArray, corpus: list[list[str]]) -> _Snapshot:
        """Build a snapshot of ``corpus`` (token lists in the order of ``ids``, ascending)."""
        avgdl = float(np.mean([len(doc) for doc in corpus])) if corpus else 0.0
        if not any(corpus):
            empty = np.zeros(0, dtype=np.float32)
            return _Snapshot(
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
        return _Snapshot(
            ids=ids, retriever=retriever, vocab=vocab, idf=idf, col_max=col_max, avgdl=avgdl, k1=self.k1, b=self.b
        )
