"""Which landing resources (载体与资源) fit an achievement: the ranking core applied to parks, platforms and funds.

A resource is scored against an achievement (:class:`~matchmaker.search.constraints.OfferFacts`) with components in
[0, 1], weighted and summed like a pairing:

* semantic — cosine of the two document embeddings (what the resource does against what the achievement is);
* trl      — 1 when the achievement's readiness lies in the range the resource takes (a 概念验证中心 takes TRL 3–5, a
             中试平台 5–7, a fund its stage's range), falling by 0.5 per level outside it; 0.5 when unknown;
* chain    — 1 when the resource serves the achievement's industrial chain, 0.5 when it serves every chain, else 0;
* region   — 1 when the resource is where the achievement should land (天津, or the signed need's region), else 0.

No FastAPI, no ORM: the service hands in plain facts and the embedding similarity.
"""

from __future__ import annotations

from dataclasses import dataclass

from matchmaker.search.constraints import Check, OfferFacts

# The readiness range a resource takes when its record states none (seed 002's 概念验证 → 中试 → 产业化 chain).
KIND_TRL: dict[str, tuple[int, int]] = {
    "概念验证中心": (3, 5),
    "中试平台": (5, 7),
    "孵化器": (4, 7),
    "园区": (6, 9),
    "基金": (4, 8),
}
STAGE_TRL: dict[str, tuple[int, int]] = {"种子期": (3, 5), "天使期": (4, 6), "初创期": (5, 7), "成长期": (7, 9)}
FIT_WEIGHTS: dict[str, float] = {"semantic": 0.4, "trl": 0.3, "chain": 0.2, "region": 0.1}


@dataclass(frozen=True)
class ResourceFacts:
    """What the fit needs to know about a resource."""

    id: int
    kind: str
    region: str
    chains: frozenset[str]
    trl_min: int | None = None
    trl_max: int | None = None
    fund_stage: str | None = None

    def trl_range(self) -> tuple[int, int]:
        """The readiness range the resource takes: its own, else its fund stage's, else its kind's."""
        default = STAGE_TRL.get(self.fund_stage or "") or KIND_TRL.get(self.kind, (1, 9))
        return (self.trl_min or default[0], self.trl_max or default[1])


@dataclass(frozen=True)
class Fit:
    """A scored resource with its explanation."""

    id: int
    score: float
    components: dict[str, float]
    checks: list[Check]
    sentence: str


def fit_resource(offer: OfferFacts, resource: ResourceFacts, semantic: float, target_region: str) -> Fit:
    """Score one resource for one achievement and explain it in one Chinese sentence."""
    low, high = resource.trl_range()
    span = f"{low}–{high}"
    if offer.trl is None:
        trl, trl_check = 0.5, Check("trl", None, False, span, None, f"成果成熟度未知（{resource.kind}适用{span}）")
    else:
        distance = max(low - offer.trl, offer.trl - high, 0)
        trl = max(0.0, 1.0 - 0.5 * distance)
        inside = distance == 0
        relation = "在" if inside else "不在"
        trl_check = Check(
            "trl", inside, False, span, offer.trl, f"成熟度{offer.trl}{relation}{resource.kind}适用范围{span}内"
        )
    if not resource.chains:
        chain, chain_message = 0.5, "不限产业链"
    elif offer.field in resource.chains:
        chain, chain_message = 1.0, f"服务{offer.field}产业链"
    else:
        chain, chain_message = 0.0, f"不服务{offer.field}产业链（服务{'、'.join(sorted(resource.chains))}）"
    chain_check = Check("chain", chain > 0, False, sorted(resource.chains), offer.field, chain_message)
    region = 1.0 if resource.region == target_region else 0.0
    region_message = f"位于{resource.region}" + ("（落地地）" if region else f"，不在{target_region}")
    region_check = Check("region", bool(region), False, target_region, resource.region, region_message)
    components = {"semantic": max(0.0, float(semantic)), "trl": trl, "chain": chain, "region": region}
    contributions = {k: FIT_WEIGHTS[k] * v for k, v in components.items()}
    checks = [trl_check, chain_check, region_check]
    sentence = "；".join([f"内容相近({semantic:.2f})", *(c.message for c in checks)])
    return Fit(resource.id, sum(contributions.values()), contributions, checks, sentence)


def rank_resources(
    offer: OfferFacts, resources: list[ResourceFacts], similarities: list[float], target_region: str, limit: int
) -> list[Fit]:
    """The best-fitting resources first (ties by id, so the order is stable)."""
    fits = [fit_resource(offer, r, s, target_region) for r, s in zip(resources, similarities, strict=True)]
    fits.sort(key=lambda f: (-f.score, f.id))
    return fits[:limit]
