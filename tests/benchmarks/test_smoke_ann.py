"""The ANN and cold-start benchmarks still run: both scripts with --tiny, side by side, into a temporary folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
MACHINE_KEYS = {"platform", "cpu_count", "cpu_model", "ram_bytes", "python", "numpy", "faiss"}


def test_ann_and_cold_start_tiny(tmp_path: Path) -> None:
    procs = {
        name: subprocess.Popen(
            [
                sys.executable,
                str(BENCHMARKS / f"{name}.py"),
                "--tiny",
                "--cache",
                str(tmp_path / name),
                "--json",
                str(tmp_path / f"{name}.json"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in ("ann", "cold_start")
    }
    for name, proc in procs.items():
        output, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"{name}.py --tiny failed:\n{output[-3000:]}"

    ann = json.loads((tmp_path / "ann.json").read_text(encoding="utf-8"))
    assert ann["benchmark"] == "ann"
    assert {"timestamp", "machine", "config", "runs", "checks"} <= ann.keys()
    assert MACHINE_KEYS <= ann["machine"].keys()
    run = ann["runs"][0]
    assert run["n"] == 2000
    assert run["data"] == "synthetic"
    row_keys = {"name", "recall_at_10", "p50_ms", "p99_ms", "speedup_vs_numpy_p50", "batch_qps", "build_s"}
    assert all(row_keys | {"bytes_per_vector"} <= r.keys() for r in run["results"])
    families = {r["family"] for r in run["results"]}
    assert {"numpy brute force", "flat (IndexFlatIP)", "hnsw M=32", "hnsw M=16", "ivf-flat", "ivf-sq8"} <= families
    assert all(r["bytes_per_vector"] > 0 for r in run["results"] if r["impl"] != "faiss" or "raw" not in r["name"])
    exact = next(r for r in run["results"] if r["family"] == "flat (IndexFlatIP)")
    assert exact["recall_at_10"] == 1.0
    filtered = {(f["filter"], f["method"]): f for f in run["filtered"]}
    assert {f for f, _ in filtered} == {"10%", "1%", "10 records"}
    assert all(f["full_k_share"] == 1.0 for (_, m), f in filtered.items() if m.startswith("VectorIndex"))
    assert {"latency", "filtered", "compressed"} <= ann["checks"]["synthetic"].keys()

    cold = json.loads((tmp_path / "cold_start.json").read_text(encoding="utf-8"))
    assert cold["benchmark"] == "cold_start"
    assert MACHINE_KEYS <= cold["machine"].keys()
    scenarios = {r["scenario"] for r in cold["results"]}
    assert {"load flat mmap verify", "load flat mmap no-verify", "load hnsw mmap verify", "rebuild flat from .npy"} <= (
        scenarios
    )
    assert all(r["count"] == 2000 and r["ready_s"] > 0 and r["first_query_ms"] > 0 for r in cold["results"])
    assert "all_mmap_loads_within_target" in cold["checks"]
