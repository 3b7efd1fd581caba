"""Ranking-quality metrics for the evaluation set: nDCG@k, recall@k, reciprocal rank, a constraint check, summaries.

Conventions
-----------
* A query's judgements are ``grades: Mapping[str, int]``, candidate id → graded relevance (0 = not relevant, higher
  = more relevant; the development set uses 0–3). Returned ids missing from ``grades`` are *unjudged* and count as
  grade 0. Grades below 0 count as 0 too.
* ``ranked_ids`` is the system's answer, best first; ranks are 1-based. An id repeated in it counts only at its first
  position, so a duplicate can never earn gain twice.
* A metric that is undefined for a query (nothing relevant was judged, so every ranking is equally good) returns
  ``nan`` (``None`` for :func:`constraint_first_ok`); :func:`summarise` leaves such queries out of the means instead
  of counting them as 0 or 1.

Written with numpy rather than taken from scikit-learn: ``sklearn.metrics.ndcg_score`` uses linear gains and builds the
ideal ranking only from the items it was given, whereas here the ideal comes from every judged candidate, including
relevant ones the system failed to return (otherwise missing a relevant item would not cost anything).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Summary",
    "constraint_first_ok",
    "dcg",
    "ndcg_at_k",
    "recall_at_k",
    "reciprocal_rank",
    "summarise",
]


def dcg(gains: Sequence[float]) -> float:
    r"""Discounted cumulative gain of gains listed in rank order.

    .. math:: \mathrm{DCG} = \sum_{r=1}^{n} \frac{\mathrm{gain}_r}{\log_2(r + 1)}

    so rank 1 is undiscounted, rank 2 is divided by log2(3) ≈ 1.585, rank 3 by 2. An empty list has DCG 0.
    """
    g = np.asarray(gains, dtype=np.float64)
    if g.size == 0:
        return 0.0
    return float(np.sum(g / np.log2(np.arange(2, g.size + 2))))


def _gain(grade: int) -> float:
    """Exponential gain ``2^g − 1``: grade 3 (7) is worth more than two grade-2 results (3 each)."""
    return float(2 ** max(grade, 0) - 1)


def _first_occurrences(ranked_ids: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(ranked_ids))


def _relevant(grades: Mapping[str, int], min_grade: int) -> set[str]:
    return {i for i, g in grades.items() if g >= min_grade}


def ndcg_at_k(ranked_ids: Sequence[str], grades: Mapping[str, int], k: int = 10) -> float:
    r"""Normalised DCG of the top ``k`` results, with exponential gain.

    .. math::

        \mathrm{nDCG@k} = \frac{\mathrm{DCG@k}(\text{ranking})}{\mathrm{DCG@k}(\text{ideal})}, \qquad
        \mathrm{DCG@k} = \sum_{r=1}^{\min(k, n)} \frac{2^{g_r} - 1}{\log_2(r + 1)}

    where ``g_r`` is the grade of the result at rank ``r`` (0 if unjudged) and the ideal ranking lists *all* judged
    grades in descending order, whether or not the system returned those candidates. The value lies in [0, 1].

    Returns ``nan`` when no judged grade is positive (the ideal DCG is 0 and every ranking is equally good); the
    caller should skip the query rather than count it as 0 or 1, which :func:`summarise` does.
    """
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    ideal = sorted((g for g in grades.values() if g > 0), reverse=True)[:k]
    ideal_dcg = dcg([_gain(g) for g in ideal])
    if ideal_dcg == 0.0:
        return math.nan
    top = _first_occurrences(ranked_ids)[:k]
    return dcg([_gain(grades.get(i, 0)) for i in top]) / ideal_dcg


def recall_at_k(ranked_ids: Sequence[str], grades: Mapping[str, int], k: int = 10, min_grade: int = 2) -> float:
    r"""Share of the relevant candidates found in the top ``k``.

    .. math:: \mathrm{Recall@k} = \frac{|\{\text{top } k\} \cap R|}{|R|}, \qquad R = \{c : g_c \ge \text{min\_grade}\}

    ``R`` is taken from all judgements, so when ``|R| > k`` the best possible value is ``k / |R|``. Returns ``nan``
    when ``R`` is empty.
    """
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    relevant = _relevant(grades, min_grade)
    if not relevant:
        return math.nan
    found = relevant.intersection(_first_occurrences(ranked_ids)[:k])
    return len(found) / len(relevant)


def reciprocal_rank(ranked_ids: Sequence[str], grades: Mapping[str, int], min_grade: int = 2) -> float:
    r"""Reciprocal rank of the first relevant result (its mean over queries is MRR).

    .. math:: \mathrm{RR} = \frac{1}{r^*}, \qquad r^* = \min\{r : g_r \ge \text{min\_grade}\}

    over the whole ranked list (no cut-off). 0.0 when no relevant candidate was returned; ``nan`` when none was
    judged relevant at all.
    """
    if not _relevant(grades, min_grade):
        return math.nan
    for rank, candidate in enumerate(_first_occurrences(ranked_ids), start=1):
        if grades.get(candidate, 0) >= min_grade:
            return 1.0 / rank
    return 0.0


def constraint_first_ok(
    ranked: Sequence[tuple[str, bool]],
    grades: Mapping[str, int],
    satisfying: Collection[str],
    min_grade: int = 2,
) -> float | None:
    """Whether the top result respects the query's hard constraint when a compliant relevant candidate exists.

    Measures the rule "put no constraint violator first where a satisfying relevant achievement exists".

    Args:
        ranked: the system's results best first, as ``(id, violates_constraint)``.
        grades: the query's relevance judgements.
        satisfying: the ids, among all candidates (not only the returned ones), that satisfy the constraint.
            Returned results flagged as not violating count as satisfying too.
        min_grade: the grade from which a candidate counts as relevant.

    Returns:
        ``None`` when no satisfying candidate has ``grade >= min_grade`` (putting a violator first may then be the
        best available answer, so the query says nothing about the rule); otherwise 1.0 when the first result is not
        a violator and 0.0 when it is. An empty result list puts no violator first and scores 1.0 (recall and nDCG
        are what penalise it).
    """
    compliant = set(satisfying).union(i for i, violates in ranked if not violates)
    if not any(grades.get(i, 0) >= min_grade for i in compliant):
        return None
    if not ranked:
        return 1.0
    return 0.0 if ranked[0][1] else 1.0


@dataclass(frozen=True)
class Summary:
    """Mean of one metric over the queries where it is defined (not ``nan`` or ``None``), overall and per slice.

    ``n`` counts those queries; ``mean`` is ``nan`` when ``n == 0``. ``slices`` maps a slice name to the summary over
    that slice's queries (whose own ``slices`` is empty).
    """

    n: int
    mean: float
    slices: dict[str, Summary] = field(default_factory=dict)


def _mean_of_defined(values: Sequence[float | None]) -> tuple[int, float]:
    defined = np.array([v for v in values if v is not None], dtype=np.float64)
    defined = defined[~np.isnan(defined)]
    if defined.size == 0:
        return 0, math.nan
    return int(defined.size), float(defined.mean())


def summarise(
    per_query: Sequence[Mapping[str, float | None]],
    slices: Mapping[str, Sequence[int]] | None = None,
) -> dict[str, Summary]:
    """Mean of each metric overall and per slice, leaving out queries where the metric is ``nan``, ``None`` or absent.

    Args:
        per_query: one mapping per query, metric name → value (e.g. ``{"ndcg@10": 0.8, "recall@10": nan}``).
        slices: slice name → indices into ``per_query`` (e.g. ``{"zh-Hant": [3, 7], "constrained": [0, 3]}``);
            slices may overlap and need not cover every query.

    Returns:
        metric name → :class:`Summary`, metrics in the order they first appear in ``per_query``.
    """
    metrics = list(dict.fromkeys(name for row in per_query for name in row))
    out: dict[str, Summary] = {}
    for name in metrics:
        values = [row.get(name) for row in per_query]
        by_slice: dict[str, Summary] = {}
        for slice_name, indices in (slices or {}).items():
            by_slice[slice_name] = Summary(*_mean_of_defined([values[i] for i in indices]))
        n, mean = _mean_of_defined(values)
        out[name] = Summary(n=n, mean=mean, slices=by_slice)
    return out
