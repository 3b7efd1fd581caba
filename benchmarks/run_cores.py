"""A matching run on one core and on every core, side by side: 10k needs × 100k achievements, top 10 each.

    python benchmarks/run_cores.py [--needs 10000] [--achievements 100000] [--repeats 3] [--workers N] [--tiny]

Both competitors rank the same chunks of ``--chunk`` needs (``MATCHMAKER_RUN_CHUNK_SIZE``, 128) through
:class:`matchmaker.services.chunk_pool.RankingPool`, the chunk executor of ``execute_run``: with one worker in the
calling thread, with ``--workers`` (default: the usable cores) in forked processes sharing the index. The
needs' query vectors are precomputed (synthetic, like the achievements: see benchmarks/_common.py), so neither
embeds; the database reads and writes of a real run are left out too (``jobs_broker.py`` times whole runs).
Reported: median wall seconds over the repeats (alternating which goes first), needs/s, the ratio and the target
(≤ 25 s on this 2-core machine for all cores).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

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
from matchmaker.services.chunk_pool import RankingPool, RankSettings, RankTask, default_workers

TARGET_S = 25.0
K = 10


def timed_run(matcher: Matcher, tasks: list[RankTask], settings: RankSettings, workers: int) -> tuple[float, int]:
    """Wall seconds to rank every chunk (the pool's start included), and the pairings produced."""
    matcher.clear_caches()
    t = time.perf_counter()
    with RankingPool(matcher, settings, workers) as pool:
        produced = sum(len(r) for _, ranked in pool.map(enumerate(tasks)) for r in ranked)
    return time.perf_counter() - t, produced


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--needs", type=int, default=10_000)
    parser.add_argument("--achievements", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=default_workers(), help="processes (default: usable cores)")
    parser.add_argument("--chunk", type=int, default=128)
    parser.add_argument("--embedder", default="use")
    parser.add_argument("--no-cache", action="store_true", help="build the vector index even if one is cached")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--tiny", action="store_true", help="2,000 achievements, 200 needs: a smoke run")
    parser.add_argument("--out", type=Path, help="JSON path (default benchmarks/results/run_cores.json)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.needs, args.achievements, args.repeats, args.no_cache = 200, 2000, 1, True
    machine_info = machine()
    set_faiss_threads(1)

    samples = load_sample_lists()
    corpus = build_corpus(samples, args.embedder, args.achievements, use_cache=not args.no_cache)
    log(f"{args.achievements:,} achievements ready {corpus.seconds}; index {corpus.index_kind}")
    _, need_vectors, _ = sample_vectors(samples, args.embedder)
    synth = Synthesizer(samples.demand_tokens, need_vectors, [d["field"] for d in samples.demands], seed=args.seed)
    needs = synth.batch(0, args.needs)
    assert needs.vectors is not None
    queries: list[Query] = synthetic_queries(samples, needs)
    tasks = [
        RankTask(queries=queries[i : i + args.chunk], vectors=needs.vectors[i : i + args.chunk], k=2 * K)
        for i in range(0, len(queries), args.chunk)
    ]
    settings = RankSettings(flt=Filter(statuses=("active",)), policy="flag", today=TODAY)

    timed_run(corpus.matcher, tasks[:2], settings, 1)  # warm-up: tokenizer, caches
    one: list[float] = []
    many: list[float] = []
    for rep in range(args.repeats):
        order = (1, args.workers) if rep % 2 == 0 else (args.workers, 1)
        for workers in order:
            seconds, produced = timed_run(corpus.matcher, tasks, settings, workers)
            assert produced >= K * len(queries) * 0.9, "most needs should get their pairings"
            (one if workers == 1 else many).append(seconds)
        log(f"  repeat {rep + 1}: 1 process {one[-1]:.1f} s, {args.workers} processes {many[-1]:.1f} s")

    m1, mn = median(one), median(many)
    rows: list[list[Any]] = [
        ["1 core (in the calling thread)", len(queries), m1, len(queries) / m1],
        [f"{args.workers} processes (forked)", len(queries), mn, len(queries) / mn],
    ]
    load = os.getloadavg()
    print(
        f"{args.needs:,} needs × {args.achievements:,} achievements, top {K}, chunks of {args.chunk}, "
        f"median of {args.repeats}; load average {load[0]:.1f}"
    )
    print(format_table(["executor", "needs", "wall s", "needs/s"], rows))
    print(
        f"1 core / {args.workers} processes = {m1 / mn:.2f}×; target ≤ {TARGET_S:.0f} s: "
        f"{'met' if mn <= TARGET_S else 'MISSED'}"
    )
    write_results(
        results_path("run_cores", args.out, args.tiny),
        "run_cores",
        {
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "embedder": corpus.embedder,
            "index_kind": corpus.index_kind,
            "one_process_seconds": [round(x, 3) for x in one],
            "many_processes_seconds": [round(x, 3) for x in many],
            "one_process_median_s": round(m1, 3),
            "many_processes_median_s": round(mn, 3),
            "ratio_one_over_many": round(m1 / mn, 3),
            "load_average_at_end": [round(x, 2) for x in load],
            "target_s": TARGET_S,
            "meets_target": mn <= TARGET_S,
        },
        machine_info=machine_info,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
