"""Confidence bands of a ranked pairing: 强 (strong), 可能 (possible), 弱 (weak), from calibrated score thresholds.

A score is a sum of weighted evidence, not a probability; a manager needs to know which pairings are worth a call.
The thresholds are chosen on the development evaluation set (:func:`calibrate`): every need's top-10 pairings under
the shipped configuration are labelled relevant (grade ≥ 2) or not, and

* ``strong`` is the lowest score above which at least :data:`STRONG_PRECISION` of the pairings are relevant;
* ``possible`` is the lowest score above which at least :data:`POSSIBLE_PRECISION` of the pairings (among those
  below ``strong``) are relevant.

Below ``possible`` a pairing is 弱 (weak: same area at best). A need none of whose pairings reaches 可能 has
"暂无合适成果"
(an achievement with no need in reach: "暂无合适需求"). The precision each band reached on a split is reported with
:func:`band_precision` (benchmarks/quality.py, ``matchmaker eval``).

Pure module: no web framework, no ORM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

STRONG, POSSIBLE, WEAK = "强", "可能", "弱"
BANDS = (STRONG, POSSIBLE, WEAK)
BAND_NAMES_EN = {STRONG: "strong", POSSIBLE: "possible", WEAK: "weak"}
STRONG_PRECISION = 0.8
POSSIBLE_PRECISION = 0.3
NO_GOOD_ACHIEVEMENT = "暂无合适成果"
NO_GOOD_DEMAND = "暂无合适需求"


@dataclass(frozen=True)
class Bands:
    """Score thresholds of the bands (``strong`` ≥ ``possible``)."""

    strong: float
    possible: float

    def __post_init__(self) -> None:
        if self.strong < self.possible:
            raise ValueError("the strong threshold must not be below the possible one")

    def of(self, score: float) -> str:
        """The band of a score."""
        if score >= self.strong:
            return STRONG
        if score >= self.possible:
            return POSSIBLE
        return WEAK

    def as_dict(self) -> dict[str, float]:
        """JSON-ready form."""
        return {"strong": self.strong, "possible": self.possible}


DEFAULT_BANDS = Bands(strong=0.7792, possible=0.6907)
"""Calibrated on the dev split for the shipped configuration (USE + t2s, default weights, starter thesaurus) with
``python benchmarks/quality.py --split dev --calibrate``; README (Matching quality) lists the precision per band."""


def is_good(band: str) -> bool:
    """Whether a pairing's band is worth a manager's call (强 or 可能)."""
    return band in (STRONG, POSSIBLE)


def _lowest_threshold(pairs: Sequence[tuple[float, bool]], precision: float, min_count: int) -> float | None:
    """The lowest score s such that the pairings scoring ≥ s reach ``precision`` (at least ``min_count`` of them)."""
    ordered = sorted(pairs, key=lambda p: -p[0])
    best: float | None = None
    hits = 0
    for n, (score, relevant) in enumerate(ordered, start=1):
        hits += relevant
        next_score = ordered[n][0] if n < len(ordered) else None
        if next_score is not None and next_score == score:
            continue  # a threshold cannot split equal scores
        if n >= min_count and hits / n >= precision:
            best = score
    return best


def calibrate(
    pairs: Sequence[tuple[float, bool]],
    *,
    strong_precision: float = STRONG_PRECISION,
    possible_precision: float = POSSIBLE_PRECISION,
    min_count: int = 5,
) -> Bands:
    """Thresholds from judged pairings ``(score, relevant)``; see the module docstring.

    ``possible`` is computed on the pairings below ``strong`` (its band's own precision, not the cumulative one).
    Raises ValueError when no threshold reaches the strong precision.
    """
    strong = _lowest_threshold(pairs, strong_precision, min_count)
    if strong is None:
        raise ValueError(f"no score threshold reaches precision {strong_precision} on these pairings")
    below = [p for p in pairs if p[0] < strong]
    possible = _lowest_threshold(below, possible_precision, min_count)
    return Bands(strong=round(strong, 4), possible=round(possible if possible is not None else strong, 4))


def band_precision(pairs: Sequence[tuple[float, bool]], bands: Bands) -> dict[str, dict[str, float | int]]:
    """Per band: how many judged pairings fell in it and the share of them that is relevant."""
    out: dict[str, dict[str, float | int]] = {}
    for band in BANDS:
        inside = [relevant for score, relevant in pairs if bands.of(score) == band]
        out[band] = {"n": len(inside), "precision": round(sum(inside) / len(inside), 4) if inside else float("nan")}
    return out
