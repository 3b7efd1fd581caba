"""The job benchmarks still run: run_cores.py (one core against every core) and jobs_broker.py (a run in-process and
through broker workers; needs Redis, skipped where none answers) with --tiny, side by side, JSON into a temporary
folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import redis_up

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_job_benchmarks_tiny(tmp_path: Path) -> None:
    names = ["run_cores"] + (["jobs_broker"] if redis_up() or os.environ.get("CI") == "true" else [])
    procs = {
        name: subprocess.Popen(
            [sys.executable, str(BENCHMARKS / f"{name}.py"), "--tiny", "--out", str(tmp_path / f"{name}.json")],
            cwd=BENCHMARKS,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in names
    }
    for name, proc in procs.items():
        output, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"{name}.py --tiny failed:\n{output[-3000:]}"
    cores = json.loads((tmp_path / "run_cores.json").read_text(encoding="utf-8"))
    assert cores["one_process_median_s"] > 0
    assert cores["many_processes_median_s"] > 0
    assert cores["ratio_one_over_many"] > 0
    if "jobs_broker" not in names:
        pytest.skip("no Redis on 127.0.0.1:6379: jobs_broker.py not run")
    broker = json.loads((tmp_path / "jobs_broker.json").read_text(encoding="utf-8"))
    engines = [row["engine"] for row in broker["table"]]
    assert engines[0] == "in-process, 1 core"
    assert engines[1].startswith("in-process, ")
    assert engines[2:] == ["broker, 1 worker process", "broker, 2 worker processes"]
    assert all(row["wall_s"] > 0 for row in broker["table"])
