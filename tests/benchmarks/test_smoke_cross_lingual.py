"""The cross-language check's cost benchmark still runs at its tiny size and reports both matchers."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "cross_lingual_cost.py"


def test_cross_lingual_cost_tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARK.parent))  # the script imports its sibling _common
    spec = importlib.util.spec_from_file_location("cross_lingual_cost", BENCHMARK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "cross_lingual_cost.json"
    assert module.main(["--tiny", "--out", str(out)]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["rounds"] == 2
    assert set(doc["medians"]) == {"with the language check", "check stubbed out"}
    assert doc["ratio"] > 0
