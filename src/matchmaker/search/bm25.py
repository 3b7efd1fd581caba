"""The data structures of the BM25 index (:mod:`matchmaker.search.lexical`): the static snapshot built by ``bm25s``
(scoring the whole corpus, scoring given ids, selecting the top k above a threshold) and the copy-on-write overlay of
the records written since. How they work together, and why, is told in the lexical module's docstring."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import bm25s
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IdArray = npt.NDArray[np.int64]

THRESHOLD_PROBE = 4096
"""Postings read from the query's strongest terms to find a score threshold before selecting the top k."""
COLUMN_CACHE_SIZE = 4096
"""Queries whose vocabulary columns a snapshot keeps (then it starts over)."""


@dataclass(frozen=True)
class Snapshot:
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
class Overlay:
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

    def written(self, snap: Snapshot, writes: Mapping[int, list[str] | None], now: float) -> Overlay:
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
        return Overlay(docs, postings, np.union1d(self.stale, written_ids[held]), self.since or now)

    def score_map(self, snap: Snapshot, query_tokens: list[str]) -> dict[int, float]:
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
