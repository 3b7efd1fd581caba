"""The storage side of the vector index: its state (FAISS index, label → id map, live flags, attribute columns), the
writes (upsert, remove, compaction, kind switches, IVF retraining) and the snapshots (save, load). The searches are
:class:`matchmaker.search.index.VectorIndex`, which extends :class:`IndexStore`; the module docstring there tells how
the whole works."""

from __future__ import annotations

import json
import threading
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Self, cast

import faiss
import numpy as np
import numpy.typing as npt

from matchmaker.search.filters import AttributeColumns, RecordAttrs
from matchmaker.search.index_state import (
    IVF_MIN_TRAIN,
    IVF_TRAIN_PER_LIST,
    FloatArray,
    IndexKind,
    IndexState,
    IntArray,
    flat_storage,
    ivf_nlist,
    kind_of,
)
from matchmaker.search.rwlock import ReadWriteLock
from matchmaker.search.snapshot import IndexStateError, check_file, fsync_dir, savez, write_atomic

Kind = Literal["auto", "flat", "hnsw", "ivf"]

FORMAT_VERSION = 1
INDEX_FILE = "index.faiss"
ARRAYS_FILE = "arrays.npz"
META_FILE = "meta.json"

NORM_TOLERANCE = 1e-3


class IndexStore:
    """The state of a vector index and every write to it (see :class:`~matchmaker.search.index.VectorIndex`)."""

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

    def after_fork(self) -> None:
        """In a forked child: new locks (one another thread of the parent held at the fork would stay held)."""
        self._rw = ReadWriteLock()
        self._writer = threading.Lock()

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
                INDEX_FILE: write_atomic(directory / INDEX_FILE, lambda p: faiss.write_index(s.index, str(p))),
                ARRAYS_FILE: write_atomic(directory / ARRAYS_FILE, lambda p: savez(p, arrays)),
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
            write_atomic(directory / META_FILE, lambda p: p.write_bytes(payload))
            fsync_dir(directory)

    @classmethod
    def load(cls, directory: Path, *, mmap: bool = True, verify: bool = True) -> tuple[Self, dict[str, Any]]:
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
                check_file(directory / name, doc["files"][name], verify)
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

    def _gather(self, s: IndexState, labels: IntArray) -> FloatArray:
        """Stored vectors of ``labels`` (a new array)."""
        if labels.shape[0] == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if s.kind == "ivf":
            return cast(FloatArray, s.index.reconstruct_batch(labels))
        storage = flat_storage(s)
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

    def _kind_after_write(self, s: IndexState) -> IndexKind:
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
        ivf_outgrown = s.kind == "ivf" and ivf_nlist(s.live_count) >= 2 * s.index.nlist
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

    def _new_state(self, kind: IndexKind, vectors: FloatArray, ids: IntArray, attrs: AttributeColumns) -> IndexState:
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
            index = faiss.IndexIVFFlat(quantizer, d, ivf_nlist(n), faiss.METRIC_INNER_PRODUCT)
            index.cp.max_points_per_centroid = IVF_TRAIN_PER_LIST  # FAISS samples (seeded) when n is larger
            index.train(vectors)
            index.make_direct_map(True)  # an array direct map: reconstruct(label) for vector() and rebuilds
            index.nprobe = self.nprobe
        if n:
            index.add(vectors)
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        return IndexState(
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
    ) -> IndexState:
        """Rebuild the in-memory state from a loaded snapshot, checking every invariant it relies on."""
        kind = doc["kind"]
        if kind_of(index) != kind:
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
        return IndexState(
            index=index,
            kind=kind,
            label_ids=label_ids,
            live=live,
            attrs=attrs,
            ntotal=n,
            id_to_label=id_to_label,
            owned=owned,
        )
