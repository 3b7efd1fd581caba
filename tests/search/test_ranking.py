"""Ranking stage: each component, both constraint policies, the explanation."""

from __future__ import annotations

import random
from datetime import date

import pytest

from matchmaker.search.ranking import (
    Candidate,
    NeedFacts,
    OfferFacts,
    Weights,
    check_constraints,
    rank,
    score_candidate,
    select_shared_terms,
)

TODAY = date(2026, 11, 23)
NEED = NeedFacts(field="新材料", region="天津", min_trl=6, preferred_modes=frozenset({"许可"}), budget_wan=200)


def offer(**kw: object) -> OfferFacts:
    base: dict[str, object] = {
        "field": "新材料",
        "region": "北京",
        "trl": 7,
        "modes": frozenset({"许可"}),
        "price_wan": 150.0,
    }
    base.update(kw)
    return OfferFacts(**base)  # type: ignore[arg-type]


def cand(i: int, semantic: float = 0.8, lexical: float = 5.0, need: NeedFacts = NEED, **kw: object) -> Candidate:
    return Candidate(
        id=i,
        semantic=semantic,
        lexical=lexical,
        need=need,
        offer=offer(**kw),
        shared_terms=("相变蓄冷", "冷链"),
        age_days=30,
    )


def components(c: Candidate, max_lexical: float = 10.0) -> dict[str, float]:
    weights = Weights(**{name: 1.0 for name in Weights().as_dict() if name != "penalty"}, penalty=0.3)
    return score_candidate(c, weights, max_lexical, TODAY).components


def test_each_component() -> None:
    values = components(cand(1))
    assert values["semantic"] == pytest.approx(0.8)
    assert values["lexical"] == pytest.approx(0.5)
    assert values["chain"] == 1.0
    assert values["trl"] == 1.0
    assert values["mode"] == 1.0
    assert values["price"] == 1.0
    assert values["region"] == 1.0  # Beijing achievement for a Tianjin need
    assert values["freshness"] == pytest.approx(1 - 30 / 730)
    other = components(cand(2, field="新能源", region="天津", price_wan=260.0))
    assert (other["chain"], other["region"], other["price"]) == (0.0, 0.5, 0.5)
    assert components(cand(3, price_wan=400.0))["price"] == 0.0
    no_requirement = NeedFacts(field="新材料", region="北京")
    loose = components(cand(4, need=no_requirement, trl=3, region="河北"))
    assert loose["trl"] == pytest.approx(3 / 9)
    assert loose["mode"] == 0.5
    assert loose["region"] == 0.0


def test_constraint_checks_carry_values() -> None:
    checks = {c.name: c for c in check_constraints(NEED, offer(trl=5, modes=frozenset({"转让"})), TODAY)}
    assert checks["trl"].ok is False
    assert (checks["trl"].need_value, checks["trl"].offer_value) == (6, 5)
    assert checks["trl"].message == "成熟度5<要求6"
    assert checks["modes"].ok is False
    assert checks["modes"].message == "合作方式不符：期望许可，提供转让"
    assert checks["price"].ok is True
    assert check_constraints(NEED, offer(trl=None), TODAY)[0].ok is None
    late = NeedFacts(field="新材料", region="天津", deadline=date(2026, 6, 30))
    deadline = check_constraints(late, offer(), TODAY)[0]
    assert (deadline.name, deadline.ok, deadline.hard) == ("deadline", False, True)


def test_flag_policy_keeps_violators_below_comparable_satisfying_candidates() -> None:
    violator = cand(1, semantic=0.82, trl=5)  # closest text, but immature
    satisfying = cand(2, semantic=0.75)
    weak = cand(3, semantic=0.2, lexical=0.0)
    ranked = rank([violator, satisfying, weak], k=3, today=TODAY)
    assert [r.id for r in ranked][:2] == [2, 1]
    assert ranked[1].violations == ["trl"]
    assert "⚠成熟度5<要求6" in ranked[1].sentence
    assert ranked[1].components["penalty"] == pytest.approx(-Weights().penalty)


def test_first_place_goes_to_a_satisfying_candidate() -> None:
    # Far more relevant than the satisfying one: the penalty alone keeps the violator first ...
    violator = cand(1, semantic=0.95, lexical=10.0, trl=5, modes=frozenset({"转让"}))
    satisfying = cand(2, semantic=0.55, lexical=2.0)
    no_rule = rank([violator, satisfying], k=2, weights=Weights(first_margin=0.0), today=TODAY)
    assert [r.id for r in no_rule] == [1, 2]
    # ... the satisfying-first rule gives rank 1 to the candidate that keeps every stated constraint, and says so.
    ranked = rank([violator, satisfying], k=2, today=TODAY)
    assert [r.id for r in ranked] == [2, 1]
    assert "满足企业全部硬性要求" in ranked[0].explanation()["note"]
    assert ranked[1].violations == ["trl", "modes"]
    # Without any satisfying candidate the violator stays first, flagged; strict still drops it.
    assert [r.id for r in rank([violator], k=2, today=TODAY)] == [1]
    assert rank([violator], k=2, policy="strict", today=TODAY) == []


def test_strict_policy_removes_violators() -> None:
    ranked = rank([cand(1, trl=5), cand(2, modes=frozenset({"转让"})), cand(3)], k=10, policy="strict", today=TODAY)
    assert [r.id for r in ranked] == [3]


def test_explanation_content() -> None:
    ranked = rank([cand(1, semantic=0.82)], k=1, today=TODAY)[0]
    explanation = ranked.explanation()
    assert explanation["sentence"].startswith("语义相近(0.82)；共同要点：相变蓄冷、冷链；同属新材料；成熟度7≥要求6")
    assert explanation["sentence"].endswith("北京成果→天津需求")
    assert explanation["matched_terms"] == ["相变蓄冷", "冷链"]
    assert {c["name"] for c in explanation["checks"]} == {"trl", "modes", "price"}
    assert explanation["total"] == pytest.approx(sum(explanation["components"].values()), abs=1e-3)


def test_shared_terms_prefer_informative_and_whole_terms() -> None:
    terms = select_shared_terms(
        ["相变", "相变蓄冷", "冷链", "的", "蓄冷箱", "a"],
        ["相变蓄冷", "相变", "冷链", "蓄冷箱"],
        {"相变蓄冷": 3.0, "冷链": 2.0, "蓄冷箱": 0.1, "相变": 2.5},
    )
    assert terms == ("相变蓄冷", "冷链", "蓄冷箱")


def test_weights_from_dict_rejects_unknown_names() -> None:
    assert Weights.from_dict({"lexical": 0.5}).lexical == 0.5
    with pytest.raises(ValueError, match="unknown ranking weight"):
        Weights.from_dict({"colour": 1.0})


def test_the_ranking_order_is_the_order_of_the_reported_scores() -> None:
    # rank() sorts on a score it computes without building explanations; the reported score must equal it exactly,
    # so that the list a manager reads is sorted by the numbers it shows.
    rng = random.Random(7)
    modes = ["技术转让", "许可", "合作开发", "作价入股"]
    candidates = [
        cand(
            i,
            semantic=rng.uniform(0.2, 0.95),
            lexical=rng.choice([0.0, rng.uniform(0.1, 30.0)]),
            trl=rng.choice([None, *range(1, 10)]),
            modes=frozenset(rng.sample(modes, rng.randint(0, 3))),
            price_wan=rng.choice([None, rng.uniform(10, 500)]),
            region=rng.choice(["北京", "天津", "河北", "其他"]),
            field=rng.choice(["新材料", "新能源", "其他"]),
        )
        for i in range(200)
    ]
    weights = Weights()
    max_lexical = max(c.lexical for c in candidates)
    for policy in ("strict", "flag"):
        ranked = rank(candidates, k=200, weights=weights, policy=policy, today=TODAY)
        expected = {c.id: score_candidate(c, weights, max_lexical, TODAY).score for c in candidates}
        assert [r.score for r in ranked] == [expected[r.id] for r in ranked]
        if policy == "strict":
            assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
            assert len(ranked) == sum(1 for r in ranked if not r.violations) > 0
