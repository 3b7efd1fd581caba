"""The event-scheduling benchmark still runs at its tiny size and reports valid schedules."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "event_schedule.py"


def test_event_schedule_tiny(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("event_schedule", BENCHMARK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "event_schedule.json"
    assert module.main(["--tiny", "--time-limit", "1", "--workers", "1", "--out", str(out)]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["instance"]["requests"] == 150
    greedy, cp_sat = doc["results"]
    assert (greedy["solver"], cp_sat["solver"]) == ("greedy", "cp-sat")
    assert greedy["violations"] == cp_sat["violations"] == 0
    assert cp_sat["objective"] >= greedy["objective"]
    assert 0 < cp_sat["placed_share"] <= 1
