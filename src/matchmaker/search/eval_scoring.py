"""Scoring one evaluation: each need's metrics (:func:`score_need`), the judged pairings the confidence bands are
calibrated on (:func:`judged_scores`) and the plain-text table of reports (:func:`format_table`).

The metric definitions are in :mod:`matchmaker.search.evaluation`'s docstring; this module is pure (no web framework,
no ORM) like the rest of the matching core.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from matchmaker.search.eval_data import Split
from matchmaker.search.metrics import constraint_first_ok, ndcg_at_k, recall_at_k, reciprocal_rank
from matchmaker.search.ranking import NeedFacts, OfferFacts, hard_violations

if TYPE_CHECKING:
    from matchmaker.search.evaluation import Report

K = 10
METRICS = ("ndcg@10", "recall@10", "mrr", "constraint_accuracy")
RELEVANT_GRADE = 2


@dataclass(frozen=True)
class NeedResult:
    """One need's ranking (achievement external ids, best first) and its metric values (nan/None: undefined)."""

    need_id: str
    ranking: tuple[str, ...]
    violators: tuple[bool, ...]  # ranking[i] breaks a hard constraint of the need
    metrics: dict[str, float | None]
    scores: tuple[float, ...] = ()  # the shown score of ranking[i] (full configurations)
    bands: tuple[str, ...] = ()  # the confidence band of ranking[i] (full configurations)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (undefined metrics become null)."""
        return {
            "need": self.need_id,
            "ranking": list(self.ranking),
            "violators": [r for r, v in zip(self.ranking, self.violators, strict=True) if v],
            "scores": [round(x, 4) for x in self.scores],
            "bands": list(self.bands),
            "metrics": {k: finite_or_none(v) for k, v in self.metrics.items()},
        }


def finite_or_none(value: float | None) -> float | None:
    """A metric value for JSON: rounded, or None when undefined (nan)."""
    return None if value is None or math.isnan(value) else round(float(value), 6)


def violates(need: NeedFacts, offer: OfferFacts) -> bool:
    """Whether an achievement breaks a hard constraint the need stated: ``trl < min_trl`` or no preferred mode offered.

    An unknown trl or an achievement stating no mode does not count as a violation (it cannot be checked); the
    deadline is not an achievement property.
    """
    return bool(hard_violations(need, offer, None))


def score_need(split: Split, index: int, ranking: Sequence[str], k: int = K) -> NeedResult:
    """Metric values of one need's ranking (achievement external ids, best first)."""
    need_id = split.need_ids[index]
    need = split.needs[index].facts
    assert isinstance(need, NeedFacts)
    grades = split.qrels[need_id]
    flags = tuple(violates(need, split.offers[a]) for a in ranking)
    constraint: float | None = None
    if need.min_trl is not None or need.preferred_modes:
        satisfying = [a for a, offer in split.offers.items() if not violates(need, offer)]
        constraint = constraint_first_ok(
            list(zip(ranking, flags, strict=True)), grades, satisfying, min_grade=RELEVANT_GRADE
        )
    metrics: dict[str, float | None] = {
        "ndcg@10": ndcg_at_k(ranking, grades, k),
        "recall@10": recall_at_k(ranking, grades, k, min_grade=RELEVANT_GRADE),
        "mrr": reciprocal_rank(ranking[:k], grades, min_grade=RELEVANT_GRADE),
        "constraint_accuracy": constraint,
    }
    return NeedResult(need_id=need_id, ranking=tuple(ranking), violators=flags, metrics=metrics)


TABLE_SLICES = ("zh-en", "en-zh", "hans-hant", "constraint", "jargon", "symptom", "hard-negative")


def format_table(reports: Sequence[Report], slices: Sequence[str] = TABLE_SLICES) -> str:
    """A plain-text table: one row per configuration; overall metrics, then nDCG@10 per slice (n in the header)."""
    if not reports:
        return ""
    first = reports[0].summary
    headers = ["configuration", "nDCG@10", "R@10", "MRR", "constr.acc"]
    counts = [first["ndcg@10"].n, first["recall@10"].n, first["mrr"].n, first["constraint_accuracy"].n]
    headers = [headers[0], *(f"{h} (n={n})" for h, n in zip(headers[1:], counts, strict=True))]
    shown = [s for s in slices if s in first["ndcg@10"].slices]
    headers += [f"{s} (n={first['ndcg@10'].slices[s].n})" for s in shown]
    rows = []
    for r in reports:
        cells = [r.config.label, *(_cell(r.mean(m)) for m in METRICS), *(_cell(r.mean("ndcg@10", s)) for s in shown)]
        rows.append(cells)
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    lines = [
        "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths, strict=True)))
    ]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append(
            "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        )
    return "\n".join(lines)


def _cell(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.3f}"


def judged_scores(split: Split, report: Report) -> list[tuple[float, bool]]:
    """Every shown pairing of a full configuration's report as ``(score, relevant)`` (grade ≥ 2): what the
    confidence bands are calibrated on (:func:`matchmaker.search.bands.calibrate`) and scored by."""
    out: list[tuple[float, bool]] = []
    for need in report.needs:
        grades = split.qrels[need.need_id]
        out.extend(
            (score, grades.get(a, 0) >= RELEVANT_GRADE) for a, score in zip(need.ranking, need.scores, strict=False)
        )
    return out
