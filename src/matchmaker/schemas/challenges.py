"""API schemas of 揭榜挂帅 (challenges, proposals, experts, reviews): input validation and the shapes returned."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from matchmaker.schemas import Chain, Day, ExternalId, OptStr300, Region, Text, Trl, _number
from matchmaker.schemas.common import Id, UtcDateTime

STAGES = (
    "draft",
    "vetting",
    "published",
    "closed",
    "reviewing",
    "awarded",
    "signed",
    "accepted",
    "unsolved",
    "withdrawn",
)
Stage = Literal[
    "draft", "vetting", "published", "closed", "reviewing", "awarded", "signed", "accepted", "unsolved", "withdrawn"
]
MemberKind = Literal["高校", "科研院所", "企业", "新型研发机构"]
_COMPARATORS = {">=": "≥", "≥": "≥", "＞＝": "≥", "<=": "≤", "≤": "≤", "＜＝": "≤", "=": "=", "==": "="}


def _comparator(value: Any) -> Any:
    return _COMPARATORS.get(value.strip(), value) if isinstance(value, str) else value


Measure = Annotated[Decimal, Field(max_digits=18, decimal_places=4), BeforeValidator(_number)]
Wan = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2), BeforeValidator(_number)]
Name = Annotated[Text, Field(min_length=1, max_length=200)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class IndicatorIn(_Input):
    """One 考核指标: name, comparator, target value and unit (and the sub-goal in words)."""

    name: Name
    comparator: Annotated[Literal["≥", "≤", "="], BeforeValidator(_comparator)] = "≥"
    target_value: Measure
    unit: Annotated[Text, Field(max_length=40, description="单位; empty for a dimensionless ratio")] = ""
    detail: Annotated[Text, Field(max_length=2000)] | None = None


class Eligibility(_Input):
    """揭榜条件: who may apply."""

    org_kinds: list[MemberKind] = Field(default_factory=list, description="allowed kinds of every team member")
    regions: list[Region] = Field(default_factory=list, description="allowed regions of the lead organisation")
    min_trl: Trl = Field(default=None, description="the best linked achievement must reach this TRL")
    qualifications: OptStr300 = None


class Contact(_Input):
    """A contact person of the challenge."""

    name: Annotated[Text, Field(min_length=1, max_length=50)]
    phone: Annotated[str, Field(max_length=40)] | None = None
    email: Annotated[str, Field(max_length=254)] | None = None


class CriterionIn(_Input):
    """One criterion of the scoring rubric and its weight."""

    name: Annotated[Text, Field(min_length=1, max_length=100)]
    weight: Annotated[int, Field(ge=1, le=100)]
    description: Annotated[Text, Field(max_length=1000)] | None = None


_EXAMPLE: dict[str, Any] = {
    "title": "大厚度铝合金搅拌摩擦焊缝缺陷在线检测",
    "goal": "研制可在线识别40 mm厚铝合金搅拌摩擦焊缝内部缺陷的检测装备并在产线应用。",
    "field": "高端装备",
    "region": "天津",
    "issuers": ["天津渤海轨道装备有限公司"],
    "bounty_wan": 300,
    "cofund_wan": 100,
    "deadline": "2027-03-31",
    "research_months": 18,
    "indicators": [{"name": "缺陷检出率", "comparator": "≥", "target_value": 98, "unit": "%"}],
    "eligibility": {"org_kinds": ["高校", "科研院所"], "regions": ["北京", "天津", "河北"], "min_trl": 4},
}


class ChallengeCreate(_Input):
    """A new challenge, written directly or built from needs (demand_ids: missing fields come from the needs)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    external_id: ExternalId = None
    demand_ids: list[Id] = Field(default_factory=list, max_length=20)
    title: Name | None = None
    goal: Annotated[Text, Field(min_length=1, max_length=5000)] | None = None
    background: Annotated[Text, Field(max_length=5000)] | None = None
    field: Chain | None = None
    region: Region | None = None
    issuers: list[Name] = Field(default_factory=list, max_length=10)
    bounty_wan: Wan | None = None
    cofund_wan: Wan | None = None
    eligibility: Eligibility = Field(default_factory=Eligibility)
    deadline: Day = None
    research_months: Annotated[int, Field(ge=1, le=120)] = 12
    ip_ownership: OptStr300 = None
    ip_licence: OptStr300 = None
    contacts: list[Contact] = Field(default_factory=list, max_length=10)
    confidential: bool | None = None
    mask_applicants: bool = False
    indicators: list[IndicatorIn] = Field(default_factory=list, max_length=30)
    rubric: list[CriterionIn] | None = Field(default=None, max_length=20)


class ChallengeUpdate(_Input):
    """Fields to change (draft and 专家论证 only); indicators and rubric replace the whole list."""

    external_id: ExternalId = None
    title: Name | None = None
    goal: Annotated[Text, Field(min_length=1, max_length=5000)] | None = None
    background: Annotated[Text, Field(max_length=5000)] | None = None
    field: Chain | None = None
    region: Region | None = None
    issuers: list[Name] | None = Field(default=None, max_length=10)
    bounty_wan: Wan | None = None
    cofund_wan: Wan | None = None
    eligibility: Eligibility | None = None
    deadline: Day = None
    research_months: Annotated[int, Field(ge=1, le=120)] | None = None
    ip_ownership: OptStr300 = None
    ip_licence: OptStr300 = None
    contacts: list[Contact] | None = Field(default=None, max_length=10)
    confidential: bool | None = None
    mask_applicants: bool | None = None
    indicators: list[IndicatorIn] | None = Field(default=None, max_length=30)
    rubric: list[CriterionIn] | None = Field(default=None, max_length=20)


class IndicatorResult(_Input):
    """验收: the measured value of one indicator and whether it is met."""

    indicator_id: Id
    measured_value: Measure
    met: bool


class Move(_Input):
    """A move of the challenge through its life cycle."""

    to: Stage
    reason: Annotated[Text, Field(max_length=2000)] | None = None
    proposal_id: Id | None = Field(default=None, description="the winning proposal (揭榜成功)")
    results: list[IndicatorResult] | None = Field(default=None, description="every indicator's result (验收)")


class ExpertAssign(_Input):
    """Assign an expert (a user with the expert role) to a challenge."""

    user_id: Id
    conflicts: list[Name] = Field(default_factory=list, max_length=20)


class ExpertDeclaration(_Input):
    """What an expert declares: conflicts of interest and the 专家论证 opinion."""

    conflicts: list[Name] | None = Field(default=None, max_length=20)
    vetting_ok: bool | None = Field(default=None, description="the challenge is well posed")
    vetting_comment: Annotated[Text, Field(max_length=2000)] | None = None


class MemberIn(_Input):
    """A partner organisation of a consortium (创新联合体)."""

    name: Name
    kind: MemberKind
    region: Region


class PromiseIn(_Input):
    """The value a team promises for one indicator."""

    indicator_id: Id
    value: Measure


class MilestoneIn(_Input):
    """One milestone: by which month of the research period, what is delivered."""

    month: Annotated[int, Field(ge=1, le=120)]
    milestone: Annotated[Text, Field(min_length=1, max_length=300)]


class ProposalCreate(_Input):
    """揭榜申报 by an institution member: alone, or as the lead of a consortium (partners)."""

    lead_kind: MemberKind = "高校"
    lead_region: Region
    partners: list[MemberIn] = Field(default_factory=list, max_length=9)
    team: Annotated[Text, Field(min_length=1, max_length=5000)]
    approach: Annotated[Text, Field(min_length=1, max_length=10000)]
    achievement_ids: list[Id] = Field(default_factory=list, max_length=20)
    promises: list[PromiseIn] = Field(min_length=1, max_length=30)
    budget_wan: Wan
    schedule: list[MilestoneIn] = Field(min_length=1, max_length=30)


class ProposalUpdate(_Input):
    """Fields to change until the deadline."""

    lead_kind: MemberKind | None = None
    lead_region: Region | None = None
    partners: list[MemberIn] | None = Field(default=None, max_length=9)
    team: Annotated[Text, Field(min_length=1, max_length=5000)] | None = None
    approach: Annotated[Text, Field(min_length=1, max_length=10000)] | None = None
    achievement_ids: list[Id] | None = Field(default=None, max_length=20)
    promises: list[PromiseIn] | None = Field(default=None, min_length=1, max_length=30)
    budget_wan: Wan | None = None
    schedule: list[MilestoneIn] | None = Field(default=None, min_length=1, max_length=30)


class ScoreIn(_Input):
    """One expert's scores of one proposal: rubric criterion id → 0–100."""

    scores: dict[int, Annotated[float, Field(ge=0, le=100)]]
    comment: Annotated[Text, Field(max_length=2000)] | None = None


# ------------------------------------------------------------------------------------------------ responses
class IndicatorRead(BaseModel):
    id: int
    name: str
    comparator: str
    target_value: float
    unit: str
    detail: str | None
    measured_value: float | None
    met: bool | None


class CriterionRead(BaseModel):
    id: int
    name: str
    weight: int
    description: str | None


class ChallengeRead(BaseModel):
    """A challenge as the caller may see it (issuers masked when confidential)."""

    id: int
    external_id: str | None
    title: str
    goal: str
    background: str | None
    field: str
    region: str
    issuers: list[str] | None
    issuer_hidden: bool
    demand_ids: list[Id]
    bounty_wan: float
    cofund_wan: float | None
    total_wan: float
    eligibility: dict[str, Any]
    deadline: date
    deadline_passed: bool
    research_months: int
    ip_ownership: str | None
    ip_licence: str | None
    contacts: list[dict[str, Any]]
    confidential: bool
    mask_applicants: bool
    stage: str
    stage_label: str
    allowed_moves: list[str]
    awarded_proposal_id: Id | None
    decision_reason: str | None
    indicators: list[IndicatorRead]
    rubric: list[CriterionRead]
    created_at: UtcDateTime
    updated_at: UtcDateTime
    stage_changed_at: UtcDateTime


class ChallengePage(BaseModel):
    items: list[ChallengeRead]
    total: int
    limit: int
    offset: int


class EventRead(BaseModel):
    from_stage: str | None = Field(serialization_alias="from")
    to: str
    reason: str | None
    actor_id: Id | None
    at: UtcDateTime


class HistoryRead(BaseModel):
    items: list[EventRead]


class MemberRead(BaseModel):
    name: str | None
    kind: str
    region: str
    role: str


class ProposalRead(BaseModel):
    """A proposal as the caller may see it (applicants masked from the issuer when the challenge says so)."""

    id: int
    challenge_id: Id
    status: str
    applicant: str | None
    applicant_hidden: bool
    consortium: bool
    cross_region: bool
    members: list[MemberRead]
    team: str
    approach: str
    achievement_ids: list[Id]
    promises: list[dict[str, Any]]
    budget_wan: float
    schedule: list[dict[str, Any]]
    editable: bool
    conflict: bool | None = None
    created_at: UtcDateTime
    updated_at: UtcDateTime


class ProposalPage(BaseModel):
    items: list[ProposalRead]
    total: int


class ExpertRead(BaseModel):
    user_id: Id
    email: str
    organisation: str | None
    conflicts: list[str]
    declared_at: UtcDateTime | None
    vetting_ok: bool | None
    vetting_comment: str | None


class ExpertList(BaseModel):
    items: list[ExpertRead]


class ScoreRead(BaseModel):
    proposal_id: Id
    expert_id: Id
    scores: dict[str, float]
    total: float
    comment: str | None


class RankedProposal(BaseModel):
    rank: int
    proposal_id: Id
    applicant: str | None
    mean: float | None
    spread: float | None
    stdev: float | None
    experts_scored: int
    experts_eligible: int
    per_expert: list[dict[str, Any]]


class RankingRead(BaseModel):
    items: list[RankedProposal]


class SuggestionPage(BaseModel):
    items: list[dict[str, Any]]
    indicators: list[dict[str, Any]]


class ConsortiumPage(BaseModel):
    solver: str
    items: list[dict[str, Any]]
    indicators: list[dict[str, Any]]


class ChallengeStats(BaseModel):
    by_stage: dict[str, int]
    bounty_published_wan: float
    bounty_awarded_wan: float
    cofund_awarded_wan: float
    proposals: int
    proposals_per_challenge: float | None
    consortium_proposals: int
    cross_region_consortia_awarded: int
    cross_region_consortia_proposed: int
