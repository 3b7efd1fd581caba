"""The in-memory state of a vector index (the FAISS index, the label → database id map, live flags and attribute
columns) and the FAISS facts it is built from: the kind of an index, its raw vector storage, the IVF list count."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import faiss
import numpy as np
import numpy.typing as npt

from matchmaker.search.filters import AttributeColumns, BoolArray

IndexKind = Literal["flat", "hnsw", "ivf"]
FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

IVF_MIN_TRAIN = 2000
"""Below this many live records kind "ivf" uses an exact flat index (too few points to train centroids)."""
IVF_POINTS_PER_LIST = 39
"""FAISS k-means warns with fewer than 39 training points per centroid; nlist is capped accordingly."""
IVF_TRAIN_PER_LIST = 64
"""The IVF centroids are trained on a sample of at most this many points per list. FAISS's default (256) uses every
vector up to 256·nlist, which at 1M vectors (nlist 4000) is all of them: k-means then dominates the rebuild; 64 per
list cuts it 4x with no measurable recall change at the benchmark sizes (benchmarks/ann.py)."""


@dataclass
class IndexState:
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


def kind_of(index: Any) -> str:
    """Kind name of a FAISS index built by this module ("flat", "hnsw", "ivf"), else its FAISS class name."""
    if isinstance(index, faiss.IndexHNSWFlat):
        return "hnsw"
    if isinstance(index, faiss.IndexIVFFlat):
        return "ivf"
    if isinstance(index, faiss.IndexFlat):
        return "flat"
    return type(index).__name__


def flat_storage(state: IndexState) -> Any:
    """The IndexFlat holding the raw vectors of a flat or HNSW index."""
    return state.index if state.kind == "flat" else faiss.downcast_index(state.index.storage)


def ivf_nlist(n: int) -> int:
    """Number of IVF lists for ``n`` vectors: about 4·sqrt(n), but at least 39 training points per list."""
    return max(1, min(round(4 * math.sqrt(n)), n // IVF_POINTS_PER_LIST))
