"""Tests for the FAISS vector index wrapper (matchmaker.search.index)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from matchmaker.search import index as index_module
from matchmaker.search.index import Filter, Kind, RecordAttrs, VectorIndex, set_faiss_threads
from matchmaker.search.rwlock import ReadWriteLock
from matchmaker.search.snapshot import IndexStateError

FIELDS_100 = tuple(f"f{i}" for i in range(100))  # 100 fields: one field is a 1% filter
REGIONS = ("北京", "天津", "河北", "其他")
MODES = ("转让", "许可", "作价入股", "合作开发")


# ----------------------------------------------------------------------------------------------------- builders


def normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def clustered(n: int, d: int, seed: int) -> np.ndarray:
    """Unit vectors around n/50 random centres: closer to real embeddings than uniform noise (HNSW-friendly)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(1, n // 50), d))
    return normalise(centres[rng.integers(0, centres.shape[0], n)] + 0.5 * rng.standard_normal((n, d)))


def attrs_for(i: int, fields: tuple[str, ...] = ("新材料", "生物医药", "电子信息")) -> RecordAttrs:
    return RecordAttrs(
        field=fields[i % len(fields)],
        region=REGIONS[(i // 7) % 4],
        status="active" if i % 10 else "closed",
        trl=None if i % 11 == 0 else i % 9 + 1,
        modes=frozenset({MODES[i % 4], MODES[(i // 4) % 4]}),
    )


@dataclass
class Model:
    """Brute-force reference: what the index should contain and return."""

    vectors: dict[int, np.ndarray] = field(default_factory=dict)
    attrs: dict[int, RecordAttrs] = field(default_factory=dict)

    def upsert(self, ids: list[int], vectors: np.ndarray, attrs: list[RecordAttrs]) -> None:
        for i, v, a in zip(ids, vectors, attrs, strict=True):
            self.vectors[i], self.attrs[i] = v, a

    def remove(self, ids: list[int]) -> None:
        for i in ids:
            self.vectors.pop(i, None)
            self.attrs.pop(i, None)

    def matches(self, flt: Filter | None) -> list[int]:
        return [i for i in self.vectors if flt is None or matches(self.attrs[i], i, flt)]

    def search(self, q: np.ndarray, k: int, flt: Filter | None = None) -> list[tuple[int, float]]:
        return self.search_many(q[None, :], k, flt)[0]

    def search_many(self, queries: np.ndarray, k: int, flt: Filter | None = None) -> list[list[tuple[int, float]]]:
        ids = self.matches(flt)
        if not ids:
            return [[] for _ in queries]
        all_scores = queries @ np.stack([self.vectors[i] for i in ids]).T
        out = []
        for scores in all_scores:
            order = np.argsort(-scores, kind="stable")[:k]
            out.append([(ids[j], float(scores[j])) for j in order])
        return out


def matches(a: RecordAttrs, db_id: int, flt: Filter) -> bool:
    return (
        (not flt.fields or a.field in flt.fields)
        and (not flt.regions or a.region in flt.regions)
        and (not flt.statuses or a.status in flt.statuses)
        and (flt.trl_min is None or (a.trl is not None and a.trl >= flt.trl_min))
        and (flt.trl_max is None or (a.trl is not None and a.trl <= flt.trl_max))
        and (not flt.modes or bool(a.modes & set(flt.modes)))
        and db_id not in flt.exclude_ids
    )


def filled(n: int, d: int = 16, *, seed: int = 0, **kwargs: Any) -> tuple[VectorIndex, Model, np.ndarray]:
    vectors = clustered(n, d, seed)
    ids = list(range(1000, 1000 + n))
    attrs = [attrs_for(i) for i in range(n)]
    idx = VectorIndex(d, **kwargs)
    idx.upsert(ids, vectors, attrs)
    model = Model()
    model.upsert(ids, vectors, attrs)
    return idx, model, vectors


def assert_same_hits(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> None:
    """Same scores in order and the same ids, except that ids tied with the last score may differ."""
    assert len(got) == len(want)
    assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-5)
    boundary = want[-1][1] + 1e-5 if want else 0.0
    assert {i for i, s in got if s > boundary} == {i for i, s in want if s > boundary}


def stored(idx: VectorIndex, db_id: int) -> np.ndarray:
    vector = idx.vector(db_id)
    assert vector is not None
    return vector


def recall(got: list[list[tuple[int, float]]], want: list[list[tuple[int, float]]]) -> float:
    hits = sum(len({i for i, _ in g} & {i for i, _ in w}) for g, w in zip(got, want, strict=True))
    return hits / max(1, sum(len(w) for w in want))


@pytest.fixture(scope="module")
def hnsw_30k() -> tuple[VectorIndex, Model, np.ndarray]:
    """~30k clustered 32-d vectors in an HNSW index (built once, ~3 s); fields f0..f99 give 1% per field."""
    n, d = 30_000, 32
    vectors = clustered(n, d, seed=42)
    ids = list(range(n))
    attrs = [attrs_for(i, FIELDS_100) for i in ids]
    idx = VectorIndex(d, kind="hnsw")
    idx.upsert(ids, vectors, attrs)
    model = Model()
    model.upsert(ids, vectors, attrs)
    return idx, model, vectors


# ------------------------------------------------------------------------------------------------- basic CRUD


def test_upsert_then_search_returns_self_first() -> None:
    idx, _, vectors = filled(200)
    hits = idx.search(vectors[:5], 3)
    assert [h[0][0] for h in hits] == [1000, 1001, 1002, 1003, 1004]
    assert all(h[0][1] == pytest.approx(1.0, abs=1e-5) for h in hits)
    assert all(len(h) == 3 and h[0][1] >= h[1][1] >= h[2][1] for h in hits)
    assert len(idx) == 200
    assert 1000 in idx
    assert 999 not in idx
    assert idx.ids().tolist() == list(range(1000, 1200))
    np.testing.assert_allclose(stored(idx, 1007), vectors[7])
    assert idx.vector(5) is None
    found, rows = idx.vectors([1009, 5, 1001])  # one gather; unknown ids are left out, the order is kept
    assert found == [1009, 1001]
    np.testing.assert_array_equal(rows, np.stack([stored(idx, 1009), stored(idx, 1001)]))
    none, empty = idx.vectors([])
    assert none == []
    assert empty.shape == (0, vectors.shape[1])


def test_empty_index_and_k_larger_than_size() -> None:
    idx = VectorIndex(8)
    q = normalise(np.ones((2, 8)))
    assert idx.search(q, 5) == [[], []]
    assert len(idx) == 0
    assert idx.tombstone_share == 0.0
    idx.upsert([1, 2], normalise(np.eye(8)[:2]), [attrs_for(0), attrs_for(1)])
    assert [len(h) for h in idx.search(q, 5)] == [2, 2]


def test_update_moves_record() -> None:
    idx, model, vectors = filled(300)
    old, new = vectors[10], vectors[200]  # record 1010 moves onto record 1200's neighbourhood
    idx.upsert([1010], new[None, :], [attrs_for(10)])
    assert len(idx) == 300
    assert idx.tombstone_share == pytest.approx(1 / 301)
    np.testing.assert_allclose(stored(idx, 1010), new)
    hits_old = idx.search(old, 5)[0]
    assert 1010 not in [i for i, _ in hits_old]  # the old vector no longer finds it
    hits_new = dict(idx.search(new, 2)[0])
    assert set(hits_new) == {1010, 1200}
    assert hits_new[1010] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_rewriting_the_same_vector_updates_attributes_in_place(kind: Kind) -> None:
    idx, model, vectors = filled(300, kind=kind)
    moved = normalise(np.roll(vectors[11:12], 1, axis=1))[0]
    # 1010 keeps its vector and moves to another chain and TRL; 1011 gets a new vector as well
    idx.upsert([1010, 1011], np.stack([vectors[10], moved]), [attrs_for(10, ("新材料",)), attrs_for(11)])
    model.upsert([1010, 1011], np.stack([vectors[10], moved]), [attrs_for(10, ("新材料",)), attrs_for(11)])
    assert idx.tombstone_share == pytest.approx(1 / 301)  # only 1011's old label
    np.testing.assert_array_equal(stored(idx, 1010), vectors[10])
    for flt in (Filter(fields=("新材料",)), Filter(fields=(attrs_for(10).field,)), None):
        for q in (vectors[10], moved):
            assert_same_hits(idx.search(q, 5, flt)[0], model.search(q, 5, flt))
    assert 1010 in {i for i, _ in idx.search(vectors[10], 3, Filter(fields=("新材料",)))[0]}
    # the same attributes again: nothing changes at all
    idx.upsert([1010], vectors[10][None, :], [attrs_for(10, ("新材料",))])
    assert idx.tombstone_share == pytest.approx(1 / 301)


def test_remove() -> None:
    idx, model, vectors = filled(300)
    idx.remove([1000, 1001, 424242])  # unknown ids are ignored
    model.remove([1000, 1001])
    assert len(idx) == 298
    assert 1000 not in idx
    assert idx.vector(1001) is None
    for q in vectors[:3]:
        got = idx.search(q, 10)[0]
        assert {i for i, _ in got}.isdisjoint({1000, 1001})
        assert_same_hits(got, model.search(q, 10))


def test_invalid_input_is_rejected_before_anything_changes() -> None:
    idx, _, vectors = filled(50)
    with pytest.raises(ValueError, match="normalised"):
        idx.upsert([1], 2 * vectors[:1], [attrs_for(1)])
    with pytest.raises(ValueError, match="shape"):
        idx.upsert([1], vectors[:1, :8], [attrs_for(1)])
    with pytest.raises(ValueError, match="duplicate"):
        idx.upsert([1, 1], vectors[:2], [attrs_for(1), attrs_for(2)])
    with pytest.raises(ValueError, match="attrs"):
        idx.upsert([1, 2], vectors[:2], [attrs_for(1)])
    with pytest.raises(ValueError, match="trl"):
        idx.upsert([1], vectors[:1], [RecordAttrs("x", "北京", "active", 12, frozenset())])
    with pytest.raises(ValueError, match="NaN"):
        idx.upsert([1], np.full((1, 16), np.nan, dtype=np.float32), [attrs_for(1)])
    with pytest.raises(ValueError, match="k must be"):
        idx.search(vectors[:1], 0)
    assert len(idx) == 50
    assert idx.tombstone_share == 0.0


# ---------------------------------------------------------------------------------------------------- filters

PER_ATTRIBUTE = [
    Filter(fields=("新材料",)),
    Filter(fields=("新材料", "电子信息")),
    Filter(regions=("天津",)),
    Filter(statuses=("closed",)),
    Filter(trl_min=7),
    Filter(trl_max=3),
    Filter(trl_min=4, trl_max=5),
    Filter(modes=("许可",)),
    Filter(modes=("作价入股", "合作开发")),
    Filter(exclude_ids=(1000, 1001, 1002)),
]
COMBINED = [
    Filter(fields=("生物医药",), regions=("北京", "河北"), statuses=("active",), trl_min=5, modes=("转让",)),
    Filter(regions=("其他",), trl_max=4, exclude_ids=(1004,)),
    Filter(fields=("不存在",)),  # unknown value: matches nothing
    Filter(modes=("不存在",)),
    Filter(),
]


@pytest.fixture(scope="module", params=["flat", "hnsw", "ivf"])
def filter_index(request: pytest.FixtureRequest) -> tuple[VectorIndex, Model, np.ndarray]:
    """2500 records of each kind, with a few removals so tombstones take part in every filtered search."""
    idx, model, vectors = filled(2500, kind=request.param)
    idx.remove([1005, 1006, 1500])
    model.remove([1005, 1006, 1500])
    assert idx.kind_in_use == request.param
    return idx, model, vectors


@pytest.mark.parametrize("flt", PER_ATTRIBUTE + COMBINED, ids=repr)
def test_filtered_search_matches_brute_force(filter_index: tuple[VectorIndex, Model, np.ndarray], flt: Filter) -> None:
    idx, model, vectors = filter_index
    m = idx.count_matching(flt)
    assert m == len(model.matches(flt))
    queries = vectors[:6]
    got = idx.search(queries, 10, flt)
    want = model.search_many(queries, 10, flt)
    assert all(matches(model.attrs[i], i, flt) for row in got for i, _ in row)
    assert [len(row) for row in got] == [min(10, m)] * len(queries)
    if m <= index_module.EXACT_SEARCH_MAX or idx.kind_in_use == "flat":  # searched exactly
        for got_row, want_row in zip(got, want, strict=True):
            assert_same_hits(got_row, want_row)
    else:  # HNSW / IVF over most of the index: approximate
        assert recall(got, want) >= 0.9


@pytest.mark.parametrize("n_fields", [1, 5, 20, 60, 100])
def test_hnsw_returns_k_whenever_k_match(hnsw_30k: tuple[VectorIndex, Model, np.ndarray], n_fields: int) -> None:
    """1% .. 100% selectivity on 30k vectors: always min(k, matching) hits, all matching, high recall."""
    idx, model, vectors = hnsw_30k
    flt = Filter(fields=FIELDS_100[:n_fields])
    assert idx.count_matching(flt) == 300 * n_fields
    queries = vectors[::1500]
    got = idx.search(queries, 20, flt)
    assert all(len(row) == 20 for row in got)
    assert all(model.attrs[i].field in flt.fields for row in got for i, _ in row)
    assert all([s for _, s in row] == sorted((s for _, s in row), reverse=True) for row in got)
    assert recall(got, model.search_many(queries, 20, flt)) >= 0.95


def test_hnsw_selective_filter_k_exceeds_matches(hnsw_30k: tuple[VectorIndex, Model, np.ndarray]) -> None:
    idx, model, vectors = hnsw_30k
    flt = Filter(fields=("f3",), regions=("北京",), statuses=("active",), trl_min=6)
    m = idx.count_matching(flt)
    assert 0 < m < 100
    got = idx.search(vectors[:3], 100, flt)
    assert [len(row) for row in got] == [m, m, m]


def _narrow_graph_walk(monkeypatch: pytest.MonkeyPatch, idx: VectorIndex, retry_factor: int) -> None:
    """Force filtered searches onto the graph with efSearch 4 (a 1% filter then comes back short), retried with
    ``retry_factor`` times that."""
    monkeypatch.setattr(index_module, "EXACT_SEARCH_MAX", 0)
    monkeypatch.setattr(index_module, "EXACT_PER_EF", 0)
    monkeypatch.setattr(index_module, "HNSW_EF_MAX", 4)
    monkeypatch.setattr(index_module, "HNSW_RETRY_FACTOR", retry_factor)
    monkeypatch.setattr(idx, "ef_search", 4)


def test_hnsw_falls_back_to_exact_when_graph_search_comes_up_short(
    hnsw_30k: tuple[VectorIndex, Model, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Force the graph path with a tiny efSearch on a 1% filter: it misses hits, and the fallback must fill them."""
    idx, model, vectors = hnsw_30k
    _narrow_graph_walk(monkeypatch, idx, retry_factor=1)  # the retry is as narrow as the first walk
    exact_calls: list[int] = []
    real_exact = idx._exact

    def spy(s: Any, q: np.ndarray, k: int, sel: Any) -> Any:
        exact_calls.append(q.shape[0])
        return real_exact(s, q, k, sel)

    monkeypatch.setattr(idx, "_exact", spy)
    flt = Filter(fields=("f17",))
    queries = vectors[:20]
    got = idx.search(queries, 10, flt)
    assert exact_calls, "the tiny-ef graph search should have come up short at 1% selectivity"
    assert all(len(row) == 10 for row in got)
    assert all(len({i for i, _ in row}) == 10 for row in got)
    assert all(model.attrs[i].field == "f17" for row in got for i, _ in row)
    assert recall(got, model.search_many(queries, 10, flt)) >= 0.9


def test_a_short_hnsw_walk_is_retried_wider_before_an_exact_scan(
    hnsw_30k: tuple[VectorIndex, Model, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    idx, model, vectors = hnsw_30k
    _narrow_graph_walk(monkeypatch, idx, retry_factor=1000)  # ef 4 first, then 4000

    def no_exact(*args: Any) -> Any:
        raise AssertionError("the wider walk should have filled every row")

    monkeypatch.setattr(idx, "_exact", no_exact)
    flt = Filter(fields=("f17",))
    queries = vectors[:20]
    got = idx.search(queries, 10, flt)
    assert all(len({i for i, _ in row}) == 10 for row in got)
    assert all(model.attrs[i].field == "f17" for row in got for i, _ in row)
    assert recall(got, model.search_many(queries, 10, flt)) >= 0.95


def test_hnsw_recall_vs_flat(hnsw_30k: tuple[VectorIndex, Model, np.ndarray]) -> None:
    idx, model, vectors = hnsw_30k
    rng = np.random.default_rng(7)
    queries = normalise(vectors[rng.choice(len(vectors), 200)] + 0.2 * rng.standard_normal((200, 32)))
    flat = VectorIndex(32, kind="flat")
    flat.upsert(list(range(len(vectors))), vectors, [attrs_for(i, FIELDS_100) for i in range(len(vectors))])
    assert recall(idx.search(queries, 10), flat.search(queries, 10)) >= 0.95


# -------------------------------------------------------------------------------------- tombstones & kinds


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_tombstones_then_automatic_compaction(kind: Kind) -> None:
    idx, model, vectors = filled(400, kind=kind, compact_share=0.2)
    idx.remove(list(range(1000, 1060)))  # 60 / 400 = 15 % tombstones: kept
    model.remove(list(range(1000, 1060)))
    assert idx.tombstone_share == pytest.approx(0.15)
    assert len(idx) == 340
    for q in vectors[:3]:
        assert_same_hits(idx.search(q, 5)[0], model.search(q, 5))
    # Re-upserting 30 live records adds 30 more tombstones: 90 / 430 > 20 % -> the write compacts.
    moved = normalise(np.roll(vectors[100:130], 1, axis=1))
    idx.upsert(list(range(1100, 1130)), moved, [attrs_for(i) for i in range(100, 130)])
    model.upsert(list(range(1100, 1130)), moved, [attrs_for(i) for i in range(100, 130)])
    assert idx.tombstone_share == 0.0
    assert idx.kind_in_use == kind
    assert len(idx) == 340
    assert sorted(idx.ids().tolist()) == sorted(model.vectors)
    np.testing.assert_allclose(stored(idx, 1100), moved[0])
    for q in [*vectors[:3], *moved[:3]]:
        assert_same_hits(
            idx.search(q, 5, Filter(regions=("北京", "天津")))[0], model.search(q, 5, Filter(regions=("北京", "天津")))
        )


def test_removing_everything_leaves_a_usable_empty_index() -> None:
    idx, _, vectors = filled(50)
    idx.remove(list(range(1000, 1050)))
    assert len(idx) == 0
    assert idx.search(vectors[:1], 3) == [[]]
    idx.upsert([7], vectors[:1], [attrs_for(0)])
    assert idx.search(vectors[:1], 3)[0][0][0] == 7


def test_auto_switches_flat_to_hnsw_and_back() -> None:
    idx, model, vectors = filled(150, kind="auto", hnsw_threshold=200)
    assert idx.kind_in_use == "flat"
    more = clustered(100, 16, seed=9)
    idx.upsert(list(range(5000, 5100)), more, [attrs_for(i) for i in range(100)])
    model.upsert(list(range(5000, 5100)), more, [attrs_for(i) for i in range(100)])
    assert idx.kind_in_use == "hnsw"  # 250 >= threshold: the write rebuilt as HNSW
    assert idx.search(more[:1], 1)[0][0][0] == 5000
    idx.remove(list(range(5000, 5040)))  # 210 live: stays HNSW (hysteresis; 40/250 tombstones < 20 %)
    model.remove(list(range(5000, 5040)))
    assert idx.kind_in_use == "hnsw"
    idx.rebuild()  # explicit rebuild: 210 >= 200, still HNSW, tombstones gone
    assert (idx.kind_in_use, idx.tombstone_share) == ("hnsw", 0.0)
    idx.remove(list(range(1000, 1120)))  # 90 live < threshold / 2: back to flat
    model.remove(list(range(1000, 1120)))
    assert idx.kind_in_use == "flat"
    assert len(idx) == 90
    for q in more[40:43]:
        assert_same_hits(idx.search(q, 5)[0], model.search(q, 5))


def test_rebuild_rechooses_kind_for_current_size() -> None:
    idx, _, _ = filled(150, kind="auto", hnsw_threshold=200)
    idx.upsert(list(range(5000, 5100)), clustered(100, 16, seed=3), [attrs_for(i) for i in range(100)])
    assert idx.kind_in_use == "hnsw"
    idx.remove(list(range(5000, 5070)))  # 180 live: between threshold / 2 and threshold
    assert idx.kind_in_use == "hnsw"
    idx.rebuild()
    assert idx.kind_in_use == "flat"


def test_ivf_kind_trains_once_large_enough() -> None:
    idx, model, vectors = filled(1500, kind="ivf")
    assert idx.kind_in_use == "flat"  # too few vectors to train centroids
    more = clustered(1000, 16, seed=5)
    idx.upsert(list(range(9000, 10000)), more, [attrs_for(i) for i in range(1000)])
    model.upsert(list(range(9000, 10000)), more, [attrs_for(i) for i in range(1000)])
    assert idx.kind_in_use == "ivf"
    flt = Filter(regions=("北京", "天津", "河北"), modes=("转让", "许可"))
    queries = more[:10]
    got = idx.search(queries, 10, flt)
    assert all(len(row) == 10 for row in got)
    assert recall(got, model.search_many(queries, 10, flt)) >= 0.9


# ------------------------------------------------------------------------------------------------ persistence


@pytest.mark.parametrize("mmap", [True, False], ids=["mmap", "read"])
@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_save_load_round_trip(tmp_path: Path, kind: Kind, mmap: bool) -> None:
    idx, _, vectors = filled(2500, kind=kind)
    idx.remove([1000, 1001])  # tombstones are saved too
    idx.save(tmp_path, {"model": "bge-small-zh", "last_change_id": 42})
    loaded, meta = VectorIndex.load(tmp_path, mmap=mmap)
    assert meta == {"model": "bge-small-zh", "last_change_id": 42}
    assert (len(loaded), loaded.kind_in_use, loaded.tombstone_share) == (len(idx), kind, idx.tombstone_share)
    np.testing.assert_array_equal(loaded.ids(), idx.ids())
    np.testing.assert_array_equal(loaded.vector(1500), idx.vector(1500))
    for flt in [None, Filter(fields=("新材料",), trl_min=3), Filter(modes=("许可",), exclude_ids=(1002,))]:
        assert loaded.search(vectors[:8], 10, flt) == idx.search(vectors[:8], 10, flt)
        assert loaded.count_matching(flt) == idx.count_matching(flt)
    on_disk = json.loads((tmp_path / "meta.json").read_text())
    assert (on_disk["dimension"], on_disk["count"], on_disk["tombstones"]) == (16, 2498, 2)


def test_writes_after_mmap_load_and_resave_over_mapped_file(tmp_path: Path) -> None:
    idx, model, vectors = filled(500, kind="hnsw")
    idx.save(tmp_path, {"v": 1})
    loaded, _ = VectorIndex.load(tmp_path, mmap=True)
    fresh = clustered(10, 16, seed=11)
    loaded.upsert(list(range(7000, 7010)), fresh, [attrs_for(i) for i in range(10)])  # copies the mmap first
    loaded.upsert([1003], fresh[:1], [attrs_for(3)])  # update an existing record
    loaded.remove([1004])
    model.upsert(list(range(7000, 7010)), fresh, [attrs_for(i) for i in range(10)])
    model.upsert([1003], fresh[:1], [attrs_for(3)])
    model.remove([1004])
    assert len(loaded) == len(model.vectors) == 509
    assert {i for i, _ in loaded.search(fresh[0], 2)[0]} == {7000, 1003}
    loaded.save(tmp_path, {"v": 2})  # replaces the file the first load still maps
    again, meta = VectorIndex.load(tmp_path, mmap=True)
    assert meta == {"v": 2}
    assert again.search(vectors[:5], 10) == loaded.search(vectors[:5], 10)
    assert 1004 not in again


def _corrupt_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _edit_meta(key: str, value: Any) -> Callable[[Path], None]:
    def edit(directory: Path) -> None:
        doc = json.loads((directory / "meta.json").read_text())
        doc[key] = value
        (directory / "meta.json").write_text(json.dumps(doc))

    return edit


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda d: (d / "meta.json").write_text('{"format": 1, "dimen'), id="truncated-meta"),
        pytest.param(lambda d: (d / "meta.json").unlink(), id="missing-meta"),
        pytest.param(lambda d: (d / "index.faiss").unlink(), id="missing-index"),
        pytest.param(lambda d: _corrupt_byte(d / "index.faiss"), id="index-checksum"),
        pytest.param(lambda d: _corrupt_byte(d / "arrays.npz"), id="arrays-checksum"),
        pytest.param(lambda d: (d / "arrays.npz").write_bytes((d / "arrays.npz").read_bytes()[:-10]), id="size"),
        pytest.param(_edit_meta("count", 3), id="count-mismatch"),
        pytest.param(_edit_meta("kind", "hnsw"), id="kind-mismatch"),
        pytest.param(_edit_meta("dimension", 32), id="dimension-mismatch"),
        pytest.param(_edit_meta("format", 99), id="format"),
    ],
)
def test_torn_or_corrupt_snapshot_is_detected(tmp_path: Path, damage: Callable[[Path], None]) -> None:
    idx, _, _ = filled(300, kind="flat")
    idx.save(tmp_path, {})
    damage(tmp_path)
    with pytest.raises(IndexStateError):
        VectorIndex.load(tmp_path)


def test_torn_snapshot_from_two_generations_is_detected(tmp_path: Path) -> None:
    """Crash between renames: index.faiss from the new save, meta.json + arrays.npz from the old one."""
    idx, _, vectors = filled(300, kind="flat")
    idx.save(tmp_path / "old", {})
    idx.upsert([1], vectors[:1], [attrs_for(0)])
    idx.save(tmp_path / "new", {})
    (tmp_path / "new" / "index.faiss").replace(tmp_path / "old" / "index.faiss")
    with pytest.raises(IndexStateError, match="index.faiss"):
        VectorIndex.load(tmp_path / "old", verify=False)  # even the size check alone catches it


def test_save_rejects_non_json_meta_without_touching_files(tmp_path: Path) -> None:
    idx, _, _ = filled(20)
    with pytest.raises(TypeError):
        idx.save(tmp_path, {"bad": object()})
    assert not any(tmp_path.iterdir())


# ------------------------------------------------------------------------------------------------ concurrency


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_concurrent_searches_during_writes(kind: Kind) -> None:
    """Searchers run while a writer upserts, updates, removes and triggers compactions; anchors never change."""
    d = 16
    anchors = clustered(50, d, seed=1)
    churn = clustered(400, d, seed=2)
    churn_ids = list(range(1000, 1400))
    idx = VectorIndex(d, kind=kind, compact_share=0.2)
    idx.upsert(list(range(50)), anchors, [attrs_for(i) for i in range(50)])
    idx.upsert(churn_ids, churn, [attrs_for(i) for i in range(400)])  # every filter below matches >= 10 from now on
    stop = threading.Event()
    errors: list[BaseException] = []
    searches = [0]

    def searcher(seed: int) -> None:
        rng = np.random.default_rng(seed)
        set_faiss_threads(1)  # OpenMP settings are per thread: each server thread must set its own
        try:
            while not stop.is_set():
                j = int(rng.integers(0, 50))
                flt = Filter(regions=(attrs_for(j).region,)) if rng.random() < 0.5 else None
                hits = idx.search(anchors[j], 10, flt)[0]
                assert hits[0][0] == j
                assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
                assert len(hits) == 10
                assert len({i for i, _ in hits}) == 10  # no duplicates (no stale tombstones)
                assert all(a[1] >= b[1] for a, b in zip(hits, hits[1:], strict=False))
                searches[0] += 1
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=searcher, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    try:
        for round_ in range(4):
            idx.remove(churn_ids[round_ * 50 : round_ * 50 + 120])
            idx.upsert(churn_ids[:60], np.roll(churn[:60], round_ + 1, axis=0), [attrs_for(i) for i in range(60)])
            idx.upsert(churn_ids, churn, [attrs_for(i) for i in range(400)])  # all updates or re-adds
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[0]
    assert searches[0] > 0
    assert idx.tombstone_share <= 0.2


def test_read_write_lock_writer_waits_for_readers_and_blocks_new_ones() -> None:
    lock = ReadWriteLock()
    events: list[str] = []

    def write() -> None:
        with lock.write():
            events.append("write")

    def late_read() -> None:
        with lock.read():
            events.append("late read")

    with lock.read():
        writer = threading.Thread(target=write)
        writer.start()
        writer.join(timeout=0.2)
        assert writer.is_alive()  # waits for the reader
        reader = threading.Thread(target=late_read)
        reader.start()
        reader.join(timeout=0.2)
        assert reader.is_alive()  # a queued writer holds back new readers (no writer starvation)
        assert events == []
    writer.join(timeout=5)
    reader.join(timeout=5)
    assert events == ["write", "late read"]
