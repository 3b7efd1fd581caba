"""FAISS vector index for one list (achievements or demands), keyed by database integer ids.

This module holds the searches (:class:`VectorIndex`); the state, the writes and the snapshots are
:mod:`matchmaker.search.index_store` (with :mod:`~matchmaker.search.index_state`, :mod:`~matchmaker.search.snapshot`
for the atomic files and :mod:`~matchmaker.search.rwlock` for the lock).

Layout
------
FAISS labels are sequential positions ``0..ntotal-1`` assigned in insertion order. Beside the FAISS index we keep,
per label, the database id (``label_ids``), a ``live`` flag and the filterable attributes
(:class:`~matchmaker.search.filters.AttributeColumns`); a dict maps each live database id to its current label.

Vectors are stored once, inside FAISS: the flat codes of ``IndexFlatIP``, the flat ``storage`` of ``IndexHNSWFlat``,
the inverted lists of ``IndexIVFFlat`` (with a direct map so labels can be reconstructed). :meth:`VectorIndex.vector`
and compaction read them back from there (a zero-copy numpy view of the flat codes, ``reconstruct_batch`` for IVF),
so there is no second float32 copy in Python.

Updates and deletes
-------------------
``IndexHNSWFlat`` cannot delete, so every kind uses the same scheme: a replaced or removed record's label becomes a
tombstone (``live[label] = False``) and is filtered out of every search (an ``IDSelectorBitmap`` over live labels, or
the list of allowed labels for an exact scan). A record written again with the very same vector (an edit of its price or
TRL, a replayed change) keeps its label and only its attributes are overwritten: no tombstone. When the tombstone share
passes ``compact_share``, the write that caused it rebuilds a dense index. The new index is built beside the old one
while searches keep running on the old one, and swapped in under the exclusive lock. Other writes wait for the rebuild,
and so does the write that triggered it: cheap for flat, but an HNSW graph over 200k×384 vectors takes ~4 min to build
on 2 cores (about 40k records with a changed vector, i.e. a changed text, between two such rebuilds at the defaults).

Metric
------
Vectors are L2-normalised float32 and the metric is inner product, so scores are cosine similarities in [-1, 1]
(queries are not re-normalised: a caller may search with, e.g., a weighted sum of embeddings).

Persistence
-----------
``save`` writes index.faiss, arrays.npz (label → id map, live flags, attribute columns and vocabularies) and, last,
meta.json with the sizes and CRC-32s of the other two, each atomically (temp file, fsync, rename). ``load`` checks
them and by default memory-maps the FAISS data instead of reading it; the first write after such a load copies the
index into memory, because FAISS cannot grow a mapped array.

Threads
-------
Searches run in parallel under a shared lock (FAISS releases the GIL while searching); writes take it exclusively.
FAISS also parallelises inside a call with OpenMP, so with ``S`` server threads each running searches, keep
``omp threads × S ≤ cores`` (see :func:`set_faiss_threads`), otherwise the threads oversubscribe the CPU and latency
gets much worse rather than better.
"""

from __future__ import annotations

import functools
import math
import threading
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from matchmaker.search.filters import BoolArray, Filter, RecordAttrs
from matchmaker.search.index_state import FloatArray, IndexState, IntArray, flat_storage
from matchmaker.search.index_store import IndexStore, Kind

__all__ = [
    "Filter",
    "Kind",
    "RecordAttrs",
    "VectorIndex",
    "set_faiss_threads",
]


EXACT_SEARCH_MAX = 2000
"""Allowed sets up to this size are always searched exactly."""
EXACT_PER_EF = 40
"""Filtered HNSW searches go exact when ``allowed ≤ EXACT_PER_EF × efSearch`` (the selectivity-scaled efSearch). This
guards recall more than time: once ``efSearch / selectivity`` is capped at ``HNSW_EF_MAX`` the graph walk meets too
few eligible candidates. Measured on 1M×384 clustered vectors (benchmarks/ann.py), one thread: the exact scan costs
0.2-0.5 µs per allowed vector (2.5 ms at 1 % allowed), a filtered HNSW search 2.3-3 ms at any selectivity from 1 % to
40 %, with recall@10 ≥ 0.995 from 2 % up but 0.90 at 1 % (ef capped at 1024); the rule keeps 1-4 % exact there."""
HNSW_EF_MAX = 1024
"""Upper bound for the selectivity-scaled efSearch of a filtered HNSW search."""
HNSW_RETRY_FACTOR = 4
"""A filtered HNSW search that comes back short is retried with this many times its efSearch before an exact scan."""

_thread_setting = threading.local()
_wanted_threads: int | None = None


def set_faiss_threads(n: int) -> None:
    """Set the OpenMP threads FAISS uses inside one call, in every thread; keep ``n × concurrent searches ≤ cores``.

    OpenMP keeps this setting *per OS thread*: threads started later (a server's worker pool) start from the process
    default. So the wanted value is remembered and every search applies it once in the thread it runs on
    (:func:`_apply_thread_setting`); the calling thread gets it at once.
    """
    global _wanted_threads
    if n < 1:
        raise ValueError("n must be >= 1")
    _wanted_threads = n
    faiss.omp_set_num_threads(n)
    _thread_setting.applied = n


def _apply_thread_setting() -> None:
    """Apply the process-wide thread count in the current thread if it has not been applied here yet."""
    if _wanted_threads is not None and getattr(_thread_setting, "applied", None) != _wanted_threads:
        faiss.omp_set_num_threads(_wanted_threads)
        _thread_setting.applied = _wanted_threads


def _search_params(sel: Any, *, ef_search: int | None = None, nprobe: int | None = None) -> Any:
    """FAISS per-call search parameters (never mutate the shared index: searches run concurrently).

    The parameter object only borrows ``sel``; the caller keeps it (and its bitmap) alive during the search.
    """
    if ef_search is not None:
        params: Any = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # missing from faiss 1.15 stubs
        params.efSearch = ef_search
    elif nprobe is not None:
        params = faiss.SearchParametersIVF()
        params.nprobe = nprobe
    elif sel is None:
        return None
    else:
        params = faiss.SearchParameters()
    if sel is not None:
        params.sel = sel
    return params


@functools.lru_cache(maxsize=64)
def _shared_params(ef_search: int | None, nprobe: int | None) -> Any:
    """Search parameters without a selector, built once per value (about 10 µs saved per call): FAISS only reads
    them, so concurrent searches can share one object."""
    return _search_params(None, ef_search=ef_search, nprobe=nprobe)


class VectorIndex(IndexStore):
    """Inner-product vector index over L2-normalised float32 vectors, keyed by database ids, with attribute filters.

    ``kind="auto"`` keeps an exact ``IndexFlatIP`` below ``hnsw_threshold`` live records and an ``IndexHNSWFlat``
    from there on (switching back below half the threshold, so a list hovering at the threshold does not rebuild
    its graph on every write). ``"flat"``, ``"hnsw"`` and ``"ivf"`` force one kind (``"ivf"`` stays flat below
    ``IVF_MIN_TRAIN`` records, where there is not enough data to train its centroids).

    Thread-safe: any number of concurrent :meth:`search` calls; writes (:meth:`upsert`, :meth:`remove`,
    :meth:`rebuild`) are serialised and exclusive against searches, except the heavy part of a rebuild, which runs
    beside the searches.
    """

    def count_matching(self, flt: Filter | None) -> int:
        """Number of live records that ``flt`` lets through (all live records for None)."""
        with self._rw.read():
            s = self._s
            mask = self._allowed_mask(s, flt)
            return s.live_count if mask is None else int(np.count_nonzero(mask))

    def search(self, queries: npt.ArrayLike, k: int, flt: Filter | None = None) -> list[list[tuple[int, float]]]:
        """The ``k`` best live records per query as ``(db id, inner product)``, best first.

        Returns exactly ``min(k, count_matching(flt))`` results per query. Strategy, by the size ``m`` of the
        allowed label set (live records passing ``flt``) out of ``ntotal`` labels:

        * flat, or no filter and no tombstones: FAISS's own search (BLAS for query batches on an unfiltered flat);
        * a filter or tombstones and a small allowed set (``m ≤ EXACT_SEARCH_MAX``, or for HNSW
          ``m ≤ EXACT_PER_EF · efSearch``, for IVF ``m ≤`` the share of vectors ``nprobe`` lists would scan): exact
          search over the allowed labels only: for flat and HNSW the ``m`` inner products with the stored vectors
          of those labels (``faiss.knn_inner_products_by_idx``, no copy); for IVF every list probed with an
          ``IDSelectorBitmap``;
        * otherwise the index's own search with the selector; for HNSW ``efSearch`` is scaled by ``1 / selectivity``
          (capped at ``HNSW_EF_MAX``) because only that share of the visited nodes can enter the result list.
          An approximate search that still comes back with fewer than ``min(k, m)`` hits (the selector cut the
          graph, or the probed IVF lists held too few allowed records) is redone exactly for those queries; for HNSW
          after a retry with ``HNSW_RETRY_FACTOR`` times the efSearch, which usually fills them.
        """
        _apply_thread_setting()
        q = self._check_queries(queries)
        if k < 1:
            raise ValueError("k must be >= 1")
        with self._rw.read():
            s = self._s
            allowed = self._allowed_mask(s, flt)
            m = s.live_count if allowed is None else int(np.count_nonzero(allowed))
            if m == 0 or q.shape[0] == 0:
                return [[] for _ in range(q.shape[0])]
            kk = min(k, m)
            if s.kind == "flat" or (allowed is not None and self._prefer_exact(s, m, kk)):
                scores, labels = self._exact(s, q, kk, allowed)
            else:
                bits = None if allowed is None else np.packbits(allowed, bitorder="little")
                # The selector only borrows `bits`; the local keeps the buffer alive for the whole search.
                sel = None if bits is None else faiss.IDSelectorBitmap(bits.shape[0], faiss.swig_ptr(bits))
                scores, labels = self._approximate(s, q, kk, sel, m)
                short = np.flatnonzero(labels[:, kk - 1] < 0)  # FAISS pads a short row at its end with -1
                if short.size and s.kind == "hnsw":
                    # A wider walk first: a few times the graph search is far cheaper than an exact scan of a
                    # large allowed set (77k vectors at 1M with one chain's filter: ~21 ms).
                    ef = self._hnsw_ef(kk, m / s.ntotal) * HNSW_RETRY_FACTOR
                    retry = s.index.search(q[short], kk, params=_search_params(sel, ef_search=ef))
                    scores[short], labels[short] = retry
                    short = short[retry[1][:, kk - 1] < 0]
                if short.size:
                    scores[short], labels[short] = self._exact(s, q[short], kk, allowed)
            return self._results(s, scores, labels)

    def _check_queries(self, queries: npt.ArrayLike) -> FloatArray:
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q.reshape(1, -1)
        if q.ndim != 2 or q.shape[1] != self.dimension:
            raise ValueError(f"queries must have shape (n, {self.dimension}), got {q.shape}")
        return q

    def _allowed_mask(self, s: IndexState, flt: Filter | None) -> BoolArray | None:
        """Labels a search may return: live and passing ``flt``; None means "every label" (no filter, no tombstones)."""
        n = s.ntotal
        attr_mask = s.attrs.mask(flt) if flt is not None and not flt.is_empty() else None
        excluded = [s.id_to_label[i] for i in flt.exclude_ids if i in s.id_to_label] if flt is not None else []
        if attr_mask is None and not excluded and s.live_count == n:
            return None
        mask = s.live[:n].copy() if attr_mask is None else (attr_mask & s.live[:n])
        if excluded:
            mask[excluded] = False
        return mask

    def _hnsw_ef(self, k: int, selectivity: float) -> int:
        """efSearch for a filtered HNSW search.

        FAISS walks the graph through rejected nodes too but only admits selected ones to the result heap, so of the
        roughly efSearch best candidates it examines, about ``selectivity`` of them are eligible. Scaling ef by
        ``1 / selectivity`` keeps the number of eligible candidates (hence recall) close to the unfiltered search.
        """
        ef = max(self.ef_search, k)
        if selectivity >= 1.0:
            return ef
        return min(math.ceil(ef / max(selectivity, 1e-9)), max(HNSW_EF_MAX, ef))

    def _prefer_exact(self, s: IndexState, m: int, k: int) -> bool:
        """Whether an exact scan of the ``m`` allowed vectors is cheaper than the filtered approximate search."""
        if m <= EXACT_SEARCH_MAX:
            return True
        if s.kind == "hnsw":
            return m <= EXACT_PER_EF * self._hnsw_ef(k, m / s.ntotal)
        nlist = s.index.nlist
        return bool(m * nlist <= s.ntotal * min(self.nprobe, nlist))

    def _approximate(self, s: IndexState, q: FloatArray, k: int, sel: Any, m: int) -> tuple[FloatArray, IntArray]:
        """The index's own search (exact for flat), restricted by ``sel`` when given."""
        ef_search = self._hnsw_ef(k, m / s.ntotal) if s.kind == "hnsw" else None
        nprobe = min(self.nprobe, s.index.nlist) if s.kind == "ivf" else None
        if sel is None:
            params = _shared_params(ef_search, nprobe)
        else:
            params = _search_params(sel, ef_search=ef_search, nprobe=nprobe)
        scores, labels = s.index.search(q, k, params=params)
        return scores, labels

    def _exact(self, s: IndexState, q: FloatArray, k: int, allowed: BoolArray | None) -> tuple[FloatArray, IntArray]:
        """Exact top-k over the labels in ``allowed`` (all labels when None)."""
        if s.kind == "ivf":
            # IVF-Flat probing every list is a brute-force scan over the stored vectors.
            bits = None if allowed is None else np.packbits(allowed, bitorder="little")
            sel = None if bits is None else faiss.IDSelectorBitmap(bits.shape[0], faiss.swig_ptr(bits))
            scores, labels = s.index.search(q, k, params=_search_params(sel, nprobe=s.index.nlist))
            return scores, labels
        storage = flat_storage(s)
        if allowed is None:
            scores, labels = storage.search(q, k)
            return scores, labels
        # Only the allowed vectors are touched: m inner products by label, one shared label list for every query
        # (ld_ids = 0). Scanning all ntotal codes with an IDSelectorBitmap instead took ~6x longer (1.1 against
        # 0.19 µs per allowed vector at 100k×384 with 10 % allowed, one thread).
        subset = np.flatnonzero(allowed).astype(np.int64)
        nq = q.shape[0]
        scores = np.empty((nq, k), dtype=np.float32)
        labels = np.empty((nq, k), dtype=np.int64)
        faiss.knn_inner_products_by_idx(  # type: ignore[attr-defined]  # missing from faiss 1.15 stubs
            faiss.swig_ptr(q),
            storage.get_xb(),
            faiss.swig_ptr(subset),
            self.dimension,
            nq,
            s.ntotal,
            subset.shape[0],
            k,
            faiss.swig_ptr(scores),
            faiss.swig_ptr(labels),
            0,
        )
        return scores, labels

    def _results(self, s: IndexState, scores: FloatArray, labels: IntArray) -> list[list[tuple[int, float]]]:
        """Map labels to db ids; FAISS pads missing hits with label -1, which are dropped."""
        db_ids = s.label_ids[np.maximum(labels, 0)]
        return [
            [(db_id, score) for db_id, score, lab in zip(id_row, score_row, lab_row, strict=True) if lab >= 0]
            for id_row, score_row, lab_row in zip(db_ids.tolist(), scores.tolist(), labels.tolist(), strict=True)
        ]
