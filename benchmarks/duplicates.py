"""Speed of duplicate detection: candidate groups in 100k achievements (≤ 60 s) and one new record checked (≤ 50 ms).

    python benchmarks/duplicates.py [--n 100000] [--copies 0.03] [--checks 300] [--tiny]

The corpus is the synthetic supply list of benchmarks/_common.py (texts resampled from the sample lists' words,
vectors mixed from their cached embeddings; see there) with ``--copies`` of its records planted again as near
copies: converted to Traditional (OpenCC s2t) with about 5 % of the characters dropped, and the vector moved by noise
to a cosine of about 0.95 with the original. Timed:

* **scan**: ``DuplicateDetector.add`` of every record (canonical text, 3-gram MinHash, LSH insert) + ``scan`` (LSH
  queries, FAISS neighbours, scoring of every candidate pair) + ``duplicate_groups`` — what ``matchmaker duplicates
  scan`` does after reading the records and their cached vectors from the database;
* **check**: ``DuplicateDetector.check`` of one new record against the full list (its vector given: the service
  embeds a new record's text anyway, once, to index it; benchmarks/embedding.py measures that).

Also reported: how many planted copies the scan found (recall on planted pairs) and the groups found.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from _common import (
    Synthesizer,
    format_table,
    load_sample_lists,
    log,
    machine,
    results_path,
    sample_vectors,
    summarize_ms,
    write_results,
)
from matchmaker.search.duplicates import DuplicateDetector, DupRecord, duplicate_groups
from matchmaker.search.index import set_faiss_threads
from matchmaker.search.text import to_traditional

SCAN_TARGET_S = 60.0
CHECK_TARGET_MS = 50.0


def near_copy(text: str, vector: np.ndarray, rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """Traditional characters, about 5 % of characters dropped; the vector at a cosine of about 0.95."""
    trad = to_traditional(text)[0]
    keep = rng.random(len(trad)) >= 0.05
    edited = "".join(c for c, k in zip(trad, keep, strict=True) if k)
    noise = rng.standard_normal(vector.shape).astype(np.float32)
    noise /= np.linalg.norm(noise)
    moved = vector + 0.33 * noise
    return edited, (moved / np.linalg.norm(moved)).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--copies", type=float, default=0.03)
    ap.add_argument("--checks", type=int, default=300)
    ap.add_argument("--tiny", action="store_true", help="1,000 records, 20 checks (smoke test)")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--faiss-threads", type=int, default=1, help="OpenMP threads of FAISS (the service's default: 1)")
    args = ap.parse_args()
    if args.tiny:
        args.n, args.checks = 1_000, 20
    samples = load_sample_lists()
    ach_vectors, _, model = sample_vectors(samples, "use")
    synth = Synthesizer(samples.achievement_tokens, ach_vectors, [a["field"] for a in samples.achievements], seed=42)
    rng = np.random.default_rng(7)
    n_copies = int(args.n * args.copies)
    n_base = args.n - n_copies
    log(f"generating {n_base} records + {n_copies} planted copies ...")
    records: list[DupRecord] = []
    for batch in synth.iter_batches(n_base + args.checks, 10_000):
        assert batch.vectors is not None
        for j, rid in enumerate(batch.ids.tolist()):
            src = samples.achievements[int(batch.sources[j])]
            records.append(DupRecord(rid, "", batch.texts[j], src["owner"], None, src["field"], batch.vectors[j]))
    fresh, records = records[n_base:], records[:n_base]  # the checked records are not in the list
    originals = rng.choice(n_base, size=n_copies, replace=False)
    planted = set()
    for k, o in enumerate(originals.tolist()):
        text, vec = near_copy(records[o].body, records[o].vector, rng)  # type: ignore[arg-type]
        copy_id = 10_000_000 + k
        records.append(DupRecord(copy_id, "", text, records[o].owner, None, records[o].field, vec))
        planted.add((records[o].id, copy_id))

    set_faiss_threads(args.faiss_threads)
    log(f"scanning {len(records)} records ...")
    load_before = os.getloadavg()[0]
    cpu_started = time.process_time()
    started = time.perf_counter()
    detector = DuplicateDetector()
    detector.add(records)
    added = time.perf_counter() - started
    pairs = detector.scan()
    groups = duplicate_groups(pairs)
    scan_s = time.perf_counter() - started
    scan_cpu_s = time.process_time() - cpu_started
    load_after = os.getloadavg()[0]
    found = {(p.a, p.b) for p in pairs}
    recall = len(found & planted) / len(planted) if planted else 1.0

    log(f"checking {len(fresh)} new records one by one ...")
    detector.check(fresh[0])  # warm the FAISS index and caches
    latencies = []
    for record in fresh:
        t = time.perf_counter()
        detector.check(record)
        latencies.append((time.perf_counter() - t) * 1000)
    check = summarize_ms(latencies)

    rows = [
        [
            "candidate groups",
            f"{len(records)} records",
            f"{scan_s:.1f} s (add {added:.1f} s)",
            f"≤ {SCAN_TARGET_S:.0f} s",
        ],
        [
            "one new record",
            f"{len(fresh)} checks",
            f"p50 {check['p50']:.1f} ms, p99 {check['p99']:.1f} ms",
            f"≤ {CHECK_TARGET_MS:.0f} ms",
        ],
        ["planted copies found", f"{len(planted)}", f"recall {recall:.3f}", ""],
        ["pairs / groups found", f"{len(pairs)} / {len(groups)}", "", ""],
    ]
    print(format_table(["what", "size", "measured", "target"], rows))  # noqa: T201
    write_results(
        results_path("duplicates", args.out, args.tiny),
        "duplicates",
        {
            "embedder": model,
            "records": len(records),
            "planted_copies": len(planted),
            "scan_s": round(scan_s, 2),
            "add_s": round(added, 2),
            "scan_cpu_s": round(scan_cpu_s, 2),
            "load_average_1min": [round(load_before, 2), round(load_after, 2)],
            "faiss_threads": args.faiss_threads,
            "pairs": len(pairs),
            "groups": len(groups),
            "planted_recall": round(recall, 4),
            "check_ms": check,
            "targets": {"scan_s": SCAN_TARGET_S, "check_ms": CHECK_TARGET_MS},
        },
        machine_info=machine(),
    )


if __name__ == "__main__":
    main()
