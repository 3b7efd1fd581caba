"""One matching request, in process: a need → its top-10 achievements with the full ranking stage, at 100k and 1M.

    python benchmarks/match_request.py [--sizes 100000,1000000] [--repeats 3] [--queries 100] [--tiny]

The achievement list is synthetic (see benchmarks/_common.py: sample texts and embeddings scaled up, vectors and
tokens fed straight into the Matcher's VectorIndex and LexicalIndex, no model call). The queries are the 100 sample
needs with their real text, facts and query embedding, filtered the way GET /demands/{id}/matches filters (live
achievements only, constraint policy "flag", k = 10); a second scenario adds a chain filter (the need's own chain).

Stages, timed one by one on the Matcher's public steps, then end to end:

* tokenize  — jieba on the need text (the Matcher caches it per text; "total" includes it, "total, cached" not);
* dense     — FAISS search, pool candidates through the filter (HNSW at these sizes, one OpenMP thread);
* bm25      — BM25 top 2 × pool, then the filter;
* ranking   — cosine of lexical-only candidates, BM25 of the union, features, constraints, explanations of the top k;
* total     — Matcher.match end to end (query vector given: query embedding is a separate row, measured once);

Each repeat runs every query once in a shuffled order; the table shows the median over repeats of each repeat's
p50 and p99 (and the worst repeat's p99). The machine is shared, so compare the ratios, not the milliseconds.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import (
    TODAY,
    BuiltCorpus,
    build_corpus,
    format_table,
    load_sample_lists,
    log,
    machine,
    median,
    results_path,
    rss_mib,
    sample_queries,
    sample_vectors,
    summarize_ms,
    write_results,
)
from matchmaker.search.filters import Filter
from matchmaker.search.index import set_faiss_threads
from matchmaker.search.matcher import Matcher, Query
from matchmaker.search.text import tokenize

TARGET_P99_MS = 20.0
STAGES = ("tokenize", "dense", "bm25", "ranking", "total", "total_cached")


def time_queries(
    matcher: Matcher, queries: list[Query], vectors: np.ndarray, flts: list[Filter], order: list[int], k: int
) -> dict[str, list[float]]:
    """One pass over the queries in ``order``: per-stage and end-to-end milliseconds."""
    samples: dict[str, list[float]] = {name: [] for name in STAGES}
    pool = matcher.pool_size(k)
    for i in order:
        query, vector, flt = queries[i], vectors[i], flts[i]
        t0 = time.perf_counter()
        tokens = tokenize(query.text)
        t1 = time.perf_counter()
        dense = matcher.dense_candidates(vector.reshape(1, -1), "achievements", pool, flt)[0]
        t2 = time.perf_counter()
        lexical, known = matcher.lexical_candidates(tokens, "achievements", pool, flt, [i for i, _ in dense])
        t3 = time.perf_counter()
        matcher.rank_candidates(query, tokens, vector, "achievements", dense, lexical, k, "flag", TODAY, known)
        t4 = time.perf_counter()
        matcher.clear_caches()
        t5 = time.perf_counter()
        matcher.match(query, "achievements", k=k, flt=flt, today=TODAY, vector=vector)
        t6 = time.perf_counter()
        matcher.match(query, "achievements", k=k, flt=flt, today=TODAY, vector=vector)
        t7 = time.perf_counter()
        for name, seconds in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t6 - t5, t7 - t6), strict=True):
            samples[name].append(seconds * 1e3)
    return samples


def memory_breakdown(corpus: BuiltCorpus) -> dict[str, Any]:
    """Bytes per record of each in-memory structure of one list (what every worker process holds)."""
    collection = corpus.matcher.lists["achievements"]
    n = corpus.n
    lexical = collection.lexical.stats()
    sample_ids = list(collection.docs)[: min(n, 5000)]
    token_lists = sum(sys.getsizeof(collection.lexical.tokens(i)) for i in sample_ids) / len(sample_ids)
    texts = sum(sys.getsizeof(collection.docs[i].text) for i in sample_ids) / len(sample_ids)
    doc_objects = _doc_object_bytes([collection.docs[i] for i in sample_ids])
    vectors = corpus.dimension * 4
    index_file = _index_file_bytes(collection.index, corpus)
    per_record = {
        "vectors": vectors,
        "hnsw_graph": max(0.0, index_file / n - vectors) if index_file else None,
        "bm25_matrix": lexical["matrix_bytes"] / n,
        "bm25_token_lists": token_lists + 100,  # + the dict entry and int key of LexicalIndex._docs
        "docs_text": texts,
        "docs_objects": doc_objects + 100,  # + the dict entry and int key of Collection.docs
    }
    return {
        "records": n,
        "bm25_postings": lexical["postings"],
        "bm25_postings_per_record": round(lexical["postings"] / n, 1),
        "bm25_vocabulary": lexical["vocabulary"],
        "per_record_bytes": {k: round(v, 1) if v is not None else None for k, v in per_record.items()},
        "total_per_record_bytes": round(sum(v for v in per_record.values() if v is not None), 1),
        "process_rss_mib": round(rss_mib(), 1),
    }


def _doc_object_bytes(docs: list[Any]) -> float:
    """Average size of a Doc with its attrs and facts objects, not counting shared strings or the text."""
    seen: set[int] = set()
    total = 0
    for doc in docs:
        for obj in (doc, doc.__dict__, doc.attrs, doc.attrs.__dict__, doc.facts, doc.facts.__dict__):
            total += sys.getsizeof(obj)
        for obj in (doc.attrs.modes, doc.facts.modes, doc.updated):  # per-record frozensets and dates
            if id(obj) not in seen:
                seen.add(id(obj))
                total += sys.getsizeof(obj)
    return total / max(1, len(docs))


def _index_file_bytes(index: Any, corpus: BuiltCorpus) -> int:
    """Size of the saved FAISS index (vectors + HNSW graph): the cached snapshot's, else a fresh save."""
    import tempfile

    from _common import CACHE

    sizes = [p.stat().st_size for p in CACHE.glob(f"index-*-{corpus.n}-*/index.faiss")]
    if sizes:
        return max(sizes)
    with tempfile.TemporaryDirectory() as tmp:
        index.save(Path(tmp), {})
        return (Path(tmp) / "index.faiss").stat().st_size


def run_size(
    samples: Any, embedder: str, n: int, *, repeats: int, n_queries: int, use_cache: bool, seed: int
) -> dict[str, Any]:
    """Build one corpus and time both scenarios on it."""
    log(f"building {n:,} synthetic achievements ...")
    rss_before = rss_mib()
    started = time.perf_counter()
    corpus = build_corpus(samples, embedder, n, use_cache=use_cache)
    build_seconds = time.perf_counter() - started
    log(f"  built in {build_seconds:.0f} s {corpus.seconds}; index {corpus.index_kind}")
    _, query_vectors, _ = sample_vectors(samples, embedder)
    queries = sample_queries(samples)[:n_queries]
    vectors = query_vectors[: len(queries)]
    live = Filter(statuses=("active",))
    scenarios = {
        "default": [live] * len(queries),
        "chain_filter": [Filter(statuses=("active",), fields=(q.facts.field,)) for q in queries],  # type: ignore[union-attr]
    }
    rng = random.Random(seed)
    out: dict[str, Any] = {}
    for name, flts in scenarios.items():
        time_queries(corpus.matcher, queries, vectors, flts, list(range(len(queries))), 10)  # warm-up
        per_repeat: list[dict[str, dict[str, float]]] = []
        for _ in range(repeats):
            order = list(range(len(queries)))
            rng.shuffle(order)
            samples_ms = time_queries(corpus.matcher, queries, vectors, flts, order, 10)
            per_repeat.append({stage: summarize_ms(values) for stage, values in samples_ms.items()})
        out[name] = {
            stage: {
                "p50": round(median([r[stage]["p50"] for r in per_repeat]), 3),
                "p99": round(median([r[stage]["p99"] for r in per_repeat]), 3),
                "p99_worst_repeat": max(r[stage]["p99"] for r in per_repeat),
                "mean": round(median([r[stage]["mean"] for r in per_repeat]), 3),
            }
            for stage in STAGES
        }
        out[name]["repeats"] = per_repeat
    memory = memory_breakdown(corpus)
    memory["rss_growth_mib"] = round(rss_mib() - rss_before, 1)
    result = {
        "records": n,
        "embedder": corpus.embedder,
        "dimension": corpus.dimension,
        "index_kind": corpus.index_kind,
        "index_cached": corpus.index_cached,
        "build_seconds": corpus.seconds,
        "hnsw_build_rate_per_s": round(n / corpus.seconds["vector_index"], 1)
        if corpus.seconds["vector_index"]
        else None,
        "queries": len(queries),
        "repeats": repeats,
        "scenarios": out,
        "memory": memory,
        "target_p99_ms": TARGET_P99_MS,
        "meets_target": out["default"]["total"]["p99"] <= TARGET_P99_MS,
    }
    del corpus
    gc.collect()
    return result


def query_embedding_ms(samples: Any, embedder_spec: str, n: int) -> dict[str, float]:
    """Batch-1 query embedding latency of the need texts (reported beside the stages, not inside "total")."""
    from matchmaker.search.embedding import create_embedder

    embedder = create_embedder(embedder_spec)
    embedder.encode_queries(["预热"])
    times = []
    for text in samples.demand_texts[:n]:
        t = time.perf_counter()
        embedder.encode_queries([text])
        times.append((time.perf_counter() - t) * 1e3)
    return summarize_ms(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated list sizes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--queries", type=int, default=100, help="how many sample needs (at most 100)")
    parser.add_argument("--embedder", default="use", help="whose sample vectors are scaled up (default: use)")
    parser.add_argument("--no-cache", action="store_true", help="build the vector index even if one is cached")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tiny", action="store_true", help="3,000 records, 20 queries, one repeat: a smoke run")
    parser.add_argument("--out", type=Path, help="JSON path (default benchmarks/results/match_request.json)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.sizes, args.repeats, args.queries, args.no_cache = "3000", 1, 20, True
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    machine_info = machine()
    set_faiss_threads(1)  # as the service runs it (MATCHMAKER_FAISS_THREADS=1)
    samples = load_sample_lists()
    embedding = query_embedding_ms(samples, args.embedder, 10 if args.tiny else 50)
    results = [
        run_size(
            samples,
            args.embedder,
            n,
            repeats=args.repeats,
            n_queries=args.queries,
            use_cache=not args.no_cache,
            seed=args.seed,
        )
        for n in sizes
    ]

    rows = []
    for r in results:
        for scenario, stages in r["scenarios"].items():
            for stage in STAGES:
                s = stages[stage]
                rows.append([f"{r['records']:,}", scenario, stage, s["p50"], s["p99"], s["p99_worst_repeat"]])
    print(f"embedder {results[0]['embedder'] if results else args.embedder}; k = 10; {args.repeats} repeats")
    print(format_table(["records", "scenario", "stage", "p50 ms", "p99 ms", "worst p99"], rows))
    print(f"query embedding ({args.embedder}, batch 1, separate): p50 {embedding['p50']} ms, p99 {embedding['p99']} ms")
    for r in results:
        m = r["memory"]
        print(
            f"{r['records']:,}: total p99 {r['scenarios']['default']['total']['p99']} ms "
            f"(target ≤ {TARGET_P99_MS} ms: {'met' if r['meets_target'] else 'MISSED'}); build {r['build_seconds']}; "
            f"{m['total_per_record_bytes']:.0f} B/record in memory; RSS {m['process_rss_mib']:.0f} MiB"
        )
    write_results(
        results_path("match_request", args.out, args.tiny),
        "match_request",
        {
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "query_embedding_ms": embedding,
            "results": results,
        },
        machine_info=machine_info,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
