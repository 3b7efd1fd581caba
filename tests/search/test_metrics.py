"""Ranking metrics, checked against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest

from matchmaker.search.metrics import (
    Summary,
    constraint_first_ok,
    dcg,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
    summarise,
)

GRADES = {"a": 3, "b": 2, "c": 0, "d": 1}


def test_dcg() -> None:
    assert dcg([]) == 0.0
    # 3/log2(2) + 1/log2(3) + 7/log2(4) = 3 + 0.63093 + 3.5
    assert dcg([3, 1, 7]) == pytest.approx(3 + 1 / math.log2(3) + 3.5)


def test_ndcg_of_the_ideal_ranking_is_one() -> None:
    assert ndcg_at_k(["a", "b", "d", "c"], GRADES, k=10) == pytest.approx(1.0)
    assert ndcg_at_k(["a", "b"], GRADES, k=2) == pytest.approx(1.0)


def test_ndcg_hand_computed_example() -> None:
    # ranked c, a, d (x unjudged, cut off by k = 3); gains 2^g - 1 = 0, 7, 1
    # DCG  = 0/log2(2) + 7/log2(3) + 1/log2(4) = 4.41651 + 0.5          = 4.91651
    # IDCG = grades 3, 2, 1 -> 7/1 + 3/log2(3) + 1/log2(4) = 7 + 1.89279 + 0.5 = 9.39279
    # nDCG@3 = 4.91651 / 9.39279 = 0.52343
    assert ndcg_at_k(["c", "a", "d", "x"], GRADES, k=3) == pytest.approx(0.5234343, abs=1e-6)
    # k = 2: (7/log2(3)) / (7 + 3/log2(3)) = 4.41651 / 8.89279 = 0.49664
    assert ndcg_at_k(["c", "a", "d", "x"], GRADES, k=2) == pytest.approx(0.4966393, abs=1e-6)


def test_ndcg_ideal_counts_relevant_candidates_that_were_not_returned() -> None:
    # only "a" returned: 7 / 9.39279
    assert ndcg_at_k(["a"], GRADES, k=3) == pytest.approx(7 / (7 + 3 / math.log2(3) + 0.5))


def test_ndcg_counts_a_repeated_id_once() -> None:
    assert ndcg_at_k(["b", "b", "b"], {"b": 2, "a": 3}, k=3) == pytest.approx(3 / (7 + 3 / math.log2(3)))


def test_ndcg_without_positive_grades_is_nan() -> None:
    assert math.isnan(ndcg_at_k(["a"], {"a": 0}, k=10))
    assert math.isnan(ndcg_at_k(["a"], {}, k=10))
    assert ndcg_at_k([], GRADES, k=10) == 0.0
    with pytest.raises(ValueError, match="positive"):
        ndcg_at_k(["a"], GRADES, k=0)


def test_recall_at_k() -> None:
    # relevant (grade >= 2): a, b
    assert recall_at_k(["c", "a", "x"], GRADES, k=10) == 0.5
    assert recall_at_k(["c", "d", "x", "a"], GRADES, k=3) == 0.0
    assert recall_at_k(["b", "a"], GRADES, k=2) == 1.0
    assert recall_at_k(["d"], GRADES, k=10, min_grade=1) == pytest.approx(1 / 3)
    assert math.isnan(recall_at_k(["a"], {"a": 1}, k=10))


def test_reciprocal_rank() -> None:
    assert reciprocal_rank(["a", "b"], GRADES) == 1.0
    assert reciprocal_rank(["c", "d", "b"], GRADES) == pytest.approx(1 / 3)
    assert reciprocal_rank(["c", "d", "b"], GRADES, min_grade=1) == pytest.approx(1 / 2)
    assert reciprocal_rank(["c", "x"], GRADES) == 0.0
    assert math.isnan(reciprocal_rank(["c"], {"c": 0}))


def test_constraint_first_ok() -> None:
    grades = {"ok_rel": 3, "bad_rel": 3, "ok_irrel": 0}
    # a satisfying relevant candidate exists (even if not returned): a violator first fails, a compliant one passes
    assert constraint_first_ok([("bad_rel", True), ("ok_rel", False)], grades, satisfying={"ok_rel"}) == 0.0
    assert constraint_first_ok([("ok_irrel", False), ("bad_rel", True)], grades, satisfying={"ok_rel"}) == 1.0
    assert constraint_first_ok([("bad_rel", True)], grades, satisfying={"ok_rel", "ok_irrel"}) == 0.0
    # returned results flagged as compliant count as satisfying
    assert constraint_first_ok([("bad_rel", True), ("ok_rel", False)], grades, satisfying=()) == 0.0
    # no satisfying candidate is relevant: the query says nothing about the rule
    assert constraint_first_ok([("bad_rel", True)], grades, satisfying={"ok_irrel"}) is None
    assert constraint_first_ok([("ok_rel", False)], grades, satisfying={"ok_rel"}, min_grade=4) is None
    # nothing returned puts no violator first
    assert constraint_first_ok([], grades, satisfying={"ok_rel"}) == 1.0


def test_summarise_skips_undefined_values_overall_and_per_slice() -> None:
    per_query: list[dict[str, float | None]] = [
        {"ndcg": 1.0, "recall": 0.5, "first_ok": 1.0},
        {"ndcg": 0.5, "recall": math.nan, "first_ok": None},
        {"ndcg": 0.0, "recall": 1.0, "first_ok": 0.0},
        {"ndcg": math.nan, "recall": math.nan},
    ]
    out = summarise(per_query, {"hant": [1, 3], "hans": [0, 2], "empty": []})
    assert list(out) == ["ndcg", "recall", "first_ok"]
    assert out["ndcg"].n == 3
    assert out["ndcg"].mean == pytest.approx(0.5)
    assert out["recall"] == Summary(n=2, mean=0.75, slices=out["recall"].slices)
    assert out["first_ok"].n == 2
    assert out["first_ok"].mean == 0.5
    assert out["ndcg"].slices["hant"] == Summary(n=1, mean=0.5)
    assert out["ndcg"].slices["hans"] == Summary(n=2, mean=0.5)
    assert out["recall"].slices["hant"].n == 0
    assert math.isnan(out["recall"].slices["hant"].mean)
    assert out["ndcg"].slices["empty"].n == 0
    assert summarise([], {}) == {}
    assert summarise(per_query)["ndcg"].slices == {}
