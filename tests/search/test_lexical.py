"""BM25 lexical index: ranking, script folding, updates, filters, concurrency."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from matchmaker.search import bm25
from matchmaker.search.lexical import LexicalIndex
from matchmaker.search.text import tokenize

DOCS = {
    1: "相变蓄冷材料用于冷链物流运输箱，蓄冷时间长达72小时",
    2: "锂离子电池正极材料的制备工艺，提高材料循环寿命",
    3: "发酵罐在线监测系统，实时检测染菌风险",
    4: "冷链物流车辆调度软件，降低运输成本",
    5: "高分子材料注塑成型工艺优化",
}


@pytest.fixture
def index() -> LexicalIndex:
    ix = LexicalIndex()
    ix.upsert(list(DOCS), list(DOCS.values()))
    return ix


def test_doc_sharing_rare_terms_ranks_first(index: LexicalIndex) -> None:
    hits = index.search(tokenize("相变蓄冷材料"), k=5)
    assert hits[0][0] == 1
    # 材料 is in three documents, so they all match, but below the one that also has 相变 and 蓄冷.
    assert {i for i, _ in hits} == {1, 2, 5}
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert all(s > 0 for _, s in hits)
    assert index.idf("蓄冷") > index.idf("材料")


def _lucene(*, n: int, avgdl: float, k1: float, b: float) -> tuple[Callable[[int], float], Callable[[int, int], float]]:
    """Lucene BM25's idf(df) and tf part tfc(tf, |d|) for a corpus of ``n`` documents of mean length ``avgdl``."""

    def idf(df: int) -> float:
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def tfc(tf: int, dl: int) -> float:
        return tf / (tf + k1 * (1 - b + b * dl / avgdl))

    return idf, tfc


def test_score_follows_the_lucene_bm25_formula() -> None:
    ix = LexicalIndex(k1=1.2, b=0.75)
    ix.upsert_tokens([10, 20, 30], [["a", "b", "a"], ["b", "c"], ["c"]])
    # N = 3, avgdl = 2; df(a) = 1, df(b) = 2. For doc 10 (|d| = 3, tf(a) = 2, tf(b) = 1):
    idf, tfc = _lucene(n=3, avgdl=2.0, k1=1.2, b=0.75)

    expected = idf(1) * tfc(2, 3) + idf(2) * tfc(1, 3)
    assert ix.scores(["a", "b"], [10])[0] == pytest.approx(expected, rel=1e-5)
    assert ix.idf("a") == pytest.approx(idf(1), rel=1e-6)
    assert ix.idf("unseen") == pytest.approx(idf(0))


def test_traditional_query_matches_simplified_doc(index: LexicalIndex) -> None:
    hits = index.search(tokenize("發酵罐線上監測"), k=3)
    assert hits[0][0] == 3


def test_upsert_replaces_a_record(index: LexicalIndex) -> None:
    index.upsert([3], ["量子点显示面板"])
    assert len(index) == 5
    assert index.search(tokenize("发酵罐"), k=5) == []
    assert index.search(tokenize("量子点"), k=5)[0][0] == 3
    assert index.tokens(3) == tokenize("量子点显示面板")


def test_remove(index: LexicalIndex) -> None:
    index.remove([1, 999])
    assert len(index) == 4
    assert index.tokens(1) is None
    assert 1 not in {i for i, _ in index.search(tokenize("相变蓄冷材料"), k=5)}
    index.remove([])  # a no-op, not an error


def test_allowed_restricts_the_search(index: LexicalIndex) -> None:
    query = tokenize("相变蓄冷材料")
    # doc 2 holds 材料 twice, doc 5 once
    assert [i for i, _ in index.search(query, k=5, allowed=np.array([2, 5, 4]))] == [2, 5]
    assert index.search(query, k=5, allowed=np.array([4])) == []  # allowed but no shared token
    assert index.search(query, k=5, allowed=np.array([], dtype=np.int64)) == []
    assert index.search(query, k=5, allowed=np.array([404])) == []
    with pytest.raises(TypeError):
        index.search(query, k=5, allowed=np.ones(5, dtype=bool))


def test_scores_for_given_ids(index: LexicalIndex) -> None:
    query = tokenize("冷链物流")
    scores = index.scores(query, [4, 404, 3, 1])
    assert scores.shape == (4,)
    assert scores[0] > 0
    assert scores[3] > 0
    assert scores[1] == 0
    assert scores[2] == 0
    by_search = dict(index.search(query, k=5))
    assert scores[0] == pytest.approx(by_search[4])
    assert index.scores(query, []).shape == (0,)


def test_k_caps_results_and_ties_break_by_id() -> None:
    ix = LexicalIndex()
    ix.upsert_tokens([7, 3, 5, 9], [["x", "y"], ["x", "y"], ["x", "y"], ["z", "w"]])
    assert [i for i, _ in ix.search(["x"], k=2)] == [3, 5]
    assert [i for i, _ in ix.search(["x"], k=10)] == [3, 5, 7]
    assert ix.search(["x"], k=0) == []


def test_numpy_id_arrays_are_accepted() -> None:
    ix = LexicalIndex()
    ix.upsert_tokens(np.array([4, 2]), [["x"], ["y"]])
    assert ix.scores(["x"], np.array([2, 4]))[1] > 0
    ix.remove(np.array([4]))
    assert ix.search(["x"], k=3) == []


def test_empty_index_and_empty_query_give_empty_results(index: LexicalIndex) -> None:
    empty = LexicalIndex()
    assert len(empty) == 0
    assert empty.search(["材料"], k=5) == []
    assert empty.scores(["材料"], [1, 2]).tolist() == [0.0, 0.0]
    assert empty.tokens(1) is None
    assert index.search([], k=5) == []
    assert index.search(["不存在的词"], k=5) == []
    assert index.scores([], [1]).tolist() == [0.0]
    # records without a single token (all stop words) are indexed but never match
    only_empty = LexicalIndex()
    only_empty.upsert([1], ["的 了 和"])
    assert len(only_empty) == 1
    assert only_empty.tokens(1) == []
    assert only_empty.search(["的"], k=5) == []


def test_mismatched_lengths_are_rejected(index: LexicalIndex) -> None:
    with pytest.raises(ValueError, match="2 ids but 1"):
        index.upsert([1, 2], ["x"])


def test_searches_run_while_another_thread_upserts() -> None:
    ix = LexicalIndex()
    ix.upsert_tokens(list(range(200)), [["base", f"t{i}"] for i in range(200)])
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                hits = ix.search(["base", "new"], k=5)
                assert len(hits) == 5
                assert all(s > 0 for _, s in hits)
                assert ix.scores(["base"], [0, 1]).shape == (2,)
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)

    readers = [threading.Thread(target=reader) for _ in range(4)]
    for t in readers:
        t.start()
    for batch in range(20):
        ids = list(range(1000 + batch * 10, 1010 + batch * 10))
        ix.upsert_tokens(ids, [["new", "base"] for _ in ids])
        ix.remove([batch])
    stop.set()
    for t in readers:
        t.join(timeout=30)
    assert not errors, errors
    assert len(ix) == 200 - 20 + 200
    # after the writes, a read sees all of them
    assert len(ix.search(["new"], k=1000)) == 200


def test_search_and_scores_agree_exactly_with_repeated_query_tokens(index: LexicalIndex) -> None:
    query = tokenize("冷链物流 冷链 材料 材料 材料")
    hits = index.search(query, k=5)
    assert [s for _, s in hits] == index.scores(query, [i for i, _ in hits]).tolist()


def _blocked_builds(monkeypatch: pytest.MonkeyPatch, ix: LexicalIndex) -> tuple[threading.Event, threading.Event]:
    """Make the index's builds wait: returns (a build has started, let builds go on)."""
    release = threading.Event()
    building = threading.Event()
    build = ix._build

    def slow_build(*args: object) -> object:
        building.set()
        assert release.wait(10)
        return build(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(ix, "_build", slow_build)
    return building, release


def _fresh(ix: LexicalIndex) -> LexicalIndex:
    """An index built at once from the same records (exact statistics)."""
    other = LexicalIndex()
    ids = sorted(ix._docs)
    other.upsert_tokens(ids, [ix._docs[i] for i in ids])
    return other


def test_writes_are_seen_at_once_through_the_overlay_while_a_merge_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    ix = LexicalIndex(merge_pending=2, merge_rest=0)
    ix.upsert_tokens(list(range(40)), [["base", f"t{i}"] for i in range(40)])
    assert len(ix.search(["base"], k=100)) == 40  # the first build after a bulk load is waited for
    building, release = _blocked_builds(monkeypatch, ix)
    ix.upsert_tokens([100], [["fresh", "base"]])
    ix.remove([0])
    ix.upsert_tokens([1], [["renamed"]])
    # two pending writes start a merge, which is blocked; reads do not wait for it and see every write
    assert [i for i, _ in ix.search(["fresh"], k=5)] == [100]
    assert building.wait(10)
    assert ix.search(["t0"], k=5) == []
    assert ix.search(["t1"], k=5) == []
    assert [i for i, _ in ix.search(["renamed"], k=5)] == [1]
    hits = ix.search(["base"], k=100)
    assert len(hits) == 39
    assert {0, 1}.isdisjoint(i for i, _ in hits)
    assert 100 in dict(hits)
    assert [s for _, s in hits] == ix.scores(["base"], [i for i, _ in hits]).tolist()
    assert ix.stats()["pending"] == 3
    release.set()
    ix.refresh()  # waits for the merge and folds in any writes after it
    assert ix.stats()["pending"] == 0
    exact = _fresh(ix)
    for query in (["base"], ["fresh", "base"], ["renamed", "t5"]):
        assert ix.search(query, k=100) == exact.search(query, k=100)


def test_overlay_records_are_scored_with_the_snapshot_statistics() -> None:
    ix = LexicalIndex(k1=1.2, b=0.75)
    ix.upsert_tokens([10, 20, 30], [["a", "b", "a"], ["b", "c"], ["c"]])
    ix.refresh()
    ix.upsert_tokens([40], [["a", "d", "d", "e"]])
    # frozen: N = 3, avgdl = 2, df(a) = 1; d is unseen (df = 0)
    idf, tfc = _lucene(n=3, avgdl=2.0, k1=1.2, b=0.75)

    expected = idf(1) * tfc(1, 4) + idf(0) * tfc(2, 4)
    assert ix.scores(["a", "d"], [40])[0] == pytest.approx(expected, rel=1e-6)
    assert ix.search(["d"], k=5) == [(40, pytest.approx(idf(0) * tfc(2, 4), rel=1e-6))]
    # search and scores agree exactly across snapshot and overlay records, repeated query tokens included
    query = ["a", "a", "d", "c"]
    hits = ix.search(query, k=5)
    assert {i for i, _ in hits} == {10, 20, 30, 40}
    assert [s for _, s in hits] == ix.scores(query, [i for i, _ in hits]).tolist()
    assert ix.idf("d") == pytest.approx(idf(0))


def test_allowed_applies_to_overlay_records(index: LexicalIndex) -> None:
    index.upsert([6], ["相变蓄冷冷链箱"])
    query = tokenize("相变蓄冷")
    assert {i for i, _ in index.search(query, k=5)} == {1, 6}
    assert [i for i, _ in index.search(query, k=5, allowed=[6, 404])] == [6]
    assert [i for i, _ in index.search(query, k=5, allowed=np.array([1]))] == [1]


def test_a_merge_starts_after_merge_pending_writes_or_merge_age_s(monkeypatch: pytest.MonkeyPatch) -> None:
    ix = LexicalIndex(merge_pending=3, merge_age_s=3600, merge_rest=0)
    ix.upsert_tokens(list(range(20)), [["base", f"t{i}"] for i in range(20)])
    ix.search(["base"], k=1)
    for i in (100, 101):
        ix.upsert_tokens([i], [["new"]])
        ix.search(["new"], k=1)
    assert ix._rebuilder is None
    assert ix.stats()["pending"] == 2
    ix.upsert_tokens([102], [["new"]])
    ix.search(["new"], k=1)  # the third pending write: the read starts a merge
    assert ix._rebuilder is not None
    ix._rebuilder.join(10)
    assert ix.stats() | {"vocabulary": 0, "postings": 0, "matrix_bytes": 0} == {
        "documents": 23,
        "vocabulary": 0,
        "postings": 0,
        "matrix_bytes": 0,
        "pending": 0,
        "overlay": 0,
    }
    # one old write is enough once it is merge_age_s old
    ix.upsert_tokens([103], [["new"]])
    clock = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: clock + 3601)
    ix.search(["new"], k=1)
    ix._rebuilder.join(10)
    assert ix.stats()["pending"] == 0
    assert ix.stats()["documents"] == 24


def test_a_bulk_batch_drops_the_overlay_and_a_large_index_answers_from_its_snapshot_until_rebuilt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ix = LexicalIndex(overlay_max=3, sync_rebuild_max=10)
    ix.upsert_tokens(list(range(40)), [["base", f"t{i}"] for i in range(40)])
    assert len(ix.search(["base"], k=100)) == 40
    building, release = _blocked_builds(monkeypatch, ix)
    ix.upsert_tokens(list(range(100, 104)), [["fresh", "base"]] * 4)  # past overlay_max
    ix.remove([0])
    assert ix.stats()["overlay"] == -1
    # the read does not wait for the rebuild: the snapshot answers as built (0 is still there, 100-103 not yet)
    assert ix.search(["fresh"], k=5) == []
    assert 0 in {i for i, _ in ix.search(["t0"], k=5)}
    assert building.wait(10)
    release.set()
    ix.refresh()
    assert [i for i, _ in ix.search(["fresh"], k=5)] == [100, 101, 102, 103]
    assert ix.search(["t0"], k=5) == []
    assert ix.stats()["overlay"] == 0


def test_a_small_index_waits_for_the_rebuild_when_the_overlay_is_dropped() -> None:
    ix = LexicalIndex(overlay_max=2)
    ix.upsert_tokens(list(range(10)), [["base"]] * 10)
    ix.search(["base"], k=1)
    ix.upsert_tokens([20, 21, 22], [["fresh"]] * 3)
    assert ix.stats()["overlay"] == -1
    assert [i for i, _ in ix.search(["fresh"], k=5)] == [20, 21, 22]
    assert ix.stats()["pending"] == 0


def test_rewriting_the_same_tokens_costs_no_rebuild(index: LexicalIndex) -> None:
    index.search(["材料"], k=5)
    version = index._version
    index.upsert([1, 2], [DOCS[1], DOCS[2]])
    assert index._version == version
    assert 1 in index
    assert 99 not in index
    index.upsert([1], ["全新的文本"])
    assert index._version == version + 1


def test_search_scoring_gives_search_and_scores_from_one_pass(index: LexicalIndex) -> None:
    index.upsert([6], ["冷链物流相变蓄冷箱"])  # in the overlay
    index.upsert([4], ["冷链物流车辆调度软件与相变材料"])  # changed: the snapshot's copy is stale
    query = tokenize("冷链物流 相变 材料 材料")
    ids = [6, 404, 3, 4, 1, 5]
    hits, scores = index.search_scoring(query, 3, ids)
    assert hits == index.search(query, 3)
    assert scores.tolist() == index.scores(query, ids).tolist()
    assert scores[1] == 0
    assert scores[0] > 0
    assert scores[3] > 0
    index.refresh()
    hits, scores = index.search_scoring(query, 3, ids)
    assert hits == index.search(query, 3)
    assert scores.tolist() == index.scores(query, ids).tolist()
    assert index.search_scoring(query, 0, [1])[1].tolist() == index.scores(query, [1]).tolist()
    assert index.search_scoring(["不存在的词"], 3, [1, 2]) == ([], pytest.approx(np.zeros(2)))


def test_merges_rest_between_them_unless_the_overlay_fills_up() -> None:
    ix = LexicalIndex(merge_pending=2, overlay_max=10)
    ix.upsert_tokens(list(range(20)), [["base"]] * 20)
    ix.search(["base"], k=1)
    ix._merged_at, ix._merge_s = time.monotonic(), 3600.0  # as if the last merge had just taken an hour
    ix.upsert_tokens([100, 101, 102], [["new"]] * 3)
    ix.search(["new"], k=1)
    assert ix._rebuilder is None  # past merge_pending, but resting
    assert ix.stats()["pending"] == 3
    ix.upsert_tokens([103, 104], [["new"]] * 2)  # half of overlay_max: merge now, rest or not
    assert len(ix.search(["new"], k=10)) == 5
    assert ix._rebuilder is not None
    ix._rebuilder.join(10)
    assert ix.stats()["pending"] == 0


def test_a_snapshot_reuses_the_columns_of_a_query_it_has_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bm25, "COLUMN_CACHE_SIZE", 2)
    ix = LexicalIndex()
    ix.upsert(list(DOCS), list(DOCS.values()))
    queries = [tokenize(q) for q in ("相变蓄冷材料", "冷链物流 运输", "发酵罐 染菌", "材料 材料 工艺")]
    fresh = [ix.search(q, 3) for q in queries]
    snapshot = ix._view[0]
    first = snapshot.columns(queries[3])
    assert snapshot.columns(list(queries[3])) is first  # the same tokens: looked up once
    assert not first[0].flags.writeable  # shared by later queries, so nobody may change it
    assert len(snapshot._column_cache) <= 2  # bounded: it starts over when full
    assert [ix.search(q, 3) for q in queries] == fresh  # cached or not, the same answers
    ix.upsert([9], ["相变蓄冷 冷链"])
    ix.refresh()  # a new snapshot (a new vocabulary) starts with no cached columns
    assert ix._view[0] is not snapshot
    assert ix._view[0]._column_cache == {}
    assert ix.search(queries[0], 3)[0][0] in (1, 9)
