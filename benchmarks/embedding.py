"""Embedding throughput per embedder, and the guarantee that an unchanged reindex calls no model.

    python benchmarks/embedding.py [--embedders use,e5-small,use+e5-small] [--batches 1,32] [--budget-s 30]
    python benchmarks/embedding.py --embedders st:/models/multilingual-e5-base --device cuda --batches 1,32,256

Part 1 — texts/second of ``encode_documents`` (the reindex path) on the sample lists (data/sample/*.jsonl, 300
achievements and 100 needs, about 300 characters each), at batch 1 (one text per call) and batch 32 (the embedder
also built with batch_size 32). Model loading is timed apart (first call) and excluded. Each cell encodes texts in
order until all are done or ``--budget-s`` has passed, then reports texts done / seconds; cells are interleaved
across ``--repeats`` and the median is reported.

Part 2 — a temporary SQLite database migrated with ``db.upgrade`` and loaded with ``load_samples``; then
``SearchService.rebuild`` twice: the first embeds every record (``EmbeddingCache.model_calls`` counts the texts sent
to the model), the second finds every vector in the embeddings table by content hash and must send none. The script
fails (exit 1) when the second rebuild makes any model call.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    SAMPLE_DIR,
    format_table,
    load_sample_lists,
    log,
    machine,
    median,
    results_path,
    write_results,
)
from matchmaker import db
from matchmaker.config import Settings
from matchmaker.search.embedding import create_embedder


def throughput(embedder: Any, texts: list[str], batch: int, budget_s: float) -> dict[str, float]:
    """Texts/second of encode_documents over ``texts`` in calls of ``batch`` texts, stopping after ``budget_s``."""
    done = 0
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        chunk = texts[start : start + batch]
        embedder.encode_documents(chunk)
        done += len(chunk)
        if time.perf_counter() - started > budget_s:
            break
    seconds = time.perf_counter() - started
    return {"texts": done, "seconds": round(seconds, 3), "texts_per_s": round(done / seconds, 2)}


def reindex_check(spec: str, tiny: bool) -> dict[str, Any]:
    """Rebuild twice over a fresh SQLite database with the sample lists: model calls of each rebuild."""
    from matchmaker.services.samples import load_samples
    from matchmaker.services.search_setup import build_search_service

    tmp = Path(tempfile.mkdtemp(prefix="mm-bench-embed-"))
    try:
        sample_dir = SAMPLE_DIR
        if tiny:  # a slice of the sample lists, so the first rebuild embeds a few dozen texts, not 400
            sample_dir = tmp / "sample"
            sample_dir.mkdir()
            for name, keep in (("achievements.jsonl", 12), ("demands.jsonl", 4)):
                lines = (SAMPLE_DIR / name).read_text(encoding="utf-8").splitlines(keepends=True)
                (sample_dir / name).write_text("".join(lines[:keep]), encoding="utf-8")
        settings = Settings(
            data_dir=tmp / "data",
            database_url=None,
            embedder=spec,
            load_sample_data=False,
            sample_data_dir=sample_dir,
        )
        engine = db.create_db_engine(settings)
        try:
            db.upgrade(settings, engine)
            factory = db.create_session_factory(engine)
            with db.unit_of_work(factory) as session:
                created = load_samples(session, settings)
            service = build_search_service(settings, factory)
            rounds = []
            for _ in range(2):
                before = service.cache.model_calls
                t = time.perf_counter()
                counts = service.rebuild(save=False)
                rounds.append(
                    {
                        "seconds": round(time.perf_counter() - t, 3),
                        "model_calls": service.cache.model_calls - before,
                        "records": counts,
                    }
                )
        finally:
            engine.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "embedder": spec,
        "records_loaded": created,
        "first_rebuild": rounds[0],
        "second_rebuild": rounds[1],
        "unchanged_reindex_model_calls": rounds[1]["model_calls"],
        "ok": rounds[1]["model_calls"] == 0 and rounds[0]["model_calls"] > 0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedders", default="use,e5-small,use+e5-small")
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--budget-s", type=float, default=30.0, help="time budget per (embedder, batch) cell")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--reindex-embedder", default="use", help="embedder of the unchanged-reindex check")
    parser.add_argument("--device", default="cpu", help="device of st:<path> embedders (cpu, cuda, cuda:N)")
    parser.add_argument("--tiny", action="store_true", help="use only, 8 texts, one repeat, a sliced sample")
    parser.add_argument("--out", type=Path, help="JSON path (default benchmarks/results/embedding.json)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.embedders, args.budget_s, args.repeats = "use", 5.0, 1
    machine_info = machine()
    samples = load_sample_lists()
    texts = samples.achievement_texts + samples.demand_texts
    if args.tiny:
        texts = texts[:8]
    specs = [s.strip() for s in args.embedders.split(",") if s.strip()]
    batches = [int(b) for b in args.batches.split(",")]

    embedders: dict[tuple[str, int], Any] = {}
    load_s: dict[str, float] = {}
    names: dict[str, str] = {}
    for spec in specs:
        for batch in batches:
            embedder = create_embedder(spec, batch_size=batch, device=args.device)
            t = time.perf_counter()
            embedder.encode_documents(["预热 warm-up"])  # loads the model
            load_s.setdefault(spec, round(time.perf_counter() - t, 3))
            embedders[(spec, batch)] = embedder
            names[spec] = embedder.name
    cells: dict[tuple[str, int], list[dict[str, float]]] = {key: [] for key in embedders}
    for rep in range(args.repeats):
        for key, embedder in embedders.items():
            cells[key].append(throughput(embedder, texts, key[1], args.budget_s))
            log(f"  repeat {rep + 1} {key[0]} batch {key[1]}: {cells[key][-1]}")

    rows = []
    table: list[dict[str, Any]] = []
    for (spec, batch), runs in cells.items():
        rate = median([r["texts_per_s"] for r in runs])
        rows.append([spec, names[spec], batch, rate, 1000.0 / rate, sum(r["texts"] for r in runs), load_s[spec]])
        table.append(
            {"embedder": spec, "name": names[spec], "batch": batch, "texts_per_s": round(rate, 2), "runs": runs}
        )
    print(
        f"encode_documents on the sample lists ({len(texts)} texts, mean {sum(map(len, texts)) / len(texts):.0f} chars)"
    )
    print(format_table(["embedder", "model", "batch", "texts/s", "ms/text", "texts timed", "load s"], rows))

    check = reindex_check(args.reindex_embedder, args.tiny)
    print(
        f"unchanged reindex ({check['embedder']}): "
        f"first rebuild {check['first_rebuild']['model_calls']} model calls in {check['first_rebuild']['seconds']} s, "
        f"second rebuild {check['second_rebuild']['model_calls']} model calls in {check['second_rebuild']['seconds']} s"
        f" -> {'OK' if check['ok'] else 'FAILED'}"
    )
    write_results(
        results_path("embedding", args.out, args.tiny),
        "embedding",
        {
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "texts": len(texts),
            "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
            "load_seconds": load_s,
            "throughput": table,
            "reindex": check,
        },
        machine_info=machine_info,
    )
    return 0 if check["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
