"""Side-by-side runs of several commits (benchmarks/_revisions.py): the per-repeat ratio medians and the verdict,
and a commit exported with its package and migrations."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def revisions() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_revisions", ROOT / "benchmarks" / "_revisions.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_ratios_are_medians_of_repeat_by_repeat_ratios(revisions: ModuleType) -> None:
    per_repeat = {
        "old": [{"match_rps": 100.0, "match_p99_ms": 10.0}, {"match_rps": 50.0, "match_p99_ms": 20.0}, {}],
        "new": [{"match_rps": 110.0, "match_p99_ms": 9.0}, {"match_rps": 60.0, "match_p99_ms": 30.0}, {}],
    }
    out = revisions.compare(per_repeat, "old", ("match_rps", "match_p99_ms"))
    # the load drifted between repeats (100 → 50 req/s); each repeat is compared with its own neighbour
    assert out["new"]["match_rps"] == {"median": 85.0, "ratio": pytest.approx(1.15)}
    assert out["new"]["match_p99_ms"]["ratio"] == pytest.approx(1.2)  # median of 0.9 and 1.5
    assert out["new"]["verdict"] == "slower (match_p99_ms)"
    assert out["old"]["match_rps"]["ratio"] == 1.0
    assert "verdict" not in out["old"]
    steady = revisions.compare({"a": [{"match_rps": 10.0}], "b": [{"match_rps": 9.7}]}, "a", ("match_rps",))
    assert steady["b"]["verdict"] == "not slower"  # within the tolerance


def test_a_commit_is_exported_with_its_package_and_migrations(revisions: ModuleType, tmp_path: Path) -> None:
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    exported, here = revisions.resolve(ROOT, ["HEAD", revisions.WORKTREE], tmp_path)
    assert exported.commit == head.stdout.strip()
    assert (exported.src / "matchmaker" / "__init__.py").is_file()
    assert (exported.tree / "migrations" / "env.py").is_file()
    assert here.tree == ROOT
    assert here.commit.startswith(exported.commit)
