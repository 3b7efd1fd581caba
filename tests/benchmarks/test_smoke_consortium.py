"""benchmarks/consortium.py still runs: one challenge of the evaluation set, JSON into a temporary folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_consortium_benchmark_runs_on_one_challenge(tmp_path: Path) -> None:
    everything = json.loads((ROOT / "data" / "eval" / "challenges.json").read_text(encoding="utf-8"))
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"challenges": everything["challenges"][:1]}, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "consortium.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "consortium.py"), "--challenges", str(one), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env={"HF_HUB_OFFLINE": "1", **os.environ},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "JB-E-01" in done.stdout
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["challenges"] == 1
    assert report["solver"] == "OR-Tools CP-SAT"
    assert 0 <= report["share_all_indicators_covered"] <= 1
    assert len(report["per_challenge"][0]["detail"]) == 3
