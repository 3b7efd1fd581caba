"""FAISS vector index for one list (achievements or demands), keyed by database integer ids.

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
import json
import math
import os
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import faiss
import numpy as np
import numpy.typing as npt

from matchmaker.search.filters import AttributeColumns, BoolArray, Filter, RecordAttrs

__all__ = [
    "Filter",
    "IndexStateError",
    "Kind",
    "ReadWriteLock",
    "RecordAttrs",
    "VectorIndex",
    "set_faiss_threads",
]

Kind = Literal["auto", "flat", "hnsw", "ivf"]
IndexKind = Literal["flat", "hnsw", "ivf"]
FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

FORMAT_VERSION = 1
INDEX_FILE = "index.faiss"
ARRAYS_FILE = "arrays.npz"
META_FILE = "meta.json"

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
IVF_MIN_TRAIN = 2000
"""Below this many live records kind "ivf" uses an exact flat index (too few points to train centroids)."""
IVF_POINTS_PER_LIST = 39
"""FAISS k-means warns with fewer than 39 training points per centroid; nlist is capped accordingly."""
IVF_TRAIN_PER_LIST = 64
"""The IVF centroids are trained on a sample of at most this many points per list. FAISS's default (256) uses every
vector up to 256·nlist, which at 1M vectors (nlist 4000) is all of them: k-means then dominates the rebuild; 64 per
list cuts it 4x with no measurable recall change at the benchmark sizes (benchmarks/ann.py)."""
NORM_TOLERANCE = 1e-3
_CRC_CHUNK = 8 << 20


class IndexStateError(RuntimeError):
    """A snapshot on disk is missing, torn, corrupt, or does not match what it claims to be."""


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


class ReadWriteLock:
    """Many readers or one writer; writer-preferring, so a steady stream of searches cannot starve a write.

    Not re-entrant: a thread holding the read side must not ask for it again (a writer queued in between would
    deadlock both).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        """Hold the shared side for the duration of the ``with`` block."""
        with self._cond:
            while self._writing or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if self._readers == 0:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Hold the exclusive side for the duration of the ``with`` block."""
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writing or self._readers:
                    self._cond.wait()
            except BaseException:  # interrupted while queued: let the readers we were holding back go on
                self._writers_waiting -= 1
                self._cond.notify_all()
                raise
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


@dataclass
class _State:
    """Everything a search reads; replaced as a whole by a rebuild, mutated in place by upsert/remove."""

    index: Any  # faiss.IndexFlatIP | faiss.IndexHNSWFlat | faiss.IndexIVFFlat
    kind: IndexKind
    label_ids: IntArray  # label -> db id (capacity-sized; rows >= ntotal unused)
    live: BoolArray  # label -> not a tombstone (capacity-sized)
    attrs: AttributeColumns
    ntotal: int  # labels in use (live + tombstones)
    id_to_label: dict[int, int]  # live db id -> label
    owned: bool  # False while FAISS data is a read-only mmap view (after load(mmap=True))

    @property
    def live_count(self) -> int:
        return len(self.id_to_label)

    def reserve(self, extra: int) -> None:
        need = self.ntotal + extra
        if need > self.label_ids.shape[0]:
            capacity = max(need, 2 * self.label_ids.shape[0], 1024)
            label_ids = np.full(capacity, -1, dtype=np.int64)
            label_ids[: self.ntotal] = self.label_ids[: self.ntotal]
            live = np.zeros(capacity, dtype=np.bool_)
            live[: self.ntotal] = self.live[: self.ntotal]
            self.label_ids, self.live = label_ids, live


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


def _kind_of(index: Any) -> str:
    """Kind name of a FAISS index built by this module ("flat", "hnsw", "ivf"), else its FAISS class name."""
    if isinstance(index, faiss.IndexHNSWFlat):
        return "hnsw"
    if isinstance(index, faiss.IndexIVFFlat):
        return "ivf"
    if isinstance(index, faiss.IndexFlat):
        return "flat"
    return type(index).__name__


def _flat_storage(state: _State) -> Any:
    """The IndexFlat holding the raw vectors of a flat or HNSW index."""
    return state.index if state.kind == "flat" else faiss.downcast_index(state.index.storage)


def _ivf_nlist(n: int) -> int:
    """Number of IVF lists for ``n`` vectors: about 4·sqrt(n), but at least 39 training points per list."""
    return max(1, min(round(4 * math.sqrt(n)), n // IVF_POINTS_PER_LIST))


class VectorIndex:
    """Inner-product vector index over L2-normalised float32 vectors, keyed by database ids, with attribute filters.

    ``kind="auto"`` keeps an exact ``IndexFlatIP`` below ``hnsw_threshold`` live records and an ``IndexHNSWFlat``
    from there on (switching back below half the threshold, so a list hovering at the threshold does not rebuild
    its graph on every write). ``"flat"``, ``"hnsw"`` and ``"ivf"`` force one kind (``"ivf"`` stays flat below
    ``IVF_MIN_TRAIN`` records, where there is not enough data to train its centroids).

    Thread-safe: any number of concurrent :meth:`search` calls; writes (:meth:`upsert`, :meth:`remove`,
    :meth:`rebuild`) are serialised and exclusive against searches, except the heavy part of a rebuild, which runs
    beside the searches.
    """

    def __init__(
        self,
        dimension: int,
        *,
        kind: Kind = "auto",
        hnsw_threshold: int = 20000,
        hnsw_m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 64,
        compact_share: float = 0.2,
        nprobe: int = 32,
    ) -> None:
        if dimension < 1:
            raise ValueError("dimension must be >= 1")
        if kind not in ("auto", "flat", "hnsw", "ivf"):
            raise ValueError(f"unknown index kind {kind!r}")
        if hnsw_threshold < 1 or hnsw_m < 2 or ef_construction < 1 or ef_search < 1 or nprobe < 1:
            raise ValueError("hnsw_threshold, ef_construction, ef_search, nprobe must be >= 1 and hnsw_m >= 2")
        if not 0.0 < compact_share <= 1.0:
            raise ValueError("compact_share must be in (0, 1]")
        self.dimension = dimension
        self.kind: Kind = kind
        self.hnsw_threshold = hnsw_threshold
        self.hnsw_m = hnsw_m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.compact_share = compact_share
        self.nprobe = nprobe
        self._rw = ReadWriteLock()
        # Serialises writers (and saves) among themselves. Held alone (without the exclusive side of _rw) while a
        # rebuild builds its new index or a snapshot is written: nothing can change the state then, and searches go on.
        self._writer = threading.Lock()
        initial: IndexKind = "hnsw" if kind == "hnsw" else "flat"
        self._s = self._new_state(
            initial, np.zeros((0, dimension), dtype=np.float32), np.zeros(0, np.int64), AttributeColumns()
        )

    # ----------------------------------------------------------------------------------------------------- reads

    def __len__(self) -> int:
        with self._rw.read():
            return self._s.live_count

    def __contains__(self, id: object) -> bool:
        with self._rw.read():
            return id in self._s.id_to_label

    @property
    def tombstone_share(self) -> float:
        """Share of FAISS labels that are tombstones (replaced or removed records), 0.0 for an empty index."""
        with self._rw.read():
            s = self._s
            return (s.ntotal - s.live_count) / s.ntotal if s.ntotal else 0.0

    @property
    def kind_in_use(self) -> str:
        """The FAISS structure currently serving searches: "flat", "hnsw" or "ivf"."""
        with self._rw.read():
            return self._s.kind

    def ids(self) -> IntArray:
        """Database ids of the live records, in label order (insertion order; an update moves a record last)."""
        with self._rw.read():
            s = self._s
            return s.label_ids[: s.ntotal][s.live[: s.ntotal]].copy()

    def vector(self, id: int) -> FloatArray | None:
        """A copy of the stored vector of a live record, or None when the id is not in the index."""
        found, rows = self.vectors([id])
        return rows[0] if found else None

    def vectors(self, ids: Sequence[int]) -> tuple[list[int], FloatArray]:
        """Copies of the stored vectors of the live records among ``ids``: (the ids found, in the given order, and
        their vectors as rows), in one gather instead of one per id."""
        with self._rw.read():
            s = self._s
            found = [i for i in ids if i in s.id_to_label]
            labels = np.fromiter((s.id_to_label[i] for i in found), dtype=np.int64, count=len(found))
            return found, self._gather(s, labels)  # a new array: fancy indexing / reconstruct_batch copy

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

    # ---------------------------------------------------------------------------------------------------- writes

    def upsert(self, ids: Sequence[int], vectors: npt.ArrayLike, attrs: Sequence[RecordAttrs]) -> None:
        """Add records, or replace the vector and attributes of ids already present.

        ``vectors`` must be L2-normalised (``|‖v‖ - 1| ≤ 1e-3``): with the inner-product metric an unnormalised vector
        would silently distort every score it takes part in.
        """
        id_arr = np.asarray(ids, dtype=np.int64).reshape(-1)
        vecs = self._check_vectors(vectors, id_arr.shape[0])
        if len(attrs) != id_arr.shape[0]:
            raise ValueError(f"got {id_arr.shape[0]} ids but {len(attrs)} attrs")
        if np.unique(id_arr).shape[0] != id_arr.shape[0]:
            raise ValueError("duplicate ids in one upsert")
        if id_arr.shape[0] == 0:
            return
        with self._writer:
            self._s.attrs.validate(attrs)
            self._materialize_locked()
            id_arr, vecs, attrs = self._update_attributes_only(id_arr, vecs, attrs)
            if id_arr.shape[0] == 0:
                return
            with self._rw.write():
                s = self._s
                start, m = s.ntotal, id_arr.shape[0]
                s.index.add(vecs)  # labels start..start+m-1: FAISS numbers added vectors sequentially
                if s.index.ntotal != start + m:
                    raise IndexStateError("FAISS label numbering out of step with the id map")
                s.reserve(m)
                s.label_ids[start : start + m] = id_arr
                s.live[start : start + m] = True
                for offset, db_id in enumerate(id_arr.tolist()):
                    old = s.id_to_label.get(db_id)
                    if old is not None:
                        s.live[old] = False
                    s.id_to_label[db_id] = start + offset
                s.attrs.append(attrs)
                s.ntotal = start + m
            self._maintain()

    def _update_attributes_only(
        self, id_arr: IntArray, vecs: FloatArray, attrs: Sequence[RecordAttrs]
    ) -> tuple[IntArray, FloatArray, Sequence[RecordAttrs]]:
        """Overwrite the attributes of live records whose stored vector equals the new one (writer lock held);
        returns the records that still need adding. A lossy index (none here stores codes) would simply re-add."""
        s = self._s
        present = [(pos, s.id_to_label[i]) for pos, i in enumerate(id_arr.tolist()) if i in s.id_to_label]
        if not present:
            return id_arr, vecs, attrs
        positions = np.array([pos for pos, _ in present], dtype=np.int64)
        labels = np.array([label for _, label in present], dtype=np.int64)
        same = np.all(self._gather(s, labels) == vecs[positions], axis=1)
        if not same.any():
            return id_arr, vecs, attrs
        with self._rw.write():
            s.attrs.set(labels[same], [attrs[pos] for pos in positions[same].tolist()])
        rest = np.ones(id_arr.shape[0], dtype=np.bool_)
        rest[positions[same]] = False
        return id_arr[rest], vecs[rest], [a for a, keep in zip(attrs, rest.tolist(), strict=True) if keep]

    def remove(self, ids: Sequence[int]) -> None:
        """Remove records; ids not in the index are ignored."""
        with self._writer:
            with self._rw.write():
                s = self._s
                for db_id in np.asarray(ids, dtype=np.int64).reshape(-1).tolist():
                    label = s.id_to_label.pop(db_id, None)
                    if label is not None:
                        s.live[label] = False
            self._maintain()

    def rebuild(self) -> None:
        """Compact tombstones away and re-choose the kind for the current number of live records."""
        with self._writer:
            self._rebuild_locked(self._kind_for_size(self._s.live_count))

    # ----------------------------------------------------------------------------------------------- persistence

    def save(self, directory: Path, meta: dict[str, Any]) -> None:
        """Write a snapshot into ``directory``: index.faiss, arrays.npz, then meta.json last.

        Each file goes to a temporary file in the same directory, is fsynced and renamed over the old one, and the
        directory is fsynced after the renames. meta.json records size and CRC-32 of the other two files, so a crash
        between renames leaves a snapshot that :meth:`load` rejects with :class:`IndexStateError` instead of one that
        silently mixes generations. ``meta`` (JSON-serialisable: model name, last change id, ...) is returned by load.
        """
        directory = Path(directory)
        caller_meta = json.loads(json.dumps(meta))  # fail before touching any file if it is not JSON
        directory.mkdir(parents=True, exist_ok=True)
        with self._writer:  # no write can change the state; searches continue
            s = self._s
            n = s.ntotal
            arrays: dict[str, npt.NDArray[Any]] = {"label_ids": s.label_ids[:n], "live": s.live[:n]}
            arrays.update(s.attrs.to_arrays())
            files = {
                INDEX_FILE: _write_atomic(directory / INDEX_FILE, lambda p: faiss.write_index(s.index, str(p))),
                ARRAYS_FILE: _write_atomic(directory / ARRAYS_FILE, lambda p: _savez(p, arrays)),
            }
            doc = {
                "format": FORMAT_VERSION,
                "dimension": self.dimension,
                "kind": s.kind,
                "count": s.live_count,
                "ntotal": n,
                "tombstones": n - s.live_count,
                "config": self._config(),
                "faiss_version": faiss.__version__,
                "files": files,
                "meta": caller_meta,
            }
            payload = json.dumps(doc, ensure_ascii=False, indent=2).encode()
            _write_atomic(directory / META_FILE, lambda p: p.write_bytes(payload))
            _fsync_dir(directory)

    @classmethod
    def load(cls, directory: Path, *, mmap: bool = True, verify: bool = True) -> tuple[VectorIndex, dict[str, Any]]:
        """Open a snapshot written by :meth:`save`; returns the index and the caller's ``meta``.

        With ``mmap`` the FAISS data (flat codes, HNSW graph and storage, IVF lists) is mapped read-only from
        index.faiss (``faiss.IO_FLAG_MMAP_IFC``) instead of being read into private memory: pages live in the page
        cache, shared by every worker process that maps the same snapshot. The first write copies the index into
        memory once (~1.5-2 s at 200k×384). ``verify`` checks the CRC-32 of both files (sizes are always checked);
        its sequential read also warms the page cache, which matters: on a cold cache, faulting a mapped file in
        page by page made the first flat search take 4.5 s and HNSW searches ~150 ms at 200k×384.
        Raises :class:`IndexStateError` when the snapshot is missing, torn or inconsistent.
        """
        directory = Path(directory)
        try:
            doc = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexStateError(f"cannot read {directory / META_FILE}: {exc}") from exc
        try:
            if doc["format"] != FORMAT_VERSION:
                raise IndexStateError(f"snapshot format {doc['format']!r}, expected {FORMAT_VERSION}")
            for name in (INDEX_FILE, ARRAYS_FILE):
                _check_file(directory / name, doc["files"][name], verify)
            with np.load(directory / ARRAYS_FILE, allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in npz.files}
            # IO_FLAG_MMAP_IFC maps flat codes / HNSW graph / IVF lists in place (FAISS >= 1.10). The older
            # IO_FLAG_MMAP only applies to IVF and turns its lists into OnDiskInvertedLists, which cannot be
            # serialised back into memory; for flat and HNSW it is ignored (a full read).
            flags = faiss.IO_FLAG_MMAP_IFC if mmap else 0
            index = faiss.read_index(str(directory / INDEX_FILE), flags)
            obj = cls(int(doc["dimension"]), **doc["config"])
            obj._s = obj._restore_state(doc, arrays, index, owned=not mmap)
        except IndexStateError:
            raise
        except (KeyError, TypeError, ValueError, RuntimeError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise IndexStateError(f"invalid snapshot in {directory}: {exc}") from exc
        return obj, dict(doc["meta"])

    # ---------------------------------------------------------------------------------------------- internals

    def _config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "hnsw_threshold": self.hnsw_threshold,
            "hnsw_m": self.hnsw_m,
            "ef_construction": self.ef_construction,
            "ef_search": self.ef_search,
            "compact_share": self.compact_share,
            "nprobe": self.nprobe,
        }

    def _check_vectors(self, vectors: npt.ArrayLike, n: int) -> FloatArray:
        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        if vecs.ndim == 1 and n == 1:
            vecs = vecs.reshape(1, -1)
        if vecs.shape != (n, self.dimension):
            raise ValueError(f"vectors must have shape ({n}, {self.dimension}), got {vecs.shape}")
        if not np.isfinite(vecs).all():
            raise ValueError("vectors contain NaN or infinity")
        norms = np.linalg.norm(vecs, axis=1)
        if n and np.abs(norms - 1.0).max() > NORM_TOLERANCE:
            raise ValueError("vectors must be L2-normalised")
        return vecs

    def _check_queries(self, queries: npt.ArrayLike) -> FloatArray:
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q.reshape(1, -1)
        if q.ndim != 2 or q.shape[1] != self.dimension:
            raise ValueError(f"queries must have shape (n, {self.dimension}), got {q.shape}")
        return q

    def _allowed_mask(self, s: _State, flt: Filter | None) -> BoolArray | None:
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

    def _prefer_exact(self, s: _State, m: int, k: int) -> bool:
        """Whether an exact scan of the ``m`` allowed vectors is cheaper than the filtered approximate search."""
        if m <= EXACT_SEARCH_MAX:
            return True
        if s.kind == "hnsw":
            return m <= EXACT_PER_EF * self._hnsw_ef(k, m / s.ntotal)
        nlist = s.index.nlist
        return bool(m * nlist <= s.ntotal * min(self.nprobe, nlist))

    def _approximate(self, s: _State, q: FloatArray, k: int, sel: Any, m: int) -> tuple[FloatArray, IntArray]:
        """The index's own search (exact for flat), restricted by ``sel`` when given."""
        ef_search = self._hnsw_ef(k, m / s.ntotal) if s.kind == "hnsw" else None
        nprobe = min(self.nprobe, s.index.nlist) if s.kind == "ivf" else None
        if sel is None:
            params = _shared_params(ef_search, nprobe)
        else:
            params = _search_params(sel, ef_search=ef_search, nprobe=nprobe)
        scores, labels = s.index.search(q, k, params=params)
        return scores, labels

    def _exact(self, s: _State, q: FloatArray, k: int, allowed: BoolArray | None) -> tuple[FloatArray, IntArray]:
        """Exact top-k over the labels in ``allowed`` (all labels when None)."""
        if s.kind == "ivf":
            # IVF-Flat probing every list is a brute-force scan over the stored vectors.
            bits = None if allowed is None else np.packbits(allowed, bitorder="little")
            sel = None if bits is None else faiss.IDSelectorBitmap(bits.shape[0], faiss.swig_ptr(bits))
            scores, labels = s.index.search(q, k, params=_search_params(sel, nprobe=s.index.nlist))
            return scores, labels
        storage = _flat_storage(s)
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

    def _results(self, s: _State, scores: FloatArray, labels: IntArray) -> list[list[tuple[int, float]]]:
        """Map labels to db ids; FAISS pads missing hits with label -1, which are dropped."""
        db_ids = s.label_ids[np.maximum(labels, 0)]
        return [
            [(db_id, score) for db_id, score, lab in zip(id_row, score_row, lab_row, strict=True) if lab >= 0]
            for id_row, score_row, lab_row in zip(db_ids.tolist(), scores.tolist(), labels.tolist(), strict=True)
        ]

    def _gather(self, s: _State, labels: IntArray) -> FloatArray:
        """Stored vectors of ``labels`` (a new array)."""
        if labels.shape[0] == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if s.kind == "ivf":
            return cast(FloatArray, s.index.reconstruct_batch(labels))
        storage = _flat_storage(s)
        # Zero-copy view of the flat codes (valid until the next add; we hold a lock that excludes adds).
        codes = faiss.rev_swig_ptr(storage.get_xb(), s.ntotal * self.dimension).reshape(s.ntotal, self.dimension)
        return cast(FloatArray, codes[labels])

    def _materialize_locked(self) -> None:
        """Copy an mmap-loaded index into memory before its first add (writer lock held).

        The mmap'd FAISS arrays are non-owning views (``MaybeOwnedVector``): ``add`` on them fails a FAISS
        *assertion*, which aborts the whole process instead of raising. ``clone_index`` keeps the views, so
        round-trip through serialize/deserialize, which reads into owned buffers (~1.5-2 s and twice the index size
        transiently at 200k×384). The copy is made beside running searches; only the swap is exclusive.
        """
        s = self._s
        if s.owned:
            return
        owned_index = faiss.deserialize_index(faiss.serialize_index(s.index))
        with self._rw.write():
            s.index = owned_index
            s.owned = True

    def _kind_for_size(self, live: int) -> IndexKind:
        if self.kind == "auto":
            return "hnsw" if live >= self.hnsw_threshold else "flat"
        if self.kind == "ivf":
            return "ivf" if live >= IVF_MIN_TRAIN else "flat"
        return self.kind

    def _kind_after_write(self, s: _State) -> IndexKind:
        """Like :meth:`_kind_for_size`, with hysteresis: switch back down only below half the threshold."""
        live = s.live_count
        if self.kind == "auto":
            if s.kind == "flat":
                return "hnsw" if live >= self.hnsw_threshold else "flat"
            return "flat" if live < self.hnsw_threshold // 2 else "hnsw"
        if self.kind == "ivf":
            if s.kind == "flat":
                return "ivf" if live >= IVF_MIN_TRAIN else "flat"
            return "flat" if live < IVF_MIN_TRAIN // 2 else "ivf"
        return self.kind

    def _maintain(self) -> None:
        """After a write (writer lock held): compact, switch kind, or retrain IVF when due."""
        s = self._s
        target = self._kind_after_write(s)
        tombstones = (s.ntotal - s.live_count) / s.ntotal if s.ntotal else 0.0
        ivf_outgrown = s.kind == "ivf" and _ivf_nlist(s.live_count) >= 2 * s.index.nlist
        if target != s.kind or tombstones > self.compact_share or ivf_outgrown:
            self._rebuild_locked(target)

    def _rebuild_locked(self, kind: IndexKind) -> None:
        """Build a dense index of the live records beside the current one, then swap it in (writer lock held)."""
        s = self._s
        labels = np.flatnonzero(s.live[: s.ntotal]).astype(np.int64)
        vectors = self._gather(s, labels)  # searches may run meanwhile: they only read
        new_state = self._new_state(kind, vectors, s.label_ids[labels], s.attrs.take(labels))
        del vectors
        with self._rw.write():
            self._s = new_state

    def _new_state(self, kind: IndexKind, vectors: FloatArray, ids: IntArray, attrs: AttributeColumns) -> _State:
        n = vectors.shape[0]
        d = self.dimension
        if kind == "flat":
            index: Any = faiss.IndexFlatIP(d)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = self.ef_construction
            index.hnsw.efSearch = self.ef_search
        else:
            quantizer = faiss.IndexFlatIP(d)
            index = faiss.IndexIVFFlat(quantizer, d, _ivf_nlist(n), faiss.METRIC_INNER_PRODUCT)
            index.cp.max_points_per_centroid = IVF_TRAIN_PER_LIST  # FAISS samples (seeded) when n is larger
            index.train(vectors)
            index.make_direct_map(True)  # an array direct map: reconstruct(label) for vector() and rebuilds
            index.nprobe = self.nprobe
        if n:
            index.add(vectors)
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        return _State(
            index=index,
            kind=kind,
            label_ids=ids.copy(),
            live=np.ones(n, dtype=np.bool_),
            attrs=attrs,
            ntotal=n,
            id_to_label={db_id: label for label, db_id in enumerate(ids.tolist())},
            owned=True,
        )

    def _restore_state(
        self, doc: dict[str, Any], arrays: dict[str, npt.NDArray[Any]], index: Any, owned: bool
    ) -> _State:
        """Rebuild the in-memory state from a loaded snapshot, checking every invariant it relies on."""
        kind = doc["kind"]
        if _kind_of(index) != kind:
            raise IndexStateError(f"index.faiss holds {type(index).__name__}, meta.json says {kind!r}")
        if index.metric_type != faiss.METRIC_INNER_PRODUCT or index.d != self.dimension:
            raise IndexStateError("index.faiss metric or dimension does not match meta.json")
        n = int(doc["ntotal"])
        label_ids = np.ascontiguousarray(arrays["label_ids"], dtype=np.int64)
        live = np.ascontiguousarray(arrays["live"], dtype=np.bool_)
        attrs = AttributeColumns.from_arrays(arrays)
        if not (index.ntotal == n == label_ids.shape[0] == live.shape[0] == len(attrs)):
            raise IndexStateError("index.faiss, arrays.npz and meta.json disagree on the number of labels")
        live_labels = np.flatnonzero(live)
        id_to_label = dict(zip(label_ids[live_labels].tolist(), live_labels.tolist(), strict=True))
        if len(id_to_label) != live_labels.shape[0] or len(id_to_label) != int(doc["count"]):
            raise IndexStateError("live ids are not unique or do not match the recorded count")
        return _State(
            index=index,
            kind=kind,
            label_ids=label_ids,
            live=live,
            attrs=attrs,
            ntotal=n,
            id_to_label=id_to_label,
            owned=owned,
        )


# --------------------------------------------------------------------------------------------------- file helpers


def _crc32_file(path: Path) -> tuple[int, int]:
    """(size, CRC-32) of a file, read in chunks. CRC-32 (zlib, ~2 GB/s) detects torn or mixed files; it is not
    meant to resist tampering."""
    crc, size = 0, 0
    with path.open("rb") as f:
        while chunk := f.read(_CRC_CHUNK):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
    return size, crc


def _write_atomic(path: Path, write: Callable[[Path], object]) -> dict[str, int]:
    """Write ``path`` via a temp file in the same directory + fsync + rename; returns its size and CRC-32."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        tmp.chmod(0o644)  # mkstemp creates 0600; the snapshot is read by other workers/processes
        size, crc = _crc32_file(tmp)  # reads the fresh file back (from page cache)
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return {"size": size, "crc32": crc}


def _savez(path: Path, arrays: dict[str, npt.NDArray[Any]]) -> None:
    with path.open("wb") as f:  # a file object: np.savez would append ".npz" to a bare name
        np.savez(f, **cast(dict[str, Any], arrays))


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_file(path: Path, expected: dict[str, int], verify: bool) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IndexStateError(f"snapshot file missing: {path}") from exc
    if size != int(expected["size"]):
        raise IndexStateError(f"{path.name} has {size} bytes, meta.json expects {expected['size']} (torn snapshot)")
    if verify and _crc32_file(path)[1] != int(expected["crc32"]):
        raise IndexStateError(f"{path.name} checksum mismatch (torn or corrupt snapshot)")
