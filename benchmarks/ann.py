"""ANN core benchmark: exact and approximate top-10 search over 384-d unit vectors, 10k to 1M.

    python benchmarks/ann.py --sizes 10000,100000,1000000 --data both [--reps 3] [--rebuild]
    python benchmarks/ann.py --tiny            # smoke test: 2,000 synthetic vectors, seconds

Data (``--data``)
-----------------
``synthetic``
    Clustered Gaussian data: 1,000 random centres, each point ``centre + 0.5·(B z) + 0.1·e`` with ``B`` one random
    384×32 basis shared by all clusters, ``z`` and ``e`` standard normal, then L2-normalised. The variation inside a
    cluster lives mostly in a 32-dimensional subspace, which is what real sentence embeddings look like (low intrinsic
    dimension). Uniform random 384-d vectors are NOT used: every point is almost equidistant from every other, so
    graph indexes cannot find neighbours (HNSW M=32, efSearch=64 reached recall@10 = 0.16 on 100k uniform vectors on
    this machine); that data tells nothing about embeddings.
``sample``
    The 400 records of ``data/sample/*.jsonl`` embedded once with ``create_embedder("e5-small")`` (documents; the
    100 needs are also encoded as queries), cached in ``benchmarks/results/.cache``. Each record is replicated to the
    size with Gaussian noise (σ = 0.01 per dimension, |noise| ≈ 0.2) and re-normalised; queries are the needs' query
    vectors with fresh noise. At 1M every record has 2,500 near-copies, so the top 10 of a query are decided by the
    noise alone: a harsher test than real data.

Competitors (all inner product on unit vectors, k = 10)
-------------------------------------------------------
NumPy brute force (matrix-vector product + argpartition); ``VectorIndex`` kinds ``flat`` (IndexFlatIP), ``hnsw``
(M = 32, efConstruction 80, efSearch swept) and ``ivf`` (IVF-Flat, nlist ≈ 4√n, nprobe swept), plus raw FAISS for
the other sweep points: HNSW M = 16, IVF-SQ8 and IVF-PQ (m = 48, 8 bits) on the same coarse centroids. The HNSW M = 32
graphs are built once per data set and size and cached (``--rebuild`` forces it; 1M took 7-12 min on 2 cores); the
build time shown for a cached graph (marked *) is the one recorded when it was built.

Measurements
------------
* build: wall time of ``upsert`` (VectorIndex) or ``train`` + ``add`` (raw FAISS) with ``--threads`` threads.
* memory: anonymous RSS (``/proc/self/statm`` resident − shared) gained by loading the saved index into a fresh
  subprocess, divided by n. For VectorIndex the id map and attribute columns are included; "faiss B/vec" is the
  FAISS structure alone.
* latency: one query per call, one thread (FAISS and BLAS), ``--latency-queries`` queries. All competitors run in the
  same process in blocks of 25 queries, in a shuffled order per block, so load from other processes hits them
  alike; repeated ``--reps`` times; p50 / p99 and the speed-up over NumPy (p50 ratio per repetition) are medians.
* batch: every query in one call on ``--threads`` threads, queries per second (median over repetitions).
* recall@10: against exact search (over ``--queries`` queries).
* filtered: 10 % and 1 % of the records (an attribute filter) and a filter matching exactly k records, through
  VectorIndex (ID selector) versus post-filtering (search ``k / selectivity · 2`` results, at most 4,096, then
  filter); recall@10 against exact filtered search and the share of queries that get ``min(k, matching)`` results.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from matchmaker.search.index import Filter, RecordAttrs, VectorIndex, set_faiss_threads

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_CACHE = RESULTS / ".cache"

DIM = 384
K = 10
GEN_VERSION = 1  # bump when a generator changes: cached data and indexes are keyed by it
SYNTH_CLUSTERS = 1000
SYNTH_LATENT = 32
SYNTH_SPREAD = 0.5
SYNTH_ISO = 0.1
SAMPLE_NOISE = 0.01
N_FIELDS = 100  # field codes are uniform over 100 values: 10 of them is a 10 % filter, one a 1 % filter
FIELD_NAMES = tuple(f"f{i:02d}" for i in range(N_FIELDS))
RARE_REGION = "rare"  # exactly K records carry it
HNSW_M = 32
EF_SEARCH_DEFAULT = 64
NPROBE_DEFAULT = 32
EFS = (16, 32, 64, 128)
NPROBES = (4, 8, 16, 32, 64, 128)
PQ_M = 48
IVF_TRAIN_PER_LIST = 64  # raw IVF variants train their centroids on 64 points per list
POSTFILTER_MARGIN = 2.0
POSTFILTER_MAX = 4096
LATENCY_BLOCK = 25
SELECTIVITY_PASS = 0.95
COMPRESSED_MAX_BYTES = 512
TARGETS = {
    "latency": "at the largest size: single-query p50 <= 1 ms at recall@10 >= 0.95 and >= 200x faster than NumPy",
    "filtered": "VectorIndex filtered search: recall@10 >= 0.95 at 10 % selectivity, k results whenever k match",
    "compressed": "an index at <= 512 B (0.5 KiB) per vector with recall@10 >= 0.9",
}

console = Console(width=200, highlight=False, soft_wrap=True)


def log(message: str) -> None:
    """Progress on stderr with a timestamp (the full run takes hours)."""
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ machine, memory


def machine() -> dict[str, Any]:
    """Where the numbers were measured (shared with cold_start.py)."""
    model = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), None)
    except OSError:
        pass
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "ram_bytes": ram,
        "ram_gib": round(ram / 2**30, 1),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "faiss": faiss.__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def anon_rss() -> int:
    """Anonymous resident memory of this process in bytes: statm resident minus shared (file-backed) pages."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        fields = fh.read().split()
    return (int(fields[1]) - int(fields[2])) * os.sysconf("SC_PAGE_SIZE")


def _load_for_memory(kind: str, path: Path) -> Any:
    if kind == "npy":
        return np.load(path)
    if kind == "faiss":
        return faiss.read_index(str(path))
    if kind == "vectorindex":
        return VectorIndex.load(path, mmap=False, verify=False)[0]
    raise ValueError(kind)


def memory_child(specs: Sequence[str]) -> None:
    """Subprocess side of :func:`measure_memory`: load each ``kind=path`` in turn (keeping the previous ones alive, so
    freed memory cannot be reused) and print the anonymous RSS each one added, as JSON."""
    libc = ctypes.CDLL("libc.so.6")
    kept, out = [], []
    for spec in specs:
        kind, path = spec.split("=", 1)
        gc.collect()
        # Hand freed heap pages back to the kernel first: otherwise the load may reuse pages that are already
        # resident (left over from the imports) and the delta undercounts small indexes.
        libc.malloc_trim(0)
        before = anon_rss()
        started = time.perf_counter()
        kept.append(_load_for_memory(kind, Path(path)))
        seconds = time.perf_counter() - started
        gc.collect()
        out.append({"spec": spec, "anon_bytes": anon_rss() - before, "load_s": round(seconds, 3)})
    print(json.dumps(out))


def measure_memory(groups: Sequence[Sequence[str]]) -> dict[str, int]:
    """Anonymous RSS added by loading each saved index; one fresh subprocess per group of ``kind=path`` specs."""
    result: dict[str, int] = {}
    for group in groups:
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--measure-memory", *group],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"memory subprocess failed: {proc.stderr[-2000:]}")
        for row in json.loads(proc.stdout.strip().splitlines()[-1]):
            result[row["spec"]] = int(row["anon_bytes"])
    return result


# ----------------------------------------------------------------------------------------------------------- data


def normalise(x: FloatArray) -> FloatArray:
    """Rows scaled to unit L2 norm, in place."""
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def synthetic(n: int, seed: int) -> FloatArray:
    """``n`` clustered Gaussian unit vectors (see the module docstring); centres and basis do not depend on ``seed``."""
    shared = np.random.default_rng(12345)
    centres = shared.standard_normal((SYNTH_CLUSTERS, DIM), dtype=np.float32)
    basis = shared.standard_normal((DIM, SYNTH_LATENT), dtype=np.float32) / np.float32(math.sqrt(SYNTH_LATENT))
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        chunk = centres[rng.integers(0, SYNTH_CLUSTERS, m)]
        chunk += SYNTH_SPREAD * (rng.standard_normal((m, SYNTH_LATENT), dtype=np.float32) @ basis.T)
        chunk += SYNTH_ISO * rng.standard_normal((m, DIM), dtype=np.float32)
        out[start : start + m] = normalise(chunk)
    return out


def perturbed(base: FloatArray, n: int, seed: int) -> FloatArray:
    """``base`` rows replicated round-robin to ``n`` rows, plus N(0, SAMPLE_NOISE²) noise, re-normalised."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        chunk = base[np.arange(start, start + m) % base.shape[0]]
        chunk += SAMPLE_NOISE * rng.standard_normal((m, DIM), dtype=np.float32)
        out[start : start + m] = normalise(chunk)
    return out


def sample_embeddings(cache: Path) -> tuple[FloatArray, FloatArray]:
    """(400 document vectors, 100 need query vectors) of data/sample with e5-small, computed once and cached."""
    from matchmaker.search.documents import record_text
    from matchmaker.search.embedding import create_embedder

    sources = [("achievements.jsonl", "summary"), ("demands.jsonl", "description")]
    texts: dict[str, list[str]] = {}
    digest = hashlib.sha256()
    for name, body in sources:
        raw = (ROOT / "data" / "sample" / name).read_bytes()
        digest.update(raw)
        rows = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
        texts[name] = [record_text(r["title"], r.get("keywords"), r.get(body) or "") for r in rows]
    path = cache / f"sample-e5-small-{digest.hexdigest()[:12]}.npz"
    if path.exists():
        with np.load(path) as npz:
            return npz["documents"], npz["queries"]
    log("embedding data/sample with e5-small (once; a few minutes) ...")
    embedder = create_embedder("e5-small")
    documents = embedder.encode_documents(texts["achievements.jsonl"] + texts["demands.jsonl"]).astype(np.float32)
    queries = embedder.encode_queries(texts["demands.jsonl"]).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, documents=documents, queries=queries)
    return documents, queries


@dataclass
class Dataset:
    """Vectors on disk (.npy, for the memory subprocess and cold_start.py) and in memory, queries, truth, attributes."""

    name: str
    key: str  # cache key: name, generator version, size
    path: Path
    vectors: FloatArray
    queries: FloatArray
    truth: IntArray  # exact top-K labels per query
    fields: npt.NDArray[np.int16]  # field code per label
    rare: IntArray  # the K labels in RARE_REGION

    @property
    def n(self) -> int:
        return int(self.vectors.shape[0])

    def attrs(self) -> list[RecordAttrs]:
        """One RecordAttrs per label (status/trl/modes constant; field and region as above)."""
        rare = np.zeros(self.n, dtype=np.bool_)
        rare[self.rare] = True
        modes: frozenset[str] = frozenset()
        return [
            RecordAttrs(
                field=FIELD_NAMES[f], region=RARE_REGION if r else "北京", status="active", trl=None, modes=modes
            )
            for f, r in zip(self.fields.tolist(), rare.tolist(), strict=True)
        ]

    def filters(self) -> list[tuple[str, Filter, npt.NDArray[np.bool_]]]:
        """(label, filter, mask of the matching labels): 10 %, 1 % and exactly K records."""
        rare = np.zeros(self.n, dtype=np.bool_)
        rare[self.rare] = True
        return [
            ("10%", Filter(fields=FIELD_NAMES[:10]), self.fields < 10),
            ("1%", Filter(fields=FIELD_NAMES[:1]), self.fields == 0),
            (f"{K} records", Filter(regions=(RARE_REGION,)), rare),
        ]


def exact_top(vectors: FloatArray, queries: FloatArray, k: int) -> IntArray:
    """Exact top-k labels by inner product (FAISS brute-force kernel, no copy of ``vectors``)."""
    _, labels = faiss.knn(queries, vectors, k, metric=faiss.METRIC_INNER_PRODUCT)
    return labels.astype(np.int64)


def load_dataset(name: str, n: int, nq: int, cache: Path) -> Dataset:
    """Generate (or read from the cache) one data set with its queries and exact top-K."""
    key = f"{name}-v{GEN_VERSION}-{n}"
    data_dir = cache / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"{key}.npy"
    if name == "synthetic":
        make_vectors: Callable[[], FloatArray] = lambda: synthetic(n, seed=1)  # noqa: E731
        queries = synthetic(nq, seed=2)
    elif name == "sample":
        documents, need_queries = sample_embeddings(cache)
        make_vectors = lambda: perturbed(documents, n, seed=1)  # noqa: E731
        queries = perturbed(need_queries, nq, seed=2)
    else:
        raise ValueError(f"unknown data {name!r}")
    if path.exists():
        vectors = np.load(path)
    else:
        log(f"generating {key} ...")
        vectors = make_vectors()
        np.save(path.with_suffix(".tmp.npy"), vectors)
        path.with_suffix(".tmp.npy").replace(path)
    truth_path = data_dir / f"{key}-truth-q{nq}.npy"
    if truth_path.exists():
        truth = np.load(truth_path)
    else:
        log(f"exact top-{K} for {nq} queries on {key} ...")
        truth = exact_top(vectors, queries, K)
        np.save(truth_path, truth)
    rng = np.random.default_rng(3)
    fields = rng.integers(0, N_FIELDS, n).astype(np.int16)
    rare = np.sort(rng.choice(n, K, replace=False)).astype(np.int64)
    return Dataset(name, key, path, vectors, queries, truth, fields, rare)


# ------------------------------------------------------------------------------------------------ indexes, variants


@dataclass
class Family:
    """One built structure and its build / memory figures; its variants are search-time settings."""

    name: str
    impl: str  # numpy | VectorIndex | faiss
    build_s: float | None = None
    build_cached: bool = False
    bytes_per_vector: float | None = None
    faiss_bytes_per_vector: float | None = None
    memory_specs: list[str] = field(default_factory=list)  # [total, faiss-only]
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Variant:
    """A competitor: single-query and batch search functions with one setting."""

    family: Family
    setting: str
    one: Callable[[FloatArray], object]  # (1, d) query -> anything (timed)
    batch: Callable[[FloatArray], IntArray]  # (nq, d) -> (nq, K) labels, -1 padded
    prepare: Callable[[], None] = lambda: None  # applied before each timed block (VectorIndex knobs)
    exhaustive: bool = False

    @property
    def name(self) -> str:
        return f"{self.family.name} {self.setting}".strip()


def labels_of(results: list[list[tuple[int, float]]], k: int = K) -> IntArray:
    """VectorIndex results (db id = label here) as a (nq, k) label array padded with -1."""
    out = np.full((len(results), k), -1, dtype=np.int64)
    for row, hits in zip(out, results, strict=True):
        ids = [i for i, _ in hits[:k]]
        row[: len(ids)] = ids
    return out


def numpy_variants(ds: Dataset) -> list[Variant]:
    """Brute force: one matrix-vector product (or matrix product) plus argpartition."""
    x, n = ds.vectors, ds.n

    def one(q: FloatArray) -> IntArray:
        scores = x @ q[0]
        top = np.argpartition(scores, n - K)[n - K :]
        return top[np.argsort(-scores[top])]

    def batch(queries: FloatArray) -> IntArray:
        out = np.empty((queries.shape[0], K), dtype=np.int64)
        for start in range(0, queries.shape[0], 64):
            scores = queries[start : start + 64] @ x.T
            top = np.argpartition(scores, n - K, axis=1)[:, n - K :]
            order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
            out[start : start + 64] = np.take_along_axis(top, order, axis=1)
        return out

    family = Family("numpy brute force", "numpy", build_s=0.0, memory_specs=[f"npy={ds.path}"])
    return [Variant(family, "", one, batch, exhaustive=True)]


def vi_variants(vi: VectorIndex, family: Family, knob: str | None, values: Sequence[int]) -> list[Variant]:
    """Variants of one VectorIndex, one per value of ``knob`` ("ef_search" / "nprobe"), set before each block."""

    def make(value: int | None) -> Variant:
        def prepare() -> None:
            if knob is not None:
                setattr(vi, knob, value)

        def one(q: FloatArray) -> object:
            return vi.search(q, K)

        def batch(queries: FloatArray) -> IntArray:
            prepare()
            return labels_of(vi.search(queries, K))

        setting = "" if knob is None else f"{'ef' if knob == 'ef_search' else 'nprobe'}={value}"
        return Variant(family, setting, one, batch, prepare, exhaustive=knob is None)

    return [make(v) for v in values] if knob is not None else [make(None)]


def faiss_variants(index: Any, family: Family, knob: str, values: Sequence[int]) -> list[Variant]:
    """Variants of a raw FAISS index, with per-call search parameters (the index is never mutated)."""

    def make(value: int) -> Variant:
        if knob == "efSearch":
            params: Any = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # missing from the stubs
            params.efSearch = value
            setting = f"ef={value}"
        else:
            params = faiss.SearchParametersIVF()
            params.nprobe = value
            setting = f"nprobe={value}"

        def one(q: FloatArray) -> object:
            return index.search(q, K, params=params)

        def batch(queries: FloatArray) -> IntArray:
            return index.search(queries, K, params=params)[1].astype(np.int64)

        return Variant(family, setting, one, batch)

    return [make(v) for v in values]


def timed_upsert(vi: VectorIndex, ds: Dataset, attrs: list[RecordAttrs]) -> float:
    started = time.perf_counter()
    vi.upsert(range(ds.n), ds.vectors, attrs)
    return time.perf_counter() - started


def ivf_nlist(n: int) -> int:
    """nlist of VectorIndex kind "ivf" (``index._ivf_nlist``): 4·√n, at least 39 training points per list."""
    return max(1, min(round(4 * math.sqrt(n)), n // 39))


def build_hnsw(
    ds: Dataset, attrs: list[RecordAttrs], efc: int, cache: Path, rebuild: bool
) -> tuple[VectorIndex, Family]:
    """VectorIndex kind "hnsw" (M = 32), from the snapshot cache unless missing or ``rebuild``."""
    snap = cache / "index" / f"{ds.key}-hnsw-M{HNSW_M}-efc{efc}"
    family = Family(f"hnsw M={HNSW_M}", "VectorIndex", info={"efConstruction": efc, "snapshot": str(snap)})
    if not rebuild and (snap / "meta.json").exists():
        vi, meta = VectorIndex.load(snap, mmap=False, verify=False)
        family.build_s, family.build_cached = float(meta["build_seconds"]), True
        family.info["built_with"] = meta.get("built_with")
        log(f"hnsw M={HNSW_M} from cache ({family.build_s:.0f} s when built)")
    else:
        log(f"building hnsw M={HNSW_M} efConstruction={efc} on {ds.n} vectors ...")
        vi = VectorIndex(DIM, kind="hnsw", hnsw_m=HNSW_M, ef_construction=efc, ef_search=EF_SEARCH_DEFAULT)
        family.build_s = timed_upsert(vi, ds, attrs)
        built_with = {"threads": faiss.omp_get_max_threads(), "load_average": list(os.getloadavg())}
        vi.save(snap, {"build_seconds": family.build_s, "built_with": built_with})
        family.info["built_with"] = built_with
        log(f"  built in {family.build_s:.1f} s")
    family.memory_specs = [f"vectorindex={snap}", f"faiss={snap / 'index.faiss'}"]
    return vi, family


def build_all(ds: Dataset, args: argparse.Namespace, tmp: Path) -> tuple[list[Variant], dict[str, VectorIndex]]:
    """Every competitor for one data set, built in this process; snapshots for the memory subprocesses."""
    n = ds.n
    attrs = ds.attrs()
    variants = numpy_variants(ds)
    indexes: dict[str, VectorIndex] = {}

    vi, fam = build_hnsw(ds, attrs, args.ef_construction, args.cache, args.rebuild)
    indexes["hnsw"] = vi
    variants += vi_variants(vi, fam, "ef_search", EFS)
    # The same graph through raw FAISS (mapped from the snapshot, no extra memory): the wrapper's overhead.
    raw = faiss.read_index(str(Path(fam.info["snapshot"]) / "index.faiss"), faiss.IO_FLAG_MMAP_IFC)
    variants += faiss_variants(raw, Family(f"hnsw M={HNSW_M} (raw faiss, same graph)", "faiss"), "efSearch", [64])

    log("building flat ...")
    vi = VectorIndex(DIM, kind="flat")
    fam = Family("flat (IndexFlatIP)", "VectorIndex", build_s=timed_upsert(vi, ds, attrs))
    snap = args.cache / "index" / f"{ds.key}-flat"
    vi.save(snap, {"build_seconds": fam.build_s})
    fam.memory_specs = [f"vectorindex={snap}", f"faiss={snap / 'index.faiss'}"]
    indexes["flat"] = vi
    variants += vi_variants(vi, fam, None, [])

    if n <= args.hnsw16_max:
        log("building hnsw M=16 (raw faiss) ...")
        index: Any = faiss.IndexHNSWFlat(DIM, 16, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = args.ef_construction
        started = time.perf_counter()
        index.add(ds.vectors)
        fam = Family("hnsw M=16", "faiss", build_s=time.perf_counter() - started)
        fam.info["efConstruction"] = args.ef_construction
        faiss.write_index(index, str(tmp / "hnsw16.faiss"))
        fam.memory_specs = [f"faiss={tmp / 'hnsw16.faiss'}"]
        variants += faiss_variants(index, fam, "efSearch", EFS)

    nlist = ivf_nlist(n)
    nprobes = sorted({min(p, nlist) for p in NPROBES})
    log(f"building ivf (VectorIndex, nlist={nlist}) ...")
    vi = VectorIndex(DIM, kind="ivf", nprobe=NPROBE_DEFAULT)
    fam = Family("ivf-flat", "VectorIndex", build_s=timed_upsert(vi, ds, attrs), info={"nlist": nlist})
    snap = args.cache / "index" / f"{ds.key}-ivf"
    vi.save(snap, {"build_seconds": fam.build_s})
    fam.memory_specs = [f"vectorindex={snap}", f"faiss={snap / 'index.faiss'}"]
    indexes["ivf"] = vi
    variants += vi_variants(vi, fam, "nprobe", nprobes)

    # Compressed: IVF-SQ8 and IVF-PQ on one set of coarse centroids, trained on IVF_TRAIN_PER_LIST points per list.
    rng = np.random.default_rng(4)
    train = ds.vectors[np.sort(rng.choice(n, min(n, nlist * IVF_TRAIN_PER_LIST), replace=False))]
    log(f"building ivf-sq8 (raw faiss, train on {train.shape[0]}) ...")
    started = time.perf_counter()
    sq8: Any = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(DIM), DIM, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    sq8.train(train)
    sq8.add(ds.vectors)
    fam = Family("ivf-sq8", "faiss", build_s=time.perf_counter() - started, info={"nlist": nlist})
    faiss.write_index(sq8, str(tmp / "ivf-sq8.faiss"))
    fam.memory_specs = [f"faiss={tmp / 'ivf-sq8.faiss'}"]
    variants += faiss_variants(sq8, fam, "nprobe", nprobes)

    # 8-bit codebooks need 39·256 training points; below that (--tiny) 4 bits keep k-means sane.
    bits = 8 if train.shape[0] >= 39 * 256 else 4
    log(f"building ivf-pq{PQ_M}x{bits} (raw faiss) ...")
    started = time.perf_counter()
    quantizer = faiss.IndexFlatIP(DIM)
    quantizer.add(faiss.downcast_index(sq8.quantizer).reconstruct_n(0, nlist))  # same centroids, no k-means again
    pq: Any = faiss.IndexIVFPQ(quantizer, DIM, nlist, PQ_M, bits, faiss.METRIC_INNER_PRODUCT)
    pq.train(train)
    pq.add(ds.vectors)
    fam = Family(f"ivf-pq{PQ_M}x{bits}", "faiss", build_s=time.perf_counter() - started)
    fam.info.update(nlist=nlist, m=PQ_M, bits=bits)
    fam.info["note"] = "coarse centroids reused from ivf-sq8 (build time excludes that k-means)"
    faiss.write_index(pq, str(tmp / "ivf-pq.faiss"))
    fam.memory_specs = [f"faiss={tmp / 'ivf-pq.faiss'}"]
    variants += faiss_variants(pq, fam, "nprobe", nprobes)
    del attrs
    return variants, indexes


def fill_memory(variants: Sequence[Variant], n: int, shared: bool) -> None:
    """Run the memory subprocesses (one per index, or one for all with ``shared``) and store bytes per vector."""
    families = list({id(v.family): v.family for v in variants if v.family.memory_specs}.values())
    specs = [s for f in families for s in f.memory_specs]
    groups = [specs] if shared else [[s] for s in specs]
    measured = measure_memory(groups)
    for f in families:
        f.bytes_per_vector = measured[f.memory_specs[0]] / n
        f.faiss_bytes_per_vector = measured[f.memory_specs[-1]] / n


# ------------------------------------------------------------------------------------------------------ measuring


def recall(found: IntArray, truth: IntArray, wanted: npt.NDArray[np.int64] | int = K) -> float:
    """Mean share of the true top results found (per query: |found ∩ truth| / wanted)."""
    wanted_arr = np.broadcast_to(np.asarray(wanted), (found.shape[0],))
    hits = [len(set(f[f >= 0].tolist()) & set(t[t >= 0].tolist())) for f, t in zip(found, truth, strict=True)]
    return float(np.mean(np.asarray(hits) / np.maximum(wanted_arr, 1)))


def latency_rounds(variants: Sequence[Variant], queries: FloatArray, seed: int) -> dict[str, npt.NDArray[np.float64]]:
    """Single-query latencies in ms per variant, interleaved in blocks in a shuffled order (one repetition)."""
    rows = [queries[i : i + 1] for i in range(queries.shape[0])]
    times: dict[str, list[float]] = {v.name: [] for v in variants}
    rng = np.random.default_rng(seed)
    for v in variants:  # warm-up: first-touch costs and lazily built FAISS tables are not part of the figure
        v.prepare()
        for q in rows[:3]:
            v.one(q)
    for start in range(0, len(rows), LATENCY_BLOCK):
        block = rows[start : start + LATENCY_BLOCK]
        for i in rng.permutation(len(variants)):
            v = variants[i]
            v.prepare()
            sink = times[v.name]
            for q in block:
                t0 = time.perf_counter_ns()
                v.one(q)
                sink.append((time.perf_counter_ns() - t0) / 1e6)
    return {name: np.asarray(t) for name, t in times.items()}


def measure_variants(variants: Sequence[Variant], ds: Dataset, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Recall, single-query latency (1 thread) and batch throughput (``args.threads``) of every variant."""
    lat_queries = ds.queries[: args.latency_queries]
    p50s: dict[str, list[float]] = {v.name: [] for v in variants}
    p99s: dict[str, list[float]] = {v.name: [] for v in variants}
    speedups: dict[str, list[float]] = {v.name: [] for v in variants}
    qps: dict[str, list[float]] = {v.name: [] for v in variants}
    found: dict[str, IntArray] = {}
    baseline = variants[0].name  # numpy brute force
    for rep in range(args.reps):
        log(f"  latency repetition {rep + 1}/{args.reps} ({len(variants)} competitors) ...")
        set_faiss_threads(1)
        with threadpool_limits(limits=1):
            times = latency_rounds(variants, lat_queries, seed=rep)
        base_p50 = float(np.percentile(times[baseline], 50))
        for name, t in times.items():
            p50 = float(np.percentile(t, 50))
            p50s[name].append(p50)
            p99s[name].append(float(np.percentile(t, 99)))
            speedups[name].append(base_p50 / p50)
        log(f"  batch repetition {rep + 1}/{args.reps} ...")
        set_faiss_threads(args.threads)
        with threadpool_limits(limits=args.threads):
            order = np.random.default_rng(100 + rep).permutation(len(variants))
            for i in order:
                v = variants[i]
                started = time.perf_counter()
                labels = v.batch(ds.queries)
                qps[v.name].append(ds.queries.shape[0] / (time.perf_counter() - started))
                found.setdefault(v.name, labels)
    rows = []
    for v in variants:
        f = v.family
        rows.append(
            {
                "name": v.name,
                "family": f.name,
                "impl": f.impl,
                "setting": v.setting,
                "recall_at_10": round(recall(found[v.name], ds.truth), 4),
                "p50_ms": round(float(np.median(p50s[v.name])), 4),
                "p99_ms": round(float(np.median(p99s[v.name])), 4),
                "p50_ms_reps": [round(x, 4) for x in p50s[v.name]],
                "speedup_vs_numpy_p50": round(float(np.median(speedups[v.name])), 1),
                "batch_qps": round(float(np.median(qps[v.name])), 1),
                "batch_qps_reps": [round(x, 1) for x in qps[v.name]],
                "build_s": None if f.build_s is None else round(f.build_s, 2),
                "build_cached": f.build_cached,
                "bytes_per_vector": None if f.bytes_per_vector is None else round(f.bytes_per_vector, 1),
                "faiss_bytes_per_vector": None
                if f.faiss_bytes_per_vector is None
                else round(f.faiss_bytes_per_vector, 1),
                "info": f.info,
            }
        )
    return rows


def exact_filtered(ds: Dataset, mask: npt.NDArray[np.bool_]) -> IntArray:
    """Exact top-K among the labels in ``mask`` (-1 padded when fewer match)."""
    allowed = np.flatnonzero(mask)
    k = min(K, allowed.shape[0])
    out = np.full((ds.queries.shape[0], K), -1, dtype=np.int64)
    if k:
        out[:, :k] = allowed[exact_top(np.ascontiguousarray(ds.vectors[allowed]), ds.queries, k)]
    return out


def measure_filtered(ds: Dataset, indexes: dict[str, VectorIndex], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Filtered search through VectorIndex (ID selectors) versus post-filtering, per selectivity."""
    hnsw, ivf, flat = indexes["hnsw"], indexes["ivf"], indexes["flat"]
    hnsw.ef_search, ivf.nprobe = EF_SEARCH_DEFAULT, NPROBE_DEFAULT  # the service defaults, after the sweeps
    rows: list[dict[str, Any]] = []
    for label, flt, mask in ds.filters():
        matching = int(mask.sum())
        selectivity = matching / ds.n
        truth = exact_filtered(ds, mask)
        fetch = min(POSTFILTER_MAX, ds.n, math.ceil(K / selectivity * POSTFILTER_MARGIN))

        def post(queries: FloatArray, mask: npt.NDArray[np.bool_] = mask, fetch: int = fetch) -> IntArray:
            wide = labels_of(hnsw.search(queries, fetch), fetch)
            out = np.full((queries.shape[0], K), -1, dtype=np.int64)
            for row, cand in zip(out, wide, strict=True):
                kept = cand[(cand >= 0) & mask[np.maximum(cand, 0)]][:K]
                row[: kept.shape[0]] = kept
            return out

        def through(vi: VectorIndex, flt: Filter = flt) -> Callable[[FloatArray], IntArray]:
            return lambda queries: labels_of(vi.search(queries, K, flt))

        methods = {
            f"VectorIndex hnsw ef={EF_SEARCH_DEFAULT} (selector)": through(hnsw),
            f"VectorIndex ivf nprobe={NPROBE_DEFAULT} (selector)": through(ivf),
            f"post-filter hnsw (fetch {fetch})": post,
            "VectorIndex flat (selector, exact)": through(flat),
        }
        fam = Family(f"filtered {label}", "VectorIndex")
        variants = [Variant(fam, name, fn, fn) for name, fn in methods.items()]
        set_faiss_threads(1)
        with threadpool_limits(limits=1):
            reps = [
                latency_rounds(variants, ds.queries[: args.filter_latency_queries], seed=rep)
                for rep in range(args.reps)
            ]
        set_faiss_threads(args.threads)
        wanted = min(K, matching)
        for v in variants:
            got = v.batch(ds.queries)
            count = (got >= 0).sum(axis=1)
            rows.append(
                {
                    "filter": label,
                    "matching": matching,
                    "selectivity": round(selectivity, 5),
                    "method": v.setting,
                    "recall_at_10": round(recall(got, truth, wanted), 4),
                    "full_k_share": round(float(np.mean(count >= wanted)), 4),
                    "min_results": int(count.min()),
                    "p50_ms": round(float(np.median([np.percentile(r[v.name], 50) for r in reps])), 4),
                    "p99_ms": round(float(np.median([np.percentile(r[v.name], 99) for r in reps])), 4),
                }
            )
    return rows


# -------------------------------------------------------------------------------------------------------- targets


def check_targets(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The issue's targets, judged at the largest size of each data set."""
    out: dict[str, Any] = {"definitions": TARGETS}
    for data in sorted({r["data"] for r in runs}):
        run = max((r for r in runs if r["data"] == data), key=lambda r: r["n"])
        results = run["results"]
        good = [r for r in results if r["recall_at_10"] >= 0.95 and r["impl"] != "numpy"]
        fastest = min(good, key=lambda r: r["p50_ms"], default=None)
        latency_ok = fastest is not None and fastest["p50_ms"] <= 1.0 and fastest["speedup_vs_numpy_p50"] >= 200
        ours = [f for f in run["filtered"] if f["method"].startswith("VectorIndex hnsw")]
        ten = next((f for f in ours if f["filter"] == "10%"), None)
        filtered_ok = (
            ten is not None
            and ten["recall_at_10"] >= SELECTIVITY_PASS
            and all(f["full_k_share"] == 1.0 for f in run["filtered"] if f["method"].startswith("VectorIndex"))
        )
        small = [
            r
            for r in results
            if r["family"].startswith(("ivf-sq8", "ivf-pq"))
            and r["bytes_per_vector"] is not None
            and r["bytes_per_vector"] <= COMPRESSED_MAX_BYTES
            and r["recall_at_10"] >= 0.9
        ]
        compressed = min(small, key=lambda r: r["p50_ms"], default=None)
        out[data] = {
            "n": run["n"],
            "latency": {
                "pass": latency_ok,
                "fastest_at_recall_0.95": None
                if fastest is None
                else {k: fastest[k] for k in ("name", "recall_at_10", "p50_ms", "p99_ms", "speedup_vs_numpy_p50")},
            },
            "filtered": {
                "pass": filtered_ok,
                "hnsw_10pct": ten,
                "all_vectorindex_full_k": all(
                    f["full_k_share"] == 1.0 for f in run["filtered"] if f["method"].startswith("VectorIndex")
                ),
            },
            "compressed": {
                "pass": compressed is not None,
                "best": None
                if compressed is None
                else {k: compressed[k] for k in ("name", "bytes_per_vector", "recall_at_10", "p50_ms")},
            },
        }
    return out


# ---------------------------------------------------------------------------------------------------------- output


def print_run(run: dict[str, Any]) -> None:
    """The result tables of one data set and size."""
    table = Table(title=f"{run['data']} n={run['n']:,} d={DIM} k={K}", title_justify="left")
    for col in (
        "competitor",
        "recall@10",
        "p50 ms",
        "p99 ms",
        "× numpy",
        "batch q/s",
        "build s",
        "B/vec",
        "faiss B/vec",
    ):
        table.add_column(col, justify="left" if col == "competitor" else "right")
    for r in run["results"]:
        table.add_row(
            r["name"] + (" [VI]" if r["impl"] == "VectorIndex" else ""),
            f"{r['recall_at_10']:.3f}",
            f"{r['p50_ms']:.3f}",
            f"{r['p99_ms']:.3f}",
            f"{r['speedup_vs_numpy_p50']:.0f}",
            f"{r['batch_qps']:.0f}",
            "—" if r["build_s"] is None else f"{r['build_s']:.1f}" + ("*" if r["build_cached"] else ""),
            "—" if r["bytes_per_vector"] is None else f"{r['bytes_per_vector']:.0f}",
            "—" if r["faiss_bytes_per_vector"] is None else f"{r['faiss_bytes_per_vector']:.0f}",
        )
    console.print(table)
    console.print("[VI] = through matchmaker's VectorIndex; * = build time from the cached build")
    ftable = Table(title=f"filtered search, {run['data']} n={run['n']:,}", title_justify="left")
    for col in ("filter", "matching", "method", "recall@10", "k returned", "p50 ms", "p99 ms"):
        ftable.add_column(col, justify="left" if col in ("filter", "method") else "right")
    for f in run["filtered"]:
        ftable.add_row(
            f["filter"],
            f"{f['matching']:,}",
            f["method"],
            f"{f['recall_at_10']:.3f}",
            f"{f['full_k_share']:.0%}",
            f"{f['p50_ms']:.3f}",
            f"{f['p99_ms']:.3f}",
        )
    console.print(ftable)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write atomically (a crash mid-run leaves the previous file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated numbers of vectors")
    parser.add_argument("--data", choices=("synthetic", "sample", "both"), default="both")
    parser.add_argument("--queries", type=int, default=1000, help="queries for recall and batch throughput")
    parser.add_argument("--latency-queries", type=int, default=500, help="single queries timed per repetition")
    parser.add_argument("--filter-latency-queries", type=int, default=200, help="single filtered queries timed")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of the timed parts")
    parser.add_argument("--threads", type=int, default=2, help="threads for building and batch search")
    parser.add_argument("--ef-construction", type=int, default=80)
    parser.add_argument("--hnsw16-max", type=int, default=200_000, help="build raw HNSW M=16 up to this size")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached HNSW graphs")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="cache folder (git-ignored)")
    parser.add_argument("--json", type=Path, default=RESULTS / "ann.json")
    parser.add_argument("--tiny", action="store_true", help="smoke test: 2,000 synthetic vectors, 2 repetitions")
    parser.add_argument("--measure-memory", nargs="+", metavar="KIND=PATH", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure_memory:
        memory_child(args.measure_memory)
        return 0
    if args.tiny:
        args.sizes, args.data, args.reps = "2000", "synthetic", 2
        args.queries, args.latency_queries, args.filter_latency_queries = 100, 50, 20
        # One thread: tiny k-means runs (PQ codebooks) spend their time in OpenMP barriers on a busy machine.
        args.threads = 1
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    datas = ["synthetic", "sample"] if args.data == "both" else [args.data]

    started = time.perf_counter()
    payload: dict[str, Any] = {
        "benchmark": "ann",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "config": {
            "sizes": sizes,
            "data": datas,
            "dim": DIM,
            "k": K,
            "queries": args.queries,
            "latency_queries": args.latency_queries,
            "filter_latency_queries": args.filter_latency_queries,
            "reps": args.reps,
            "threads": args.threads,
            "hnsw_m": HNSW_M,
            "ef_construction": args.ef_construction,
            "ef_search": list(EFS),
            "nprobe": list(NPROBES),
            "pq_m": PQ_M,
            "synthetic": {"clusters": SYNTH_CLUSTERS, "latent": SYNTH_LATENT, "spread": SYNTH_SPREAD, "iso": SYNTH_ISO},
            "sample_noise": SAMPLE_NOISE,
            "tiny": args.tiny,
        },
        "targets": TARGETS,
        "runs": [],
    }
    tmp = args.cache / "tmp"
    for data in datas:
        for n in sizes:
            log(f"=== {data} n={n} ===")
            run_started = time.perf_counter()
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            ds = load_dataset(data, n, args.queries, args.cache)
            set_faiss_threads(args.threads)
            with threadpool_limits(limits=args.threads):
                variants, indexes = build_all(ds, args, tmp)
            log("measuring memory in fresh subprocesses ...")
            fill_memory(variants, n, shared=args.tiny)
            shutil.rmtree(tmp, ignore_errors=True)
            load_before = [round(x, 2) for x in os.getloadavg()]
            results = measure_variants(variants, ds, args)
            log("filtered search ...")
            filtered = measure_filtered(ds, indexes, args)
            run = {
                "data": data,
                "n": n,
                "dim": DIM,
                "load_average": {"before": load_before, "after": [round(x, 2) for x in os.getloadavg()]},
                "seconds": round(time.perf_counter() - run_started, 1),
                "results": results,
                "filtered": filtered,
            }
            payload["runs"].append(run)
            payload["checks"] = check_targets(payload["runs"])
            payload["total_seconds"] = round(time.perf_counter() - started, 1)
            write_json(args.json, payload)
            print_run(run)
            del variants, indexes, ds
            gc.collect()
    console.print_json(json.dumps(payload["checks"], ensure_ascii=False))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
