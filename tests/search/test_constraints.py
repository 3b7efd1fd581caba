"""Hard constraints are decided once (constraints.hard_violations): the explanation's checks, the scores, the strict
policy and the offline evaluation all agree with it."""

from __future__ import annotations

import random
from datetime import date

from matchmaker.search.constraints import NeedFacts, OfferFacts, check_constraints, hard_violations
from matchmaker.search.evaluation import violates
from matchmaker.search.ranking import Candidate, Weights, rank, score_candidate

TODAY = date(2026, 12, 1)
MODES = ("转让", "许可", "合作开发")


def _pairs(n: int) -> list[tuple[NeedFacts, OfferFacts]]:
    rng = random.Random(5)
    out = []
    for _ in range(n):
        need = NeedFacts(
            field="新材料",
            region="天津",
            min_trl=rng.choice([None, 4, 6, 8]),
            preferred_modes=frozenset(m for m in MODES if rng.random() < 0.4),
            budget_wan=rng.choice([None, 100.0]),
            deadline=rng.choice([None, date(2026, 6, 1), date(2027, 6, 1)]),
        )
        offer = OfferFacts(
            field=rng.choice(["新材料", "信创"]),
            region="北京",
            trl=rng.choice([None, 3, 6, 9]),
            modes=frozenset(m for m in MODES if rng.random() < 0.4),
            price_wan=rng.choice([None, 80.0, 150.0]),
        )
        out.append((need, offer))
    return out


def test_checks_scores_and_evaluation_use_the_one_decision() -> None:
    weights = Weights()
    for i, (need, offer) in enumerate(_pairs(400)):
        decided = hard_violations(need, offer, TODAY)
        checks = check_constraints(need, offer, TODAY)
        assert [c.name for c in checks if c.hard and c.ok is False] == decided
        ranked = score_candidate(Candidate(i, 0.5, 0.0, need, offer), weights, 0.0, TODAY)
        assert ranked.violations == decided
        assert ranked.components.get("penalty", 0.0) == -weights.penalty * len(decided)
        if need.min_trl is not None:  # the score components follow the same decision
            assert ranked.components["trl"] == (0.0 if offer.trl is None or "trl" in decided else weights.trl)
        if need.preferred_modes and offer.modes:
            assert ranked.components["mode"] == (0.0 if "modes" in decided else weights.mode)
        elif need.preferred_modes:  # the achievement states no mode: unknown, neither kept nor broken
            assert "modes" not in decided
            assert ranked.components["mode"] == 0.5 * weights.mode
        # The evaluation judges achievements only: the deadline (a property of the need) is left out.
        assert violates(need, offer) == bool(hard_violations(need, offer, None))
        assert set(hard_violations(need, offer, None)) == set(decided) - {"deadline"}


def test_the_strict_policy_drops_exactly_the_violators() -> None:
    pairs = _pairs(60)
    candidates = [Candidate(i, 0.5 + i / 1000, 0.0, need, offer) for i, (need, offer) in enumerate(pairs)]
    kept = {r.id for r in rank(candidates, k=len(candidates), policy="strict", today=TODAY)}
    assert kept == {i for i, (need, offer) in enumerate(pairs) if not hard_violations(need, offer, TODAY)}
