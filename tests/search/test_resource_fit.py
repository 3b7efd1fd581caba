"""The resource fit: readiness against the range a resource takes, chain, region, text; one sentence of why."""

from __future__ import annotations

from matchmaker.search.constraints import OfferFacts
from matchmaker.search.resource_fit import ResourceFacts, fit_resource, rank_resources

OFFER = OfferFacts(field="生物医药", region="北京", trl=4)


def test_ranges_come_from_the_record_else_the_fund_stage_else_the_kind() -> None:
    assert ResourceFacts(1, "中试平台", "天津", frozenset()).trl_range() == (5, 7)
    assert ResourceFacts(2, "概念验证中心", "天津", frozenset()).trl_range() == (3, 5)
    assert ResourceFacts(3, "基金", "天津", frozenset(), fund_stage="成长期").trl_range() == (7, 9)
    assert ResourceFacts(4, "中试平台", "天津", frozenset(), trl_min=4, trl_max=6).trl_range() == (4, 6)


def test_components_and_sentence() -> None:
    poc = fit_resource(OFFER, ResourceFacts(1, "概念验证中心", "天津", frozenset({"生物医药"})), 0.5, "天津")
    assert poc.components == {"semantic": 0.2, "trl": 0.3, "chain": 0.2, "region": 0.1}
    assert poc.sentence == "内容相近(0.50)；成熟度4在概念验证中心适用范围3–5内；服务生物医药产业链；位于天津（落地地）"
    pilot = fit_resource(OFFER, ResourceFacts(2, "中试平台", "北京", frozenset({"新材料"})), 0.5, "天津")
    # One level below 5–7: half the readiness credit; another chain; not where it should land.
    assert pilot.components["trl"] == 0.15
    assert (pilot.components["chain"], pilot.components["region"]) == (0.0, 0.0)
    assert "成熟度4不在中试平台适用范围5–7内" in pilot.sentence
    assert "不服务生物医药产业链（服务新材料）" in pilot.sentence
    unknown = fit_resource(
        OfferFacts(field="新材料", region="北京"), ResourceFacts(3, "园区", "天津", frozenset()), 0, "天津"
    )
    assert unknown.components["trl"] == 0.15
    assert "不限产业链" in unknown.sentence


def test_ranking_is_by_score_then_id() -> None:
    resources = [
        ResourceFacts(5, "中试平台", "天津", frozenset({"生物医药"})),
        ResourceFacts(3, "概念验证中心", "天津", frozenset({"生物医药"})),
        ResourceFacts(4, "概念验证中心", "天津", frozenset({"生物医药"})),
    ]
    fits = rank_resources(OFFER, resources, [0.5, 0.4, 0.4], "天津", limit=2)
    assert [f.id for f in fits] == [3, 4]
