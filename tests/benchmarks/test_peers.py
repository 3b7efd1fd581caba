"""benchmarks/peers.py's own logic: the selectivity filters mean the same set in every engine's language, recall is
measured against the exact (filtered) top 10, and the script runs end to end on tiny data without any peer installed.
The peers themselves (the optional ``bench`` extra) are exercised only where installed."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import ann  # noqa: E402
import peers  # noqa: E402
from _peers_engines import ENGINES, SELECTIVITIES, K, Selectivity, Setting, padded  # noqa: E402
from matchmaker.search.index import RecordAttrs, VectorIndex  # noqa: E402


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> ann.Dataset:
    return ann.load_dataset("synthetic", 3000, 40, tmp_path_factory.mktemp("cache"))


def test_selectivities_let_through_their_share(dataset: ann.Dataset) -> None:
    shares = {s.label: float(s.mask(dataset.fields).mean()) for s in SELECTIVITIES}
    assert shares["10%"] == pytest.approx(0.10, abs=0.02)
    assert shares["1%"] == pytest.approx(0.01, abs=0.006)
    assert [s.where() for s in SELECTIVITIES] == ["field < 10", "field < 1"]


def test_service_filter_selects_the_same_records_as_the_mask(dataset: ann.Dataset) -> None:
    index = VectorIndex(ann.DIM, kind="flat")
    index.upsert(range(dataset.n), dataset.vectors, dataset.attrs())
    for sel in SELECTIVITIES:
        assert index.count_matching(sel.service_filter()) == int(sel.mask(dataset.fields).sum())


def test_filter_on_field_codes_matches_record_attrs() -> None:
    fields = np.array([0, 5, 9, 10, 42], dtype=np.int16)
    sel = Selectivity("10%", 10)
    assert sel.mask(fields).tolist() == [True, True, True, False, False]
    flt = sel.service_filter()
    attrs = [
        RecordAttrs(field=ann.FIELD_NAMES[f], region="北京", status="active", trl=None, modes=frozenset())
        for f in fields
    ]
    assert [flt.matches(a) for a in attrs] == sel.mask(fields).tolist()


def _exact_setting(dataset: ann.Dataset) -> Setting:
    def search(q: np.ndarray, sel: Selectivity | None) -> np.ndarray:
        scores = dataset.vectors @ q
        if sel is not None:
            scores = np.where(sel.mask(dataset.fields), scores, -np.inf)
        top = np.argsort(-scores)[:K]
        return padded(top[np.isfinite(scores[top])].tolist())

    return Setting("exact", search)


def test_recall_is_one_for_exact_search_and_drops_for_a_worse_one(dataset: ann.Dataset) -> None:
    exact = peers.recalls(_exact_setting(dataset), dataset, 40, 20)
    assert exact["recall_at_10"] == 1.0
    for sel in SELECTIVITIES:
        assert exact[sel.label] == {"matching": int(sel.mask(dataset.fields).sum()), "recall_at_10": 1.0, "full_k": 1.0}

    inner = _exact_setting(dataset).search

    def half(q: np.ndarray, sel: Selectivity | None) -> np.ndarray:  # drops the 5 best of every answer
        row = inner(q, sel)
        return padded(row[K // 2 :].tolist())

    worse = peers.recalls(Setting("half", half), dataset, 40, 20)
    assert worse["recall_at_10"] == 0.5
    assert worse["10%"]["recall_at_10"] == 0.5
    assert worse["10%"]["full_k"] == 0.0


def test_padded_fills_short_answers_with_minus_one() -> None:
    assert padded([7, 3]).tolist() == [7, 3] + [-1] * (K - 2)
    assert padded(range(20)).tolist() == list(range(K))


def test_children_run_with_one_thread_everywhere() -> None:
    env = peers.child_env()
    assert all(env[name] == "1" for name in peers.THREAD_ENV)


def test_tiny_run_with_the_shipped_index_alone(tmp_path: Path) -> None:
    out = tmp_path / "peers.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "peers.py"),
            "--tiny",
            "--peers",
            "shipped",
            "--cache",
            str(tmp_path / "c"),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text(encoding="utf-8"))
    (run,) = doc["runs"]
    assert run["peer"] == "shipped"
    assert run["rss_peak_mib"] >= run["rss_before_mib"] > 0
    (row,) = [s for s in run["settings"] if s["own"]]
    assert row["recall_at_10"] == 1.0  # 2,000 vectors: the shipped configuration is an exact flat index
    assert row["latency"]["all ratio"] == 1.0
    assert "| shipped flat |" in out.with_suffix(".md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_each_installed_peer_finds_the_exact_neighbours_of_tiny_data(
    name: str, dataset: ann.Dataset, tmp_path: Path
) -> None:
    modules = {"milvus-lite": "milvus_lite", "lancedb": "lancedb", "txtai": "txtai"}
    if importlib.util.find_spec(modules[name]) is None:
        pytest.skip(f"{name} is not installed (the optional bench extra)")
    engine = ENGINES[name]()
    engine.build(dataset.vectors, dataset.fields, tmp_path)
    best = engine.settings()[-1]  # the widest search setting
    measured = peers.recalls(best, dataset, 40, 20)
    assert measured["recall_at_10"] >= 0.9
    assert measured["10%"]["recall_at_10"] >= 0.8
