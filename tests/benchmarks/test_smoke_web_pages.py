"""benchmarks/web_pages.py still runs (--tiny: 500 achievements, 200 pairings; JSON into a temporary folder)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_web_pages_benchmark_runs_tiny(tmp_path: Path) -> None:
    out = tmp_path / "web_pages.json"
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "web_pages.py"), "--tiny", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["backend"] == "sqlite"
    assert {"queue", "pairing", "dashboard (all time)"} <= set(result["pages"])
    assert all(page["n"] == 3 and page["p95"] > 0 for page in result["pages"].values())
    assert "p95 ms" in proc.stdout
