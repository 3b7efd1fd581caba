"""The engines of benchmarks/peers.py behind one small interface: build from vectors and field codes, then answer one
query at a time, optionally restricted by a :class:`Selectivity` through the engine's own filter mechanism.

Each peer is imported only when it is built (they live in the optional ``bench`` extra), so this module and the logic
of peers.py can be imported and tested without them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
K = 10
INSERT_CHUNK = 20_000


@dataclass(frozen=True)
class Selectivity:
    """A filter letting through the records whose field code (uniform over 0..99) is below ``upper``: 10 → 10 %,
    1 → 1 %. The same set written in each engine's own language: a boolean mask, the service's
    :class:`~matchmaker.search.filters.Filter`, and a SQL-like ``field < upper`` expression (Milvus, LanceDB, txtai)."""

    label: str
    upper: int

    def mask(self, fields: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.bool_]:
        return np.asarray(fields) < self.upper

    def where(self) -> str:
        return f"field < {self.upper}"

    def service_filter(self) -> Any:
        from ann import FIELD_NAMES
        from matchmaker.search.filters import Filter

        return Filter(fields=FIELD_NAMES[: self.upper])


SELECTIVITIES = (Selectivity("10%", 10), Selectivity("1%", 1))


def padded(ids: Sequence[int], k: int = K) -> IntArray:
    """Result ids as a (k,) label row, -1 padded."""
    row = np.full(k, -1, dtype=np.int64)
    got = np.asarray(list(ids)[:k], dtype=np.int64)
    row[: got.shape[0]] = got
    return row


@dataclass
class Setting:
    """One search-time setting of a built engine: ``search(query (d,), selectivity or None) -> (K,) labels``."""

    name: str
    search: Callable[[FloatArray, Selectivity | None], IntArray]


class Engine:
    """A built peer: its settings and a description of what was built."""

    name = ""

    def __init__(self) -> None:
        self.info: dict[str, Any] = {}

    def build(self, vectors: FloatArray, fields: npt.NDArray[np.int16], workdir: Path) -> None:
        raise NotImplementedError

    def settings(self) -> list[Setting]:
        raise NotImplementedError


# ------------------------------------------------------------------------------------------------------- Milvus Lite


class MilvusLite(Engine):
    """Milvus Lite (``MilvusClient`` on a local file, which starts its own server process): HNSW on inner product
    with the shipped graph's parameters (M = 32, efConstruction 80), a scalar ``field`` column filtered with a boolean
    expression (Milvus filters inside the graph search); ef swept at search time."""

    name = "milvus-lite"
    efs = (64, 128)

    def build(self, vectors: FloatArray, fields: npt.NDArray[np.int16], workdir: Path) -> None:
        from pymilvus import DataType, MilvusClient

        n, d = vectors.shape
        self.client = MilvusClient(str(workdir / "milvus.db"))
        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=d)
        schema.add_field("field", DataType.INT16)
        hnsw = {"M": 32, "efConstruction": 80}
        params = self.client.prepare_index_params()
        params.add_index(field_name="vector", index_type="HNSW", metric_type="IP", params=hnsw)
        self.client.create_collection("peers", schema=schema, index_params=params)
        for start in range(0, n, INSERT_CHUNK):
            stop = min(n, start + INSERT_CHUNK)
            rows = [
                {"id": i, "vector": v, "field": f}
                for i, v, f in zip(
                    range(start, stop), vectors[start:stop].tolist(), fields[start:stop].tolist(), strict=True
                )
            ]
            self.client.insert("peers", rows)
        self.client.flush("peers")
        while True:  # searchable at once, but built only when every sealed row is in the graph
            state = self.client.describe_index("peers", "vector")
            if state.get("indexed_rows", 0) >= n or state.get("pending_index_rows", 1) == 0:
                break
            time.sleep(0.5)
        self.client.load_collection("peers")
        described = self.client.describe_index("peers", "vector")
        self.info = {
            "index": described.get("index_type"),
            **hnsw,
            "metric": "IP",
            "rows": described.get("indexed_rows"),
        }

    def settings(self) -> list[Setting]:
        def make(ef: int) -> Setting:
            params = {"metric_type": "IP", "params": {"ef": ef}}

            def search(q: FloatArray, sel: Selectivity | None) -> IntArray:
                hits = self.client.search(
                    "peers",
                    data=[q.tolist()],
                    limit=K,
                    filter=sel.where() if sel else "",
                    output_fields=["id"],
                    search_params=params,
                )[0]
                return padded([h["id"] for h in hits])

            return Setting(f"hnsw ef={ef}", search)

        return [make(ef) for ef in self.efs]


# ---------------------------------------------------------------------------------------------------------- LanceDB


class LanceDB(Engine):
    """LanceDB (embedded, Lance files): its IVF_HNSW_SQ index (an HNSW graph per IVF partition over 8-bit vectors) on
    dot product with LanceDB's own defaults for the partitions and the graph, exact re-ranking of ``refine_factor × k``
    candidates on the full vectors, a BTREE scalar index on ``field`` and pre-filtering (``where(...,
    prefilter=True)``); ef swept at search time."""

    name = "lancedb"
    efs = (64, 128)
    refine = 2

    def build(self, vectors: FloatArray, fields: npt.NDArray[np.int16], workdir: Path) -> None:
        import lancedb
        import pyarrow as pa
        from lancedb.index import BTree, HnswSq

        n, d = vectors.shape
        db = lancedb.connect(str(workdir / "lance"))
        flat = pa.array(np.ascontiguousarray(vectors).reshape(-1), type=pa.float32())
        table = pa.table(
            {
                "id": pa.array(np.arange(n, dtype=np.int64)),
                "field": pa.array(np.asarray(fields, dtype=np.int16)),
                "vector": pa.FixedSizeListArray.from_arrays(flat, d),
            }
        )
        self.table = db.create_table("peers", table)
        del table, flat
        self.table.create_index("vector", config=HnswSq(distance_type="dot"))
        self.table.create_index("field", config=BTree())
        stats = self.table.index_stats("vector_idx")
        self.info = {
            "index": "IVF_HNSW_SQ (LanceDB defaults)",
            "index_count": getattr(stats, "num_indices", None) if stats else None,
            "refine_factor": self.refine,
            "filter": "BTREE + prefilter",
        }

    def settings(self) -> list[Setting]:
        def make(ef: int) -> Setting:
            def search(q: FloatArray, sel: Selectivity | None) -> IntArray:
                query = (
                    self.table.search(q, vector_column_name="vector")
                    .distance_type("dot")
                    .ef(ef)
                    .refine_factor(self.refine)
                    .limit(K)
                    .select(["id"])
                )
                if sel is not None:
                    query = query.where(sel.where(), prefilter=True)
                return padded(query.to_arrow()["id"].to_pylist())

            return Setting(f"ivf_hnsw_sq ef={ef}", search)

        return [make(ef) for ef in self.efs]


# ------------------------------------------------------------------------------------------------------------ txtai


class Txtai(Engine):
    """txtai ``Embeddings`` with external vectors (``method="external"``: a transform that returns the given vectors,
    no model), its default ANN backend (FAISS, configured by txtai from the size: ``IVF{4√n},Flat`` with nprobe
    ``nlist / 16``), ``content=True`` so rows and the ``field`` column live in its SQLite store, and filters as SQL:
    ``where similar(:q, candidates) and field < 10``, which txtai answers by fetching ``candidates`` ANN hits and
    filtering them in SQLite (candidates = 2·k / selectivity, like a post-filter)."""

    name = "txtai"
    nprobes: tuple[int | None, ...] = (None, 32)  # None: txtai's own default

    def build(self, vectors: FloatArray, fields: npt.NDArray[np.int16], workdir: Path) -> None:
        from txtai import Embeddings

        def transform(inputs: Sequence[str]) -> FloatArray:
            return vectors[[int(i) for i in inputs]]

        n = vectors.shape[0]
        self.embeddings = Embeddings(method="external", transform=transform, content=True, backend="faiss")
        self.embeddings.index(
            (i, {"text": str(i), "field": f}, None) for i, f in zip(range(n), fields.tolist(), strict=True)
        )
        self.default_nprobe = int(self.embeddings.ann.nprobe())
        settings = self.embeddings.config.get("build", {}).get("settings", {})
        self.info = {"backend": "faiss", "components": settings.get("components"), "nprobe": self.default_nprobe}

    def settings(self) -> list[Setting]:
        def make(nprobe: int | None) -> Setting:
            probes = self.default_nprobe if nprobe is None else nprobe

            def search(q: FloatArray, sel: Selectivity | None) -> IntArray:
                self.embeddings.ann.config.setdefault("faiss", {})["nprobe"] = probes
                if sel is None:
                    sql = "select id from txtai where similar(:q)"
                else:
                    candidates = math.ceil(2 * K / (sel.upper / 100))
                    sql = f"select id from txtai where similar(:q, {candidates}) and {sel.where()}"
                hits = self.embeddings.search(sql, K, parameters={"q": q})
                return padded([int(h["id"]) for h in hits])

            return Setting(f"faiss nprobe={probes}" + (" (default)" if nprobe is None else ""), search)

        return [make(p) for p in self.nprobes]


ENGINES: dict[str, type[Engine]] = {e.name: e for e in (MilvusLite, LanceDB, Txtai)}
