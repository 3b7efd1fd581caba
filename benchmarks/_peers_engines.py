"""The engines of benchmarks/peers.py behind one small interface: build from vectors and field codes, then answer one
query at a time, optionally restricted by a :class:`Selectivity` through the engine's own filter mechanism.

Each peer is imported only when it is built (they live in the optional ``bench`` extra), so this module and the logic
of peers.py can be imported and tested without them.
"""

from __future__ import annotations

import math
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


def ivf_lists(n: int) -> int:
    """IVF partitions for the peers that need them: the same 4·√n rule as the service's IVF kind (benchmarks/ann.py)."""
    from ann import ivf_nlist

    return ivf_nlist(n)


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
    """Milvus Lite (``MilvusClient`` on a local file): IVF_FLAT on inner product with the service's nlist rule, a
    scalar ``field`` column filtered with a boolean expression; nprobe swept at search time."""

    name = "milvus-lite"
    nprobes = (16, 32, 64)

    def build(self, vectors: FloatArray, fields: npt.NDArray[np.int16], workdir: Path) -> None:
        from pymilvus import DataType, MilvusClient

        n, d = vectors.shape
        self.nlist = ivf_lists(n)
        self.client = MilvusClient(str(workdir / "milvus.db"))
        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=d)
        schema.add_field("field", DataType.INT16)
        self.client.create_collection("peers", schema=schema)
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
        params = self.client.prepare_index_params()
        params.add_index(field_name="vector", index_type="IVF_FLAT", metric_type="IP", params={"nlist": self.nlist})
        self.client.create_index("peers", params, sync=True)
        self.client.load_collection("peers")
        described = self.client.describe_index("peers", "vector")
        self.info = {"index": described.get("index_type"), "nlist": self.nlist, "metric": "IP"}

    def settings(self) -> list[Setting]:
        def make(nprobe: int) -> Setting:
            params = {"metric_type": "IP", "params": {"nprobe": nprobe}}

            def search(q: FloatArray, sel: Selectivity | None) -> IntArray:
                hits = self.client.search(
                    "peers", data=[q.tolist()], limit=K, filter=sel.where() if sel else "", search_params=params
                )[0]
                return padded([h["id"] for h in hits])

            return Setting(f"ivf_flat nprobe={nprobe}", search)

        return [make(p) for p in self.nprobes]


# ---------------------------------------------------------------------------------------------------------- LanceDB


class LanceDB(Engine):
    """LanceDB (embedded, Lance files): IVF_HNSW_SQ on dot product (its HNSW inside IVF partitions, 8-bit vectors)
    with exact re-ranking of ``refine_factor × k`` candidates, a BTREE scalar index on ``field`` and pre-filtering
    (``where(..., prefilter=True)``); nprobes swept."""

    name = "lancedb"
    nprobes = (8, 32)
    refine = 4

    def build(self, vectors: FloatArray, fields: npt.NDArray[np.int16], workdir: Path) -> None:
        import lancedb
        import pyarrow as pa

        n, d = vectors.shape
        self.partitions = max(1, round(math.sqrt(n) / 4))
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
        self.table.create_index(
            metric="dot", vector_column_name="vector", index_type="IVF_HNSW_SQ", num_partitions=self.partitions
        )
        self.table.create_scalar_index("field")
        self.info = {
            "index": "IVF_HNSW_SQ",
            "num_partitions": self.partitions,
            "refine_factor": self.refine,
            "filter": "BTREE + prefilter",
        }

    def settings(self) -> list[Setting]:
        def make(nprobes: int) -> Setting:
            def search(q: FloatArray, sel: Selectivity | None) -> IntArray:
                query = (
                    self.table.search(q, vector_column_name="vector")
                    .distance_type("dot")
                    .nprobes(nprobes)
                    .refine_factor(self.refine)
                    .limit(K)
                    .select(["id"])
                )
                if sel is not None:
                    query = query.where(sel.where(), prefilter=True)
                return padded(query.to_arrow()["id"].to_pylist())

            return Setting(f"ivf_hnsw_sq nprobes={nprobes}", search)

        return [make(p) for p in self.nprobes]


# ------------------------------------------------------------------------------------------------------------ txtai


class Txtai(Engine):
    """txtai ``Embeddings`` with external vectors (``method="external"``: the vectors given, no model), its default
    ANN backend (FAISS, which txtai configures itself from the size: ``IVF{nlist},SQ8`` with nprobe 6 by default),
    ``content=True`` so rows live in its SQLite store, and filters as SQL (``where similar(...) and field < 10``,
    which txtai answers by fetching ``candidates`` ANN hits and filtering them in SQLite)."""

    name = "txtai"
    nprobes = (6, 32)

    def build(self, vectors: FloatArray, fields: npt.NDArray[np.int16], workdir: Path) -> None:
        from txtai import Embeddings

        n = vectors.shape[0]
        self.embeddings = Embeddings(method="external", content=True, backend="faiss")
        self.embeddings.index(
            (i, {"text": vectors[i], "field": int(f)}, None) for i, f in zip(range(n), fields.tolist(), strict=True)
        )
        self.info = {"backend": "faiss", "config": {k: str(v) for k, v in (self.embeddings.config or {}).items()}}

    def settings(self) -> list[Setting]:
        def make(nprobe: int) -> Setting:
            def search(q: FloatArray, sel: Selectivity | None) -> IntArray:
                ann = self.embeddings.ann
                ann.config.setdefault("faiss", {})["nprobe"] = nprobe
                if sel is None:
                    hits = self.embeddings.search("select id from txtai where similar(:q)", K, parameters={"q": q})
                else:
                    sql = f"select id from txtai where similar(:q) and {sel.where()}"
                    hits = self.embeddings.search(sql, K, parameters={"q": q})
                return padded([int(h["id"]) for h in hits])

            return Setting(f"faiss nprobe={nprobe}", search)

        return [make(p) for p in self.nprobes]


ENGINES: dict[str, type[Engine]] = {e.name: e for e in (MilvusLite, LanceDB, Txtai)}
