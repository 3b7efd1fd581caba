"""The request, matching-list, embedding and HTTP-load benchmarks still run: each with --tiny, all four started side by
side (most of their time is model loading and waiting on the server), JSON into a temporary folder."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPTS = ("match_request", "matching_list", "embedding", "http_load")
MACHINE_KEYS = {"platform", "cpu_count", "cpu_model", "ram_gib", "python", "packages"}
GENERATORS = [
    name
    for name, found in (
        ("wrk", shutil.which("wrk") is not None),
        ("locust", importlib.util.find_spec("locust") is not None),
    )
    if found
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Every script with --tiny, started at once; each test waits for its own."""
    out = tmp_path_factory.mktemp("bench")
    procs: dict[str, subprocess.Popen[str]] = {}
    for name in SCRIPTS:
        extra = []
        if name == "http_load":
            if not GENERATORS:
                continue
            extra = ["--generators", ",".join(GENERATORS)]
        procs[name] = subprocess.Popen(
            [sys.executable, str(BENCHMARKS / f"{name}.py"), "--tiny", "--out", str(out / f"{name}.json"), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={"HF_HUB_OFFLINE": "1", **os.environ},
        )
    yield {"dir": out, **procs}
    for name in SCRIPTS:
        proc = procs.get(name)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()


def _result(runs: dict[str, Any], name: str) -> dict[str, Any]:
    if name not in runs:
        pytest.skip(f"{name}: neither wrk (apt-get install wrk) nor locust (pip install -e '.[dev]') is installed")
    proc = runs[name]
    output, _ = proc.communicate(timeout=170)
    assert proc.returncode == 0, f"{name}.py --tiny failed:\n{output[-3000:]}"
    doc: dict[str, Any] = json.loads((runs["dir"] / f"{name}.json").read_text(encoding="utf-8"))
    assert doc["benchmark"] == name
    assert "timestamp" in doc
    assert MACHINE_KEYS <= doc["machine"].keys()
    return doc


def test_match_request_tiny(runs: dict[str, Any]) -> None:
    doc = _result(runs, "match_request")
    result = doc["results"][0]
    assert result["records"] == 3000
    for scenario in ("default", "chain_filter"):
        stages = result["scenarios"][scenario]
        assert {"tokenize", "dense", "bm25", "ranking", "total", "total_cached"} <= stages.keys()
        assert all(stages[s]["p50"] > 0 and stages[s]["p99"] >= stages[s]["p50"] for s in ("dense", "bm25", "total"))
    assert result["memory"]["per_record_bytes"]["vectors"] == result["dimension"] * 4
    assert result["memory"]["bm25_postings"] > 0
    assert doc["query_embedding_ms"]["p50"] > 0


def test_matching_list_tiny(runs: dict[str, Any]) -> None:
    doc = _result(runs, "matching_list")
    assert (doc["needs"], doc["achievements"]) == (200, 2000)
    assert doc["batched_median_s"] > 0
    assert doc["batched_one_thread_median_s"] > 0
    assert doc["loop_median_s"] > 0
    assert doc["ratio_loop_over_batched"] == pytest.approx(doc["loop_median_s"] / doc["batched_median_s"], rel=1e-2)


def test_embedding_tiny_and_unchanged_reindex_calls_no_model(runs: dict[str, Any]) -> None:
    doc = _result(runs, "embedding")
    assert {(t["embedder"], t["batch"]) for t in doc["throughput"]} == {("use", 1), ("use", 32)}
    assert all(t["texts_per_s"] > 0 for t in doc["throughput"])
    reindex = doc["reindex"]
    assert reindex["first_rebuild"]["model_calls"] == 16  # 12 achievements + 4 needs of the sliced sample
    assert reindex["unchanged_reindex_model_calls"] == 0
    assert reindex["ok"] is True


def test_http_load_tiny(runs: dict[str, Any]) -> None:
    doc = _result(runs, "http_load")
    # every installed load generator ran (wrk with 2 connections at --tiny)
    assert [run["generator"] for run in doc["runs"]] == [{"wrk": "wrk-c2"}.get(g, g) for g in GENERATORS]
    for run in doc["runs"]:
        assert run["backend"] == "sqlite"
        matches = run["endpoints"]["GET /demands/{id}/matches"]
        assert matches["requests"] > 0
        assert matches["p50_ms"] > 0
        assert matches["p99_ms"] >= matches["p50_ms"]
        assert run["endpoints"]["Aggregated"]["failures"] == 0
        assert run["endpoints"]["Aggregated"]["requests"] > matches["requests"]  # the writes were sent too
        assert run["lag"]["probes"] >= 1
        assert run["lag"]["polls"] > 0
        summary = doc["summary"][run["generator"]]["sqlite"]
        assert summary["auth"].startswith("manager token")
        assert summary["match_rps"] > 0
