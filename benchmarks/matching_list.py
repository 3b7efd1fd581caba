"""The matching list (供需对接清单): 10k needs × 100k achievements, top 10 each, in process.

    python benchmarks/matching_list.py [--needs 10000] [--achievements 100000] [--loop-sample 500] [--repeats 3]

Competitors, run side by side in each repeat (caches cleared before each):

* batched — needs in batches of 128, ``Matcher.match_many`` per batch, the batches spread over a thread pool of
  ``--workers`` threads (``os.cpu_count()``);
* batched, 1 thread — the same batches on one thread, which is what ``services.runs.execute_run`` does by default
  (the ranking stage is Python, so threads mostly take turns holding the GIL: two were slower than one here);
* loop    — one ``Matcher.match`` call per need, on a random sample of ``--loop-sample`` needs, extrapolated
  linearly to all needs (stated in the table).

Both get the needs' query vectors precomputed (synthetic, like the achievements: see benchmarks/_common.py), so
neither embeds: a real run also embeds every need text once (see benchmarks/embedding.py for texts/s), reads the
decided pairings and writes the proposals, which this benchmark leaves out. Reported: median wall time over repeats,
needs/s, and the loop / batched ratio.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from _common import (
    TODAY,
    Synthesizer,
    build_corpus,
    format_table,
    load_sample_lists,
    log,
    machine,
    median,
    results_path,
    sample_vectors,
    synthetic_queries,
    write_results,
)
from matchmaker.search.filters import Filter
from matchmaker.search.index import set_faiss_threads
from matchmaker.search.matcher import Matcher, Query

TARGET_S = 60.0
K = 10
BATCH = 128  # execute_run's default


def run_batched(
    matcher: Matcher, queries: list[Query], vectors: np.ndarray, flt: Filter, workers: int, batch: int
) -> float:
    """Wall seconds of the execute_run pattern: batches of needs through match_many on a thread pool."""
    matcher.clear_caches()
    starts = list(range(0, len(queries), batch))

    def rank_batch(start: int) -> int:
        ranked = matcher.match_many(
            queries[start : start + batch],
            "achievements",
            k=K,
            flt=flt,
            policy="flag",
            today=TODAY,
            vectors=vectors[start : start + batch],
        )
        return sum(len(r) for r in ranked)

    t = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        produced = sum(pool.map(rank_batch, starts))
    seconds = time.perf_counter() - t
    assert produced >= K * len(queries) * 0.9, "most needs should get k pairings"
    return seconds


def run_loop(matcher: Matcher, queries: list[Query], vectors: np.ndarray, flt: Filter, sample: list[int]) -> float:
    """Wall seconds of one Matcher.match call per sampled need."""
    matcher.clear_caches()
    t = time.perf_counter()
    for i in sample:
        matcher.match(queries[i], "achievements", k=K, flt=flt, policy="flag", today=TODAY, vector=vectors[i])
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--needs", type=int, default=10_000)
    parser.add_argument("--achievements", type=int, default=100_000)
    parser.add_argument("--loop-sample", type=int, default=500, help="needs timed one at a time (extrapolated)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="threads (execute_run: cpu count)")
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--embedder", default="use")
    parser.add_argument("--no-cache", action="store_true", help="build the vector index even if one is cached")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--tiny", action="store_true", help="2,000 achievements, 200 needs: a smoke run")
    parser.add_argument("--out", type=Path, help="JSON path (default benchmarks/results/matching_list.json)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.needs, args.achievements, args.loop_sample, args.repeats, args.no_cache = 200, 2000, 50, 1, True
    machine_info = machine()
    set_faiss_threads(1)  # MATCHMAKER_FAISS_THREADS=1: threads × OpenMP threads ≤ cores

    samples = load_sample_lists()
    corpus = build_corpus(samples, args.embedder, args.achievements, use_cache=not args.no_cache)
    log(f"{args.achievements:,} achievements ready {corpus.seconds}; index {corpus.index_kind}")
    _, need_vectors, _ = sample_vectors(samples, args.embedder)
    synth = Synthesizer(samples.demand_tokens, need_vectors, [d["field"] for d in samples.demands], seed=args.seed)
    needs = synth.batch(0, args.needs)
    assert needs.vectors is not None
    queries = synthetic_queries(samples, needs)
    vectors = needs.vectors
    flt = Filter(statuses=("active",))  # execute_run: the achievement filters of the run plus live status
    rng = random.Random(args.seed)
    sample = rng.sample(range(len(queries)), min(args.loop_sample, len(queries)))

    run_batched(corpus.matcher, queries[: 2 * args.batch], vectors[: 2 * args.batch], flt, args.workers, args.batch)
    batched: list[float] = []
    single: list[float] = []
    loop: list[float] = []
    for rep in range(args.repeats):
        batched.append(run_batched(corpus.matcher, queries, vectors, flt, args.workers, args.batch))
        single.append(run_batched(corpus.matcher, queries, vectors, flt, 1, args.batch))
        loop.append(run_loop(corpus.matcher, queries, vectors, flt, sample) * len(queries) / len(sample))
        log(
            f"  repeat {rep + 1}: batched {batched[-1]:.1f} s, batched on 1 thread {single[-1]:.1f} s, "
            f"loop (extrapolated) {loop[-1]:.1f} s"
        )

    b, b1, lp = median(batched), median(single), median(loop)
    rows: list[list[Any]] = [
        [f"batched ({args.batch}/batch, {args.workers} threads)", len(queries), b, len(queries) / b, "measured"],
        [f"batched ({args.batch}/batch, 1 thread)", len(queries), b1, len(queries) / b1, "measured"],
        ["loop (one need at a time)", len(queries), lp, len(queries) / lp, f"{len(sample)} needs, extrapolated"],
    ]
    print(
        f"{args.needs:,} needs × {args.achievements:,} achievements, top {K}, embedder {corpus.embedder} "
        f"(query vectors precomputed); median of {args.repeats} repeats"
    )
    print(format_table(["variant", "needs", "wall s", "needs/s", "how"], rows))
    print(
        f"loop / batched = {lp / b:.2f}×, batched on 1 thread / batched = {b1 / b:.2f}×; "
        f"target ≤ {TARGET_S:.0f} s: {'met' if b <= TARGET_S else 'MISSED'}"
    )
    write_results(
        results_path("matching_list", args.out, args.tiny),
        "matching_list",
        {
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "achievements": args.achievements,
            "needs": args.needs,
            "k": K,
            "embedder": corpus.embedder,
            "index_kind": corpus.index_kind,
            "build_seconds": corpus.seconds,
            "batched_seconds": [round(x, 3) for x in batched],
            "batched_one_thread_seconds": [round(x, 3) for x in single],
            "batched_one_thread_median_s": round(b1, 3),
            "loop_seconds_extrapolated": [round(x, 3) for x in loop],
            "loop_sample": len(sample),
            "batched_median_s": round(b, 3),
            "loop_median_s": round(lp, 3),
            "ratio_loop_over_batched": round(lp / b, 3),
            "target_s": TARGET_S,
            "meets_target": b <= TARGET_S,
        },
        machine_info=machine_info,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
