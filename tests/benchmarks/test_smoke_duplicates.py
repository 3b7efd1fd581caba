"""The duplicate-detection benchmark still runs (--tiny) and writes its JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_duplicates_benchmark_tiny(tmp_path: Path) -> None:
    out = tmp_path / "duplicates.json"
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "duplicates.py"), "--tiny", "--baseline", "HEAD", "--out", str(out)],
        capture_output=True,
        text=True,
        env={"HF_HUB_OFFLINE": "1", **os.environ},
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["records"] == 1000
    assert result["check_ms"]["n"] == 20
    assert result["planted_recall"] > 0.9
    assert set(result["detectors"]) == {"baseline HEAD", "this tree"}  # side by side in one run
    assert result["scan_ratio"] > 0
    assert result["same_pairs_as_baseline"] is True  # HEAD is this tree once committed
