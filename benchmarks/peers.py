"""This service's vector index as shipped, side by side with the embedded engines a team would pick instead.

    python benchmarks/peers.py --sizes 100000,1000000 --data both     # the full run (hours on 2 shared cores)
    python benchmarks/peers.py --tiny --peers shipped                 # smoke test: 2,000 vectors, no peer needed

Peers (the optional ``bench`` extra: ``pip install -e '.[bench]'``): Milvus Lite (``pymilvus`` + ``milvus-lite``),
LanceDB and txtai; see benchmarks/_peers_engines.py for how each is built and filtered.

Data and queries are those of benchmarks/ann.py (``load_dataset``, same cache): the sample records embedded with
e5-small and replicated with noise (``sample``), and the clustered synthetic set (``synthetic``); 384-d unit vectors,
inner product, k = 10, field codes uniform over 100 values for the 10 % and 1 % filters.

"shipped" is :class:`~matchmaker.search.index.VectorIndex` configured as the service builds it (``Settings``:
``index_kind`` auto, so HNSW M = 32, efConstruction 80, efSearch 64 from 20k records, and its own filtered-search
rules); ``shipped ef=128`` is the same graph with a larger efSearch, measured to show what that tunable would buy.

How it measures
---------------
* Every (data, size, peer) runs in its own subprocess, one after the other, so peers never share memory and a 1M
  peer's memory is freed before the next one starts. Every thread knob is set to one (``OMP_NUM_THREADS``,
  ``MKL_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``RAYON_NUM_THREADS``, ``LANCE_CPU_THREADS``, ``KNOWHERE_THREADS``,
  FAISS's ``omp_set_num_threads`` and threadpoolctl), for the build as well as the queries.
* build: wall time from empty to searchable (inserts, index training/building, loading into memory). The shipped
  HNSW graph is cached by benchmarks/ann.py's snapshot cache; a cached graph shows the time recorded when built
  (``build_cached``) and the thread count it was built with.
* memory: peak resident memory of the subprocess and any children (Milvus Lite embeds its server in-process),
  sampled every 50 ms with psutil during build and recall measurement; ``added`` is the peak minus the resident
  memory before the build (the data set itself, already loaded, is not counted).
* recall@10 against exact search (FAISS brute force, cached by ann.py), unfiltered over ``--queries`` queries and
  filtered (10 %, 1 %) over ``--filter-queries`` against the exact filtered top 10; ``full_k`` is the share of
  queries that got 10 results.
* latency: one query per call, p50 / p99 in ms; the peer's settings and the shipped index (its snapshot mapped into
  the same subprocess after the memory figure is taken) run in blocks of 25 queries in a shuffled order
  (ann.latency_rounds), ``--reps`` times, so load from other processes hits both alike; ``ratio`` is the peer's
  p50 over the shipped p50 of the same repetition (median over repetitions): above 1, the shipped index is faster.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ann  # noqa: E402  (the data, exact search, recall and interleaved latency rounds are ann.py's)
from _peers_engines import ENGINES, SELECTIVITIES, FloatArray, IntArray, K, Selectivity, Setting  # noqa: E402
from _peers_report import markdown, print_summary  # noqa: E402

RESULTS = ann.RESULTS
THREAD_ENV = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "RAYON_NUM_THREADS",
    "LANCE_CPU_THREADS",
    "KNOWHERE_THREADS",
    "NUMEXPR_NUM_THREADS",
)
SHIPPED = "shipped"
QUALITY = "quality"
TUNED_EF = 128


# ------------------------------------------------------------------------------------------------ the shipped index


def shipped_config() -> dict[str, Any]:
    """The vector index configuration the service builds (``Settings`` defaults, ``VectorIndex`` defaults)."""
    from matchmaker.config import Settings
    from matchmaker.search.index import VectorIndex

    s = Settings()
    probe = VectorIndex(ann.DIM, kind=s.index_kind, hnsw_threshold=s.hnsw_threshold, ef_search=s.hnsw_ef_search)  # type: ignore[arg-type]
    return {
        "index_kind": s.index_kind,
        "hnsw_threshold": s.hnsw_threshold,
        "hnsw_m": probe.hnsw_m,
        "ef_construction": probe.ef_construction,
        "ef_search": probe.ef_search,
        "faiss_threads": s.faiss_threads,
    }


def shipped_index(ds: ann.Dataset, cache: Path, rebuild: bool) -> tuple[Any, ann.Family]:
    """The shipped VectorIndex over ``ds``: the HNSW graph from ann.py's snapshot cache when the shipped configuration
    is that graph (M = 32, ``kind`` auto above the threshold), else built here as configured."""
    from matchmaker.search.index import VectorIndex

    cfg = shipped_config()
    graph = cfg["index_kind"] == "hnsw" or (cfg["index_kind"] == "auto" and ds.n >= cfg["hnsw_threshold"])
    if graph and cfg["hnsw_m"] == ann.HNSW_M:
        vi, family = ann.build_hnsw(ds, ds.attrs(), cfg["ef_construction"], cache, rebuild)
    else:
        vi = VectorIndex(
            ann.DIM, kind=cfg["index_kind"], hnsw_threshold=cfg["hnsw_threshold"], ef_search=cfg["ef_search"]
        )
        family = ann.Family("shipped", "VectorIndex", build_s=ann.timed_upsert(vi, ds, ds.attrs()))
    vi.ef_search = cfg["ef_search"]
    family.info["kind_in_use"] = vi.kind_in_use
    return vi, family


def shipped_settings(vi: Any, efs: tuple[int, ...]) -> list[Setting]:
    """The shipped index at its efSearch (and, for the shipped subprocess, a larger one), searched one query at a time
    with the service's own filter (its exact / selector rules)."""

    def make(ef: int) -> Setting:
        def search(q: FloatArray, sel: Selectivity | None) -> IntArray:
            vi.ef_search = ef
            flt = sel.service_filter() if sel is not None else None
            return ann.labels_of(vi.search(q.reshape(1, -1), K, flt))[0]

        return Setting(f"ef={ef}" if vi.kind_in_use == "hnsw" else vi.kind_in_use, search)

    return [make(ef) for ef in efs]


# ------------------------------------------------------------------------------------------------------- measuring


class PeakRss:
    """Peak resident memory of this process and its children, sampled by a thread (psutil)."""

    def __init__(self, every: float = 0.05) -> None:
        import psutil

        self._proc = psutil.Process()
        self._every = every
        self._stop = threading.Event()
        self.before = self.current()
        self.peak = self.before
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def current(self) -> int:
        import psutil

        total = 0
        for p in [self._proc, *self._proc.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.Error:  # a child that just ended
                pass
        return total

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.peak = max(self.peak, self.current())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current())
        return self.peak


def search_all(setting: Setting, queries: FloatArray, sel: Selectivity | None) -> IntArray:
    """(nq, K) labels, one call per query."""
    return np.stack([setting.search(q, sel) for q in queries]) if len(queries) else np.empty((0, K), dtype=np.int64)


def recalls(setting: Setting, ds: ann.Dataset, nq: int, nq_filtered: int) -> dict[str, Any]:
    """recall@10 unfiltered and per selectivity (with the share of queries that got all 10 results)."""
    out: dict[str, Any] = {
        "recall_at_10": round(ann.recall(search_all(setting, ds.queries[:nq], None), ds.truth[:nq]), 4)
    }
    for sel in SELECTIVITIES:
        mask = sel.mask(ds.fields)
        truth = ann.exact_filtered(ds, mask)[:nq_filtered]
        got = search_all(setting, ds.queries[:nq_filtered], sel)
        wanted = min(K, int(mask.sum()))
        out[sel.label] = {
            "matching": int(mask.sum()),
            "recall_at_10": round(ann.recall(got, truth, wanted), 4),
            "full_k": round(float(np.mean((got >= 0).sum(axis=1) >= wanted)), 4),
        }
    return out


def latencies(settings: dict[str, Setting], queries: FloatArray, reps: int, reference: str) -> dict[str, Any]:
    """p50 / p99 per setting (ms, median over repetitions) and each one's p50 ratio to ``reference``, interleaved."""
    from matchmaker.search.index import set_faiss_threads

    family = ann.Family("peers", "mixed")
    out: dict[str, dict[str, list[float]]] = {name: {"p50": [], "p99": [], "ratio": []} for name in settings}
    for sel in (None, *SELECTIVITIES):
        variants = [
            ann.Variant(family, name, lambda q, s=s, sel=sel: s.search(q[0], sel), lambda q: q)  # type: ignore[misc]
            for name, s in settings.items()
        ]
        key = "all" if sel is None else sel.label
        for rep in range(reps):
            set_faiss_threads(1)
            times = ann.latency_rounds(variants, queries, seed=rep)
            ref = float(np.percentile(times[f"peers {reference}"], 50))
            for name in settings:
                t = times[f"peers {name}"]
                row = out[name]
                row.setdefault(f"{key} p50", []).append(float(np.percentile(t, 50)))
                row.setdefault(f"{key} p99", []).append(float(np.percentile(t, 99)))
                row.setdefault(f"{key} ratio", []).append(float(np.percentile(t, 50)) / ref)
    return {name: {k: round(float(np.median(v)), 4) for k, v in row.items() if v} for name, row in out.items()}


def child(args: argparse.Namespace) -> dict[str, Any]:
    """One peer on one data set and size, in this (fresh) process."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    from matchmaker.search.index import set_faiss_threads

    set_faiss_threads(1)
    threadpool_limits(limits=1)
    if args.child == QUALITY:
        from _peers_quality import measure

        return {"peer": QUALITY, **measure(reps=args.reps)}
    ds = ann.load_dataset(args.data, args.n, args.queries, args.cache)
    rss = PeakRss()
    with tempfile.TemporaryDirectory(prefix=f"peers-{args.child}-", dir=args.workdir) as work:
        started = time.perf_counter()
        info: dict[str, Any]
        if args.child == SHIPPED:
            vi, family = shipped_index(ds, args.cache, args.rebuild)
            build_s, cached, info = family.build_s, family.build_cached, {**shipped_config(), **family.info}
            mine = {f"{SHIPPED} {s.name}": s for s in shipped_settings(vi, (vi.ef_search, TUNED_EF))}
        else:
            engine = ENGINES[args.child]()
            engine.build(ds.vectors, ds.fields, Path(work))
            build_s, cached, info = time.perf_counter() - started, False, engine.info
            mine = {f"{args.child} {s.name}": s for s in engine.settings()}
        ann.log(f"{args.child} {args.data} {args.n}: built in {build_s:.1f} s; measuring recall ...")
        measured = {name: recalls(s, ds, args.queries, args.filter_queries) for name, s in mine.items()}
        peak = rss.stop()
        if args.child == SHIPPED:
            reference = next(iter(mine))
        else:  # the shipped index beside the peer, mapped from its snapshot after the memory figure
            from matchmaker.search.index import VectorIndex

            snap = Path(family_snapshot(ds, args.cache))
            vi = (
                VectorIndex.load(snap, mmap=True, verify=False)[0]
                if snap.exists()
                else shipped_index(ds, args.cache, False)[0]
            )
            vi.ef_search = shipped_config()["ef_search"]
            (beside,) = shipped_settings(vi, (vi.ef_search,))
            reference = f"{SHIPPED} {beside.name}"
            mine[reference] = beside
        ann.log(f"{args.child} {args.data} {args.n}: latency ({args.reps} repetitions) ...")
        lat = latencies(mine, ds.queries[: args.latency_queries], args.reps, reference)
    rows = []
    for name in mine:
        rows.append({"name": name, "own": name in measured, **measured.get(name, {}), "latency": lat[name]})
    return {
        "data": args.data,
        "n": args.n,
        "peer": args.child,
        "build_s": None if build_s is None else round(build_s, 2),
        "build_cached": cached,
        "rss_before_mib": round(rss.before / 2**20, 1),
        "rss_peak_mib": round(peak / 2**20, 1),
        "rss_added_mib": round((peak - rss.before) / 2**20, 1),
        "info": info,
        "reference": reference,
        "settings": rows,
    }


def family_snapshot(ds: ann.Dataset, cache: Path) -> str:
    """Where ann.build_hnsw keeps the shipped graph of ``ds`` (its snapshot cache)."""
    return str(cache / "index" / f"{ds.key}-hnsw-M{ann.HNSW_M}-efc{shipped_config()['ef_construction']}")


# ---------------------------------------------------------------------------------------------------- orchestrator


def child_env() -> dict[str, str]:
    """The environment of every peer subprocess: one thread everywhere."""
    env = dict(os.environ)
    env.update({name: "1" for name in THREAD_ENV})
    return env


def run_child(args: argparse.Namespace, data: str, n: int, peer: str) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        peer,
        "--data",
        data,
        "--n",
        str(n),
        "--cache",
        str(args.cache),
        "--queries",
        str(args.queries),
        "--filter-queries",
        str(args.filter_queries),
        "--latency-queries",
        str(args.latency_queries),
        "--reps",
        str(args.reps),
        *(["--rebuild"] if args.rebuild else []),
    ]
    ann.log(f"== {peer} ==" if peer == QUALITY else f"== {peer} on {data} {n:,} ==")
    proc = subprocess.run(cmd, env=child_env(), stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        return {"data": data, "n": n, "peer": peer, "error": f"exit {proc.returncode}"}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--data", choices=("synthetic", "sample", "both"), default="both")
    parser.add_argument(
        "--peers", default=",".join((SHIPPED, *ENGINES)), help="comma-separated (shipped runs too, except with --keep)"
    )
    parser.add_argument("--queries", type=int, default=1000, help="queries for unfiltered recall")
    parser.add_argument("--filter-queries", type=int, default=200, help="queries for filtered recall")
    parser.add_argument("--latency-queries", type=int, default=300, help="single queries timed per repetition")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=ann.DEFAULT_CACHE)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached shipped HNSW graphs")
    parser.add_argument("--json", type=Path, default=RESULTS / "peers.json")
    parser.add_argument("--markdown", type=Path, default=None, help="default: --json with .md")
    parser.add_argument(
        "--quality", action=argparse.BooleanOptionalAction, default=True, help="the dev-split request comparison"
    )
    parser.add_argument("--keep", action="store_true", help="keep --json's runs of other peers, data and sizes")
    parser.add_argument("--tiny", action="store_true", help="smoke test: 2,000 synthetic vectors, 1 repetition")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return 0
    if args.tiny:
        args.sizes, args.data, args.reps, args.quality = "2000", "synthetic", 1, False
        args.queries, args.filter_queries, args.latency_queries = 50, 50, 50
    peers = [SHIPPED, *(p for p in args.peers.split(",") if p and p != SHIPPED)]
    if args.keep and args.peers and SHIPPED not in args.peers.split(","):
        peers.remove(SHIPPED)  # re-running one peer: the shipped index is measured beside it anyway
    unknown = set(peers) - {SHIPPED, *ENGINES}
    if unknown:
        parser.error(f"--peers: unknown {', '.join(sorted(unknown))}; known: {SHIPPED}, {', '.join(ENGINES)}")
    datas = ("sample", "synthetic") if args.data == "both" else (args.data,)
    sizes = [int(s) for s in args.sizes.split(",") if s]  # --sizes "": the quality comparison alone
    doc: dict[str, Any] = {
        "benchmark": "peers",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": ann.machine(),
        "config": {
            "shipped": shipped_config(),
            "queries": args.queries,
            "filter_queries": args.filter_queries,
            "latency_queries": args.latency_queries,
            "reps": args.reps,
            "threads": 1,
            "thread_env": list(THREAD_ENV),
        },
        "runs": [],
    }
    md = args.markdown or args.json.with_suffix(".md")
    if args.keep and args.json.exists():  # keep the other runs (and the quality comparison) of an earlier file
        earlier = json.loads(args.json.read_text(encoding="utf-8"))
        redo = {(d, n, p) for d in datas for n in sizes for p in peers}
        doc["runs"] = [r for r in earlier["runs"] if (r["data"], r["n"], r["peer"]) not in redo]
        if "quality" in earlier:
            doc["quality"] = earlier["quality"]
    if args.quality and "txtai" in peers:
        doc["quality"] = run_child(args, "sample", 0, QUALITY)  # data and size unused
        doc["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        ann.write_json(args.json, doc)
        md.write_text(markdown(doc), encoding="utf-8")
    for n in sizes:
        for data in datas:
            ann.load_dataset(data, n, args.queries, args.cache)  # generated once, before the subprocesses read it
            for peer in peers:
                doc["runs"].append(run_child(args, data, n, peer))
                doc["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
                ann.write_json(args.json, doc)
                md.write_text(markdown(doc), encoding="utf-8")
    print_summary(doc)
    return 0 if all("error" not in r for r in doc["runs"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
