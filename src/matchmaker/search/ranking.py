"""Ranking stage: score components, hard-constraint policy and explanations for need–achievement pairings.

A pairing is always seen from the need's side (the enterprise states the constraints), whichever list the query came
from. The score is a weighted sum of components that each lie in [0, 1]:

    total = Σ_c w_c · x_c − penalty · (number of violated hard constraints)        (policy "flag")

* semantic  — cosine similarity of the two embeddings (the dense model's judgement of "does this address that");
* lexical   — BM25 score of the candidate for the query, divided by the best BM25 score among this query's
              candidates (so it says "how much of the strongest word evidence this candidate has");
* chain     — 1 when both are in the same industrial chain (其他 never counts as the same chain);
* trl       — 1 when trl ≥ min_trl; without a requirement, trl/9 (maturer is slightly preferred); 0 when unknown;
* mode      — 1 when an offered transfer mode is one the need prefers; 0.5 when either side states none;
* price     — 1 when price ≤ budget, 0.5 up to 1.5 × budget, 0 beyond; 0.5 when either is unknown;
* region    — 1 for an achievement from Beijing or Hebei meeting a Tianjin need (the centre's yearly target),
              0.5 for the same region, 0 otherwise;
* freshness — 1 for a record changed today, decaying linearly to 0 over two years;
* concept   — the strongest link of the managers' thesaurus between the need and the achievement
              (:mod:`matchmaker.search.concepts`: 症状→技术 and 同义词 1, 上下位 0.5);
* opposite  — −1 when the achievement's headline states the opposite of what the need describes (a cooling plate for
              a battery that must be warmed) and no thesaurus link joins them, else 0.

Hard constraints (min_trl, preferred_modes, a passed deadline; decided once by
:func:`~matchmaker.search.constraints.hard_violations`) follow the per-request policy: "strict" drops violators;
"flag" keeps them, marks the violation and subtracts `penalty` per violation. The penalty is larger than the spread
of relevance between candidates a manager would call comparable, so a violator lands below every satisfying
candidate of comparable relevance while a far better violator can still appear (marked).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from operator import mul
from typing import Any, Literal, NamedTuple

from matchmaker.search.constraints import Check, NeedFacts, OfferFacts, check_constraints, hard_violations
from matchmaker.search.shared_terms import QueryTerms, select_shared_terms

# The facts, the checks and the shared terms have their own modules; they stay importable from here, where a
# pairing's score is put together from them.
__all__ = [
    "COMPONENTS",
    "INBOUND_REGIONS",
    "TARGET_REGION",
    "Candidate",
    "Check",
    "ConstraintPolicy",
    "NeedFacts",
    "OfferFacts",
    "QueryTerms",
    "Ranked",
    "Weights",
    "age_in_days",
    "check_constraints",
    "hard_violations",
    "rank",
    "score_candidate",
    "select_shared_terms",
]

ConstraintPolicy = Literal["flag", "strict"]
INBOUND_REGIONS = frozenset({"北京", "河北"})
TARGET_REGION = "天津"


@dataclass(frozen=True)
class Weights:
    """Weights of the score components and the penalty per violated hard constraint (see module docstring)."""

    semantic: float = 1.0
    lexical: float = 0.1
    chain: float = 0.1
    trl: float = 0.04
    mode: float = 0.03
    price: float = 0.03
    region: float = 0.03
    freshness: float = 0.01
    concept: float = 0.15
    opposite: float = 0.2
    penalty: float = 0.1
    first_margin: float = 1.0  # rank 1 satisfies every hard constraint whenever a candidate does (≈ always)

    def as_dict(self) -> dict[str, float]:
        """The weights by name."""
        return {k: float(v) for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, values: dict[str, float]) -> Weights:
        """Weights from a mapping; unknown names raise ValueError."""
        unknown = set(values) - set(cls().__dict__)
        if unknown:
            raise ValueError(f"unknown ranking weight(s): {', '.join(sorted(unknown))}")
        return replace(cls(), **{k: float(v) for k, v in values.items()})


class Candidate(NamedTuple):
    """One pairing to score: the candidate's id, its retrieval evidence and both sides' facts.

    A named tuple rather than a frozen dataclass: a query builds one per candidate (a hundred or more), and a tuple
    is built several times faster.
    """

    id: int
    semantic: float
    lexical: float
    need: NeedFacts
    offer: OfferFacts
    shared_terms: tuple[str, ...] = ()
    age_days: float | None = None
    concept: float = 0.0
    opposite: float = 0.0
    links: tuple[str, ...] = ()  # thesaurus links that hold ("冷却时间长 → 随形冷却")
    opposites: tuple[str, ...] = ()  # opposite-direction links that hold ("低温充电 ↔ 液冷")


@dataclass
class Ranked:
    """A scored pairing with its explanation."""

    id: int
    score: float
    relevance: float
    components: dict[str, float]
    checks: list[Check]
    shared_terms: tuple[str, ...]
    sentence: str
    violations: list[str] = field(default_factory=list)
    first_place: str | None = None  # why a satisfying pairing was put first above a better-scored violator
    links: tuple[str, ...] = ()  # thesaurus links between the two records
    opposites: tuple[str, ...] = ()
    band: str = ""  # confidence band (强 / 可能 / 弱), set by the matcher from calibrated thresholds

    def explanation(self) -> dict[str, Any]:
        """The explanation a manager reads: total, contributions, shared terms, checks and one Chinese sentence."""
        extra = {"note": self.first_place} if self.first_place else {}
        return {
            **extra,
            "total": round(self.score, 4),
            "relevance": round(self.relevance, 4),
            "components": {k: round(v, 4) for k, v in self.components.items()},
            "matched_terms": list(self.shared_terms),
            "concepts": list(self.links),
            "opposites": list(self.opposites),
            "band": self.band,
            "checks": [c.as_dict() for c in self.checks],
            "violations": list(self.violations),
            "sentence": self.sentence,
        }


COMPONENTS = ("semantic", "lexical", "chain", "trl", "mode", "price", "region", "freshness", "concept", "opposite")
"""The score components, in the order they are summed (and listed in an explanation)."""


def _weight_vector(weights: Weights) -> tuple[float, ...]:
    w = weights.__dict__
    return tuple(w[name] for name in COMPONENTS)


def _component_values(c: Candidate, max_lexical: float, violations: list[str]) -> tuple[float, ...]:
    """The component values of a pairing, in :data:`COMPONENTS` order (``violations``: its
    :func:`hard_violations`)."""
    need, offer = c.need, c.offer
    if need.min_trl is not None:
        trl = 0.0 if offer.trl is None or "trl" in violations else 1.0
    else:
        trl = (offer.trl / 9.0) if offer.trl is not None else 0.0
    if need.preferred_modes and offer.modes:
        mode = 0.0 if "modes" in violations else 1.0
    else:
        mode = 0.5
    if need.budget_wan is None or offer.price_wan is None:
        price = 0.5
    elif offer.price_wan <= need.budget_wan:
        price = 1.0
    elif offer.price_wan <= 1.5 * need.budget_wan:
        price = 0.5
    else:
        price = 0.0
    if need.region == TARGET_REGION and offer.region in INBOUND_REGIONS:
        region = 1.0
    elif need.region == offer.region and need.region != "其他":
        region = 0.5
    else:
        region = 0.0
    chain = 1.0 if need.field == offer.field and need.field != "其他" else 0.0
    freshness = 0.0 if c.age_days is None else max(0.0, 1.0 - c.age_days / 730.0)
    lexical = c.lexical / max_lexical if max_lexical > 0 else 0.0
    return (
        float(c.semantic),
        float(lexical),
        chain,
        trl,
        mode,
        price,
        region,
        freshness,
        c.concept,
        -c.opposite if c.opposite else 0.0,
    )


def _sentence(c: Candidate, checks: list[Check]) -> str:
    if c.need.scenario:  # an application scenario: where the technology could be tried or deployed
        parts = [f"应用场景：与场景内容相符({c.semantic:.2f})"]
    else:
        parts = [f"语义相近({c.semantic:.2f})"]
    if c.shared_terms:
        parts.append("共同要点：" + "、".join(c.shared_terms[:5]))
    if c.links:
        parts.append("概念关联：" + "、".join(c.links[:2]))
    if c.opposites:
        parts.append("⚠方向相反：" + "、".join(c.opposites[:2]))
    if c.need.field == c.offer.field and c.need.field != "其他":
        parts.append(f"同属{c.need.field}")
    for check in checks:
        if check.name in ("trl", "modes", "price") or (check.name == "deadline" and check.ok is False):
            parts.append(("⚠" if check.ok is False and check.hard else "") + check.message)
    if c.need.region == TARGET_REGION and c.offer.region in INBOUND_REGIONS:
        parts.append(f"{c.offer.region}成果→天津{'场景' if c.need.scenario else '需求'}")
    if c.need.scenario:
        parts.append("可在该场景试用或示范部署")
    return "；".join(parts)


def _contributions(values: tuple[float, ...], weights: Weights) -> dict[str, float]:
    return dict(zip(COMPONENTS, map(mul, _weight_vector(weights), values), strict=True))


def score_candidate(c: Candidate, weights: Weights, max_lexical: float, today: date) -> Ranked:
    """Score one pairing and explain it."""
    violations = hard_violations(c.need, c.offer, today)
    contributions = _contributions(_component_values(c, max_lexical, violations), weights)
    relevance = sum(contributions.values())
    checks = check_constraints(c.need, c.offer, today)
    penalty = weights.penalty * len(violations)
    if penalty:
        contributions["penalty"] = -penalty
    return Ranked(
        id=c.id,
        score=relevance - penalty,
        relevance=relevance,
        components=contributions,
        checks=checks,
        shared_terms=c.shared_terms,
        sentence=_sentence(c, checks),
        violations=violations,
        links=c.links,
        opposites=c.opposites,
    )


def rank(
    candidates: Sequence[Candidate],
    *,
    k: int,
    weights: Weights | None = None,
    policy: ConstraintPolicy = "flag",
    today: date | None = None,
    shared_terms: Callable[[Candidate], tuple[str, ...]] | None = None,
) -> list[Ranked]:
    """Score, apply the constraint policy and return the best k, best first (ties broken by id for stability).

    Every candidate is scored (the numbers only); the explanation (checks, messages, sentence) is built for the k
    returned ones alone, which is most of the work when a query has a hundred candidates. ``shared_terms``, when
    given, computes a winner's shared terms at that point instead of each candidate carrying them.
    """
    weights = weights or Weights()
    today = today or date.today()
    max_lexical = max((c.lexical for c in candidates), default=0.0)
    vector = _weight_vector(weights)
    scored: list[tuple[float, int, Candidate]] = []
    for c in candidates:
        # The same products summed in the same order as score_candidate's contributions: the sort key equals the
        # reported score bit for bit (without the two dicts an explanation needs).
        violations = hard_violations(c.need, c.offer, today)
        relevance = sum(map(mul, vector, _component_values(c, max_lexical, violations)))
        if violations and policy == "strict":
            continue
        scored.append((relevance - weights.penalty * len(violations), c.id, c))
    scored.sort(key=lambda t: (-t[0], t[1]))
    promoted = _satisfying_first(scored, weights, today) if policy == "flag" else None
    best = [c for _, _, c in scored[:k]]
    if shared_terms is not None:
        best = [c._replace(shared_terms=shared_terms(c)) for c in best]
    ranked = [score_candidate(c, weights, max_lexical, today) for c in best]
    if promoted is not None and ranked:
        ranked[0].first_place = "首位优先推荐满足企业全部硬性要求的成果；得分更高但违反要求的成果排在其后并已标注"
        _keep_scores_in_order(ranked)
    return ranked


FIRST_PLACE_STEP = 1e-4
"""How far below the promoted first pairing a passed-over violator's shown score is put (per place)."""


def _keep_scores_in_order(ranked: list[Ranked]) -> None:
    """After a promotion, lower the score of every violator shown above the first pairing's score to just below it.

    The shown order must always be the shown score order: the rule that put a satisfying pairing first is part of
    the score (component ``first_place``), not an exception to it.
    """
    ceiling = ranked[0].score
    for r in ranked[1:]:
        if r.score < ceiling:
            break
        ceiling -= FIRST_PLACE_STEP
        r.components["first_place"] = ceiling - r.score
        r.score = ceiling


def _satisfying_first(scored: list[tuple[float, int, Candidate]], weights: Weights, today: date) -> int | None:
    """Give rank 1 to a satisfying candidate when the best one violates a hard constraint (policy "flag").

    Managers read the first pairing first: it must not break what the enterprise stated whenever a candidate that
    keeps every constraint is of comparable relevance (relevance within `first_margin` of the violator's). The
    general penalty stays light so that flagged pairings still appear further down. Returns the id of the violator
    that was passed over (the list is changed in place), or None.
    """
    if not scored or not hard_violations(scored[0][2].need, scored[0][2].offer, today):
        return None
    top_relevance = scored[0][0] + weights.penalty * len(hard_violations(scored[0][2].need, scored[0][2].offer, today))
    for position, (score, _id, candidate) in enumerate(scored[1:], start=1):
        if hard_violations(candidate.need, candidate.offer, today):
            continue
        if score >= top_relevance - weights.first_margin:
            scored.insert(0, scored.pop(position))
            return scored[1][1]
        return None  # the best satisfying candidate is not comparable: the violator stays first (flagged)
    return None


def age_in_days(updated: date | None, today: date) -> float | None:
    """Days since a record last changed (None when unknown)."""
    if updated is None:
        return None
    return float(max(0, (today - updated).days))
