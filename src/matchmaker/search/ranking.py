"""Ranking stage: score components, hard-constraint policy and explanations for need–achievement pairings.

A pairing is always seen from the need's side (the enterprise states the constraints), whichever list the query came
from. The score is a weighted sum of components that each lie in [0, 1]:

    total = Σ_c w_c · x_c − penalty · (number of violated hard constraints)        (policy "flag")

* semantic  — cosine similarity of the two embeddings (the dense model's judgement of "does this address that");
* lexical   — BM25 score of the candidate for the query, divided by the best BM25 score among this query's
              candidates (so it says "how much of the strongest word evidence this candidate has");
* chain     — 1 when both are in the same industrial chain (其他 never counts as the same chain);
* trl       — 1 when trl ≥ min_trl; without a requirement, trl/9 (maturer is slightly preferred); 0 when unknown;
* mode      — 1 when an offered transfer mode is one the need prefers; 0.5 when the need states none;
* price     — 1 when price ≤ budget, 0.5 up to 1.5 × budget, 0 beyond; 0.5 when either is unknown;
* region    — 1 for an achievement from Beijing or Hebei meeting a Tianjin need (the centre's yearly target),
              0.5 for the same region, 0 otherwise;
* freshness — 1 for a record changed today, decaying linearly to 0 over two years.

Hard constraints (min_trl, preferred_modes, a passed deadline) follow the per-request policy: "strict" drops
violators; "flag" keeps them, marks the violation and subtracts `penalty` per violation. The penalty is larger than
the spread of relevance between candidates a manager would call comparable, so a violator lands below every
satisfying candidate of comparable relevance while a far better violator can still appear (marked).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from operator import mul
from typing import Any, Literal, NamedTuple

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


@dataclass(frozen=True)
class NeedFacts:
    """What the ranking needs to know about the need of a pairing."""

    field: str
    region: str
    min_trl: int | None = None
    preferred_modes: frozenset[str] = frozenset()
    budget_wan: float | None = None
    deadline: date | None = None


@dataclass(frozen=True)
class OfferFacts:
    """What the ranking needs to know about the achievement of a pairing."""

    field: str
    region: str
    trl: int | None = None
    modes: frozenset[str] = frozenset()
    price_wan: float | None = None


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


@dataclass(frozen=True)
class Check:
    """One hard-constraint or preference check, with the values compared."""

    name: str
    ok: bool | None  # None: cannot be checked (a value is missing)
    hard: bool
    need_value: Any
    offer_value: Any
    message: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


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

    def explanation(self) -> dict[str, Any]:
        """The explanation a manager reads: total, contributions, shared terms, checks and one Chinese sentence."""
        extra = {"note": self.first_place} if self.first_place else {}
        return {
            **extra,
            "total": round(self.score, 4),
            "relevance": round(self.relevance, 4),
            "components": {k: round(v, 4) for k, v in self.components.items()},
            "matched_terms": list(self.shared_terms),
            "checks": [c.as_dict() for c in self.checks],
            "violations": list(self.violations),
            "sentence": self.sentence,
        }


def _fmt_wan(value: float) -> str:
    return f"{value:g}万"


def hard_violations(need: NeedFacts, offer: OfferFacts, today: date | None) -> list[str]:
    """The one decision on hard constraints: the names of the ones a pairing breaks, in the order
    :func:`check_constraints` lists them.

    * ``trl``: the achievement's TRL is known and below the need's ``min_trl`` (an unknown TRL cannot be checked);
    * ``modes``: the need prefers transfer modes and the achievement offers none of them;
    * ``deadline``: the need's deadline passed before ``today`` (``None``: not judged, as in the offline evaluation,
      where the deadline is a property of the need that flags every candidate alike).

    The explanation's checks, the score components, the constraint policies and the evaluation all ask this function.
    """
    violations: list[str] = []
    if need.min_trl is not None and offer.trl is not None and offer.trl < need.min_trl:
        violations.append("trl")
    if need.preferred_modes and not need.preferred_modes & offer.modes:
        violations.append("modes")
    if today is not None and need.deadline is not None and need.deadline < today:
        violations.append("deadline")
    return violations


def check_constraints(need: NeedFacts, offer: OfferFacts, today: date) -> list[Check]:
    """The hard constraints (min_trl, preferred_modes, deadline) and soft preferences (price, chain, region)."""
    violated = hard_violations(need, offer, today)
    checks: list[Check] = []
    if need.min_trl is not None:
        if offer.trl is None:
            checks.append(Check("trl", None, True, need.min_trl, None, f"成熟度未知（要求≥{need.min_trl}）"))
        elif "trl" not in violated:
            checks.append(Check("trl", True, True, need.min_trl, offer.trl, f"成熟度{offer.trl}≥要求{need.min_trl}"))
        else:
            checks.append(Check("trl", False, True, need.min_trl, offer.trl, f"成熟度{offer.trl}<要求{need.min_trl}"))
    if need.preferred_modes:
        common = sorted(need.preferred_modes & offer.modes)
        wanted = "、".join(sorted(need.preferred_modes))
        if "modes" not in violated:
            checks.append(
                Check(
                    "modes",
                    True,
                    True,
                    sorted(need.preferred_modes),
                    sorted(offer.modes),
                    f"合作方式相符：{'、'.join(common)}",
                )
            )
        else:
            offered = "、".join(sorted(offer.modes)) or "未注明"
            checks.append(
                Check(
                    "modes",
                    False,
                    True,
                    sorted(need.preferred_modes),
                    sorted(offer.modes),
                    f"合作方式不符：期望{wanted}，提供{offered}",
                )
            )
    if need.deadline is not None:
        passed = "deadline" in violated
        message = f"需求已于{need.deadline.isoformat()}截止" if passed else f"截止日期{need.deadline.isoformat()}"
        checks.append(Check("deadline", not passed, True, need.deadline.isoformat(), today.isoformat(), message))
    if need.budget_wan is not None and offer.price_wan is not None:
        ok = offer.price_wan <= need.budget_wan
        sign = "≤" if ok else ">"
        checks.append(
            Check(
                "price",
                ok,
                False,
                need.budget_wan,
                offer.price_wan,
                f"报价{_fmt_wan(offer.price_wan)}{sign}预算{_fmt_wan(need.budget_wan)}",
            )
        )
    return checks


COMPONENTS = ("semantic", "lexical", "chain", "trl", "mode", "price", "region", "freshness")
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
    if need.preferred_modes:
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
    return (float(c.semantic), float(lexical), chain, trl, mode, price, region, freshness)


def _sentence(c: Candidate, checks: list[Check]) -> str:
    parts = [f"语义相近({c.semantic:.2f})"]
    if c.shared_terms:
        parts.append("共同要点：" + "、".join(c.shared_terms[:5]))
    if c.need.field == c.offer.field and c.need.field != "其他":
        parts.append(f"同属{c.need.field}")
    for check in checks:
        if check.name in ("trl", "modes", "price") or (check.name == "deadline" and check.ok is False):
            parts.append(("⚠" if check.ok is False and check.hard else "") + check.message)
    if c.need.region == TARGET_REGION and c.offer.region in INBOUND_REGIONS:
        parts.append(f"{c.offer.region}成果→天津需求")
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
    return ranked


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


def select_shared_terms(
    query_tokens: Sequence[str], doc_tokens: Sequence[str], idf: dict[str, float], limit: int = 6
) -> tuple[str, ...]:
    """Terms both texts contain, most informative first (by IDF), longer terms preferred over their parts."""
    return QueryTerms(query_tokens, lambda t: idf.get(t, 0.0)).shared_with(doc_tokens, limit)


class QueryTerms:
    """A query's meaningful terms, prepared once to find the terms each of its candidates shares with it."""

    def __init__(self, query_tokens: Sequence[str], idf: Callable[[str], float]) -> None:
        from matchmaker.search.text import is_meaningful_term

        self.terms = frozenset(t for t in query_tokens if is_meaningful_term(t))
        self._idf = idf
        self._order: dict[str, tuple[float, int, str]] = {}  # sort keys, filled for the terms actually shared

    def _key(self, term: str) -> tuple[float, int, str]:
        key = self._order.get(term)
        if key is None:
            key = self._order[term] = (-self._idf(term), -len(term), term)
        return key

    def shared_with(self, doc_tokens: Sequence[str], limit: int = 6) -> tuple[str, ...]:
        """Terms the document shares with the query, most informative first (by IDF), at most ``limit``; a term
        that is part of a longer shared term is left out (相变 when 相变蓄冷 is shared)."""
        common = self.terms.intersection(doc_tokens)
        longest_first = sorted(common, key=len, reverse=True)
        kept: list[str] = []
        # The walk in final order stops at `limit` kept terms (the same result as filtering all, then sorting).
        for t in sorted(common, key=self._key):
            size = len(t)
            contained = False
            for other in longest_first:
                if len(other) <= size:
                    break
                if t in other:
                    contained = True
                    break
            if not contained:
                kept.append(t)
                if len(kept) == limit:
                    break
        return tuple(kept)


def age_in_days(updated: date | None, today: date) -> float | None:
    """Days since a record last changed (None when unknown)."""
    if updated is None:
        return None
    return float(max(0, (today - updated).days))
