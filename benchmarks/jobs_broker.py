"""One matching run through the job engines, whole (plan, embed, rank, write): in-process on 1 and on every core,
and through the broker (Dramatiq on Redis) on 1, 2 and 4 worker processes.

    python benchmarks/jobs_broker.py [--achievements 20000] [--needs 2000] [--repeats 2] [--tiny]

A SQLite database in a temporary folder gets ``--achievements`` copies of the sample achievements and ``--needs``
copies of the sample needs (each need's title numbered, so every need is embedded once per worker, as in a real
run); the achievements' vectors are written to the embedding cache (no model call to build the index). Each engine
runs the same run ``--repeats`` times after an untimed warm-up run (worker start-up, index load and tokenizer are
not timed). Reported: median wall seconds per run, needs/s, the ratio to one worker, and the seconds one chunk costs
one worker (wall × workers / chunks), the figure README's "Scaling out" is computed from. Needs Redis on
127.0.0.1:6379 (or ``--broker``).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from _common import format_table, load_sample_lists, log, machine, median, results_path, sample_vectors, write_results
from matchmaker import db
from matchmaker.config import Settings
from matchmaker.models import Achievement, Demand, Embedding, MatchingRun
from matchmaker.schemas.matching import MatchFilters
from matchmaker.search.text import detect_language
from matchmaker.services.chunk_pool import default_workers
from matchmaker.services.records import content_hash
from matchmaker.services.run_jobs import execute_run
from matchmaker.services.runs import create_run
from matchmaker.services.search_setup import build_search_service

ROOT = Path(__file__).resolve().parents[1]


def populate(settings: Settings, n_offers: int, n_needs: int, embedder: str) -> None:
    """The lists and the achievements' cached vectors, written straight to the database."""
    samples = load_sample_lists()
    offer_vectors, need_vectors, model = sample_vectors(samples, embedder)
    engine = db.create_db_engine(settings)
    db.upgrade(settings, engine)
    with db.unit_of_work(db.create_session_factory(engine)) as session:
        for kind, model_cls, rows, vectors, n in (
            ("achievements", Achievement, samples.achievements, offer_vectors, n_offers),
            ("demands", Demand, samples.demands, need_vectors, n_needs),
        ):
            records, cache = [], []
            for i in range(n):
                row = dict(rows[i % len(rows)])
                row["title"] = f"{row['title']}（{i}）" if kind == "demands" else row["title"]
                if row.get("deadline"):
                    row["deadline"] = date.fromisoformat(row["deadline"])
                record = model_cls(**{k: v for k, v in row.items() if hasattr(model_cls, k) and k != "id"})
                record.external_id, record.status = f"B-{kind}-{i}", "active" if kind == "achievements" else "open"
                text = record.embed_text()
                record.content_hash, record.language = content_hash(text), detect_language(text)
                records.append(record)
            session.add_all(records)
            session.flush()
            for i, record in enumerate(records):
                vec = vectors[i % len(vectors)]
                cache.append(
                    {
                        "kind": kind,
                        "record_id": record.id,
                        "model": model,
                        "content_hash": record.content_hash,
                        "dimension": len(vec),
                        "vector": vec.tobytes(),
                    }
                )
            session.execute(insert(Embedding), cache)
    engine.dispose()


def new_run(settings: Settings) -> int:
    engine = db.create_db_engine(settings)
    with db.unit_of_work(db.create_session_factory(engine)) as session:
        run_id = create_run(
            session, k=10, filters=MatchFilters(), achievement_filters=MatchFilters(), constraints="flag", model="bench"
        ).id
    engine.dispose()
    return run_id


def wait_done(settings: Settings, run_id: int, timeout: float) -> None:
    engine = db.create_db_engine(settings)
    factory = db.create_session_factory(engine)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with factory() as session:
                status = session.scalar(select(MatchingRun.status).where(MatchingRun.id == run_id))
            if status == "done":
                return
            if status == "failed" or time.monotonic() > deadline:
                raise RuntimeError(f"run {run_id} ended {status}")
            time.sleep(0.05)
    finally:
        engine.dispose()


def time_broker(settings: Settings, env: dict[str, str], processes: int, repeats: int) -> list[float]:
    """Runs through ``processes`` Dramatiq worker processes (started, warmed up, timed, stopped)."""
    args = [
        sys.executable,
        "-m",
        "dramatiq",
        "matchmaker.services.job_broker",
        "--processes",
        str(processes),
        "--threads",
        "1",
        "--queues",
        env["MATCHMAKER_JOB_QUEUE"],
    ]
    worker = subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    os.environ.update({k: v for k, v in env.items() if k.startswith("MATCHMAKER_")})  # the broker's settings
    from matchmaker.services.job_broker import run_job  # sent from here: no interpreter start inside the timing

    times = []
    try:
        for rep in range(repeats + 1):
            run_id = new_run(settings)
            t = time.perf_counter()
            run_job.send(run_id)
            wait_done(settings, run_id, timeout=3600)
            if rep:  # the first run warms every worker up
                times.append(time.perf_counter() - t)
            log(f"  broker, {processes} processes, run {rep}: {time.perf_counter() - t:.1f} s")
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=120)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--achievements", type=int, default=20_000)
    parser.add_argument("--needs", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--processes", default="1,2,4", help="broker worker processes to compare")
    parser.add_argument("--chunk", type=int, default=128)
    parser.add_argument("--embedder", default="use")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--tiny", action="store_true", help="1,000 achievements, 100 needs, 1 and 2 processes")
    parser.add_argument("--out", type=Path, help="JSON path (default benchmarks/results/jobs_broker.json)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.achievements, args.needs, args.repeats, args.processes, args.chunk = 1000, 100, 1, "1,2", 16
    machine_info = machine()
    processes = [int(p) for p in args.processes.split(",")]
    with tempfile.TemporaryDirectory(prefix="jobs-broker-") as tmp:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *sys.path]),
            "MATCHMAKER_DATA_DIR": tmp,
            "MATCHMAKER_LOAD_SAMPLE_DATA": "false",
            "MATCHMAKER_EMBEDDER": args.embedder,
            "MATCHMAKER_JOB_BROKER": args.broker,
            "MATCHMAKER_JOB_QUEUE": f"bench-{uuid.uuid4().hex[:10]}",
            "MATCHMAKER_RUN_CHUNK_SIZE": str(args.chunk),
            "MATCHMAKER_STALE_CHECK_INTERVAL_S": "0",
        }
        settings = Settings(data_dir=Path(tmp), load_sample_data=False, embedder=args.embedder)
        t = time.perf_counter()
        populate(settings, args.achievements, args.needs, args.embedder)
        log(f"{args.achievements:,} achievements and {args.needs:,} needs written in {time.perf_counter() - t:.1f} s")

        engine = db.create_db_engine(settings)
        factory = db.create_session_factory(engine)
        search = build_search_service(settings, factory)
        search.start(follow=False)
        search.save_snapshot()  # the workers load it instead of building their own
        cores = default_workers()
        results: dict[str, list[float]] = {}
        for label, workers in (("in-process, 1 core", 1), (f"in-process, {cores} processes", cores)):
            results[label] = []
            for rep in range(args.repeats + 1):
                run_id = new_run(settings)
                t = time.perf_counter()
                execute_run(factory, search, run_id, workers=workers, chunk_size=args.chunk)
                if rep:
                    results[label].append(time.perf_counter() - t)
                log(f"  {label}, run {rep}: {time.perf_counter() - t:.1f} s")
        search.stop()
        engine.dispose()
        for n in processes:
            results[f"broker, {n} worker process{'es' if n > 1 else ''}"] = time_broker(settings, env, n, args.repeats)

    chunks = -(-args.needs // args.chunk)
    base = median(results["in-process, 1 core"])
    broker_one = median(results[next(k for k in results if k.startswith("broker, 1 "))]) if 1 in processes else None
    rows: list[list[Any]] = []
    for label, times in results.items():
        m = median(times)
        workers = 1 if "1 core" in label or " 1 worker" in label else int(label.split(", ")[1].split()[0])
        ref = broker_one if label.startswith("broker") and broker_one else base
        rows.append([label, m, args.needs / m, ref / m, m * workers / chunks])
    load = os.getloadavg()
    print(
        f"one run: {args.needs:,} needs × {args.achievements:,} achievements, top 10, chunks of {args.chunk} "
        f"({chunks}), median of {args.repeats}; load average {load[0]:.1f}"
    )
    print(format_table(["engine", "wall s", "needs/s", "speed-up vs 1", "s per chunk per worker"], rows))
    write_results(
        results_path("jobs_broker", args.out, args.tiny),
        "jobs_broker",
        {
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "chunks": chunks,
            "runs": {label: [round(x, 3) for x in times] for label, times in results.items()},
            "table": [
                dict(zip(["engine", "wall_s", "needs_per_s", "speedup", "chunk_s_per_worker"], r, strict=True))
                for r in rows
            ],
            "load_average_at_end": [round(x, 2) for x in load],
        },
        machine_info=machine_info,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
