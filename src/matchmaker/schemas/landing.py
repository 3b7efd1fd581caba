"""API schemas of contracts, landings (落地) and landing resources (helpers from :mod:`matchmaker.schemas`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from matchmaker.domain import normalize_chain, normalize_region
from matchmaker.schemas import (
    Day,
    ExternalId,
    FloatOut,
    OptStr200,
    OptStr300,
    Region,
    Text,
    Trl,
    Wan,
    _blank_to_none,
    _dedupe,
    _number,
    _split_list,
)
from matchmaker.schemas.common import Id, UtcDateTime
from matchmaker.schemas.queries import PageParams, _Params


def _chains(values: list[str]) -> list[str]:
    return _dedupe([normalize_chain(v) for v in values])


ContractType = Literal["技术开发", "技术转让", "技术许可", "技术咨询", "技术服务"]
PartyRole = Literal["供方", "需方"]
PartyKind = Literal["企业", "高校", "科研机构", "其他"]
CarrierKind = Literal["园区", "企业产线", "新设企业"]
Amount = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2), BeforeValidator(_number)]
Name = Annotated[Text, Field(min_length=1, max_length=200)]
Note = Annotated[Annotated[str, Field(max_length=2000)] | None, BeforeValidator(_blank_to_none)]
RegistrationNo = Annotated[Annotated[str, Field(max_length=60)] | None, BeforeValidator(_blank_to_none)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Party(_Input):
    """One party of a contract: 供方 supplies the technology, 需方 receives it."""

    role: PartyRole
    name: Name
    region: Region
    kind: PartyKind = "其他"


class ContractCreate(_Input):
    """A technology contract of a pairing; without parties, they are taken from the pairing's two records."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "contract_type": "技术许可",
                    "title": "相变蓄冷材料专利实施许可合同",
                    "signed_on": "2026-10-15",
                    "term_start": "2026-11-01",
                    "term_end": "2029-10-31",
                    "total_wan": 180,
                    "tech_wan": 150,
                    "registration_no": "2026120000301234",
                }
            ]
        }
    )

    contract_type: ContractType
    title: Name
    parties: list[Party] = Field(default_factory=list, max_length=10)
    signed_on: date
    term_start: Day = None
    term_end: Day = None
    total_wan: Amount
    tech_wan: Amount
    registration_no: RegistrationNo = None


class ContractUpdate(_Input):
    """Fields to change; absent fields stay as they are."""

    contract_type: ContractType | None = None
    title: Name | None = None
    parties: list[Party] | None = Field(default=None, max_length=10)
    signed_on: date | None = None
    term_start: Day = None
    term_end: Day = None
    total_wan: Amount | None = None
    tech_wan: Amount | None = None
    registration_no: RegistrationNo = None


class PartyRead(BaseModel):
    """A party as the caller may see it (a confidential need's enterprise is hidden from institutions)."""

    role: str
    name: str | None
    region: str
    kind: str


class ContractFile(BaseModel):
    """The stored contract file."""

    name: str
    type: str
    size: int
    sha256: str


class ContractRead(BaseModel):
    """A contract as stored."""

    id: int
    match_id: Id
    contract_type: str
    title: str
    parties: list[PartyRead]
    signed_on: date
    term_start: date | None
    term_end: date | None
    total_wan: FloatOut
    tech_wan: FloatOut
    registration_no: str | None
    file: ContractFile | None
    created_at: UtcDateTime
    updated_at: UtcDateTime


class ContractList(BaseModel):
    """The contracts of one pairing, oldest first."""

    items: list[ContractRead]
    total: int


class Funding(_Input):
    """Money a landed project received: which fund, how much (万元)."""

    fund: Name
    amount_wan: Amount


class LandingCreate(_Input):
    """Where and how a signed pairing landed; recording it moves the pairing to 落地."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "carrier_kind": "园区",
                    "carrier_name": "天开高教科创园",
                    "region": "天津",
                    "landed_on": "2026-11-20",
                    "funding": [{"fund": "天开园创业种子基金", "amount_wan": 100}],
                }
            ]
        }
    )

    carrier_kind: CarrierKind
    carrier_name: Name
    region: Region = "天津"
    landed_on: date
    funding: list[Funding] = Field(default_factory=list, max_length=20)
    note: Note = None


class LandingUpdate(_Input):
    """Corrections to a landing record; absent fields stay as they are."""

    carrier_kind: CarrierKind | None = None
    carrier_name: Name | None = None
    region: Region | None = None
    landed_on: date | None = None
    funding: list[Funding] | None = Field(default=None, max_length=20)
    note: Note = None


class FundingRead(BaseModel):
    """One funding entry."""

    fund: str
    amount_wan: float


class LandingRead(BaseModel):
    """A landing record."""

    id: int
    match_id: Id
    carrier_kind: str
    carrier_name: str
    region: str
    landed_on: date
    funding: list[FundingRead]
    funding_total_wan: float
    note: str | None
    created_at: UtcDateTime


# ------------------------------------------------------------------------------------------------------- resources

ResourceKind = Literal["园区", "孵化器", "中试平台", "概念验证中心", "基金"]
FundStage = Literal["种子期", "天使期", "初创期", "成长期"]
Chains = Annotated[list[str], BeforeValidator(_split_list), AfterValidator(_chains), Field(max_length=13)]


class ResourceCreate(_Input):
    """A landing resource; chains and region accept Traditional spellings."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "external_id": "ZY-TJ-001",
                    "name": "天开高教科创园概念验证中心",
                    "kind": "概念验证中心",
                    "region": "天津",
                    "chains": ["信创", "生物医药"],
                    "trl_min": 3,
                    "trl_max": 5,
                    "description": "为高校成果提供原理样机验证、商业化评估和小批量试制服务。",
                    "capacity": "每年验证项目 30 项",
                    "contact": "022-0000 0000",
                }
            ]
        }
    )

    external_id: ExternalId = None
    name: Name
    kind: ResourceKind
    region: Region = "天津"
    chains: Chains = Field(default_factory=list)
    trl_min: Trl = None
    trl_max: Trl = None
    description: Annotated[Text, Field(min_length=1, max_length=5000)]
    capacity: OptStr300 = None
    fund_stage: Annotated[FundStage | None, BeforeValidator(_blank_to_none)] = None
    ticket_min_wan: Wan = None
    ticket_max_wan: Wan = None
    contact: OptStr200 = None


class ResourceUpdate(_Input):
    """Fields to change; absent fields stay as they are."""

    external_id: ExternalId = None
    name: Name | None = None
    kind: ResourceKind | None = None
    region: Region | None = None
    chains: Chains | None = None
    trl_min: Trl = None
    trl_max: Trl = None
    description: Annotated[Text, Field(min_length=1, max_length=5000)] | None = None
    capacity: OptStr300 = None
    fund_stage: Annotated[FundStage | None, BeforeValidator(_blank_to_none)] = None
    ticket_min_wan: Wan = None
    ticket_max_wan: Wan = None
    contact: OptStr200 = None


class ResourceRead(BaseModel):
    """A landing resource as stored."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    external_id: str | None
    name: str
    kind: str
    region: str
    chains: list[str]
    trl_min: int | None
    trl_max: int | None
    description: str
    capacity: str | None
    fund_stage: str | None
    ticket_min_wan: FloatOut
    ticket_max_wan: FloatOut
    contact: str | None
    created_at: UtcDateTime
    updated_at: UtcDateTime


class FitCheck(BaseModel):
    """One comparison behind a fit."""

    name: str
    ok: bool | None
    resource_value: Any
    achievement_value: Any
    message: str


class ResourceFit(BaseModel):
    """A resource ranked for an achievement, with why."""

    rank: int
    score: float
    components: dict[str, float]
    checks: list[FitCheck]
    sentence: str
    resource: ResourceRead


class ResourceFitList(BaseModel):
    """The resources that fit one achievement, best first."""

    achievement_id: Id
    match_id: Id | None
    target_region: str
    items: list[ResourceFit]


# --------------------------------------------------------------------------------------------------------- targets


class TargetsUpdate(_Input):
    """Some of one year's targets."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"year": 2026, "targets": {"landed_from_jingji": 12, "events": 12}}]}
    )

    year: Annotated[int, Field(ge=2000, le=2100)]
    targets: dict[str, int] = Field(min_length=1)


class TargetProgress(BaseModel):
    """One target, its progress and the records counted."""

    key: str
    label: str
    unit: str
    target: int
    progress: int | None
    ratio: float | None
    met: bool | None
    how: str
    records: list[dict[str, Any]]


class TargetsRead(BaseModel):
    """The year's targets."""

    year: int
    items: list[TargetProgress]


class ResourceFilterParams(_Params):
    """Filters of the resource list; an unknown parameter answers 422."""

    kind: list[ResourceKind] = Field(default_factory=list, description="园区, 孵化器, 中试平台, 概念验证中心, 基金")
    region: list[str] = Field(default_factory=list, description="北京, 天津, 河北, 其他")
    chain: list[str] = Field(default_factory=list, description="industrial chain(s) served, e.g. 生物医药")
    trl: int | None = Field(default=None, ge=1, le=9, description="resources that take this readiness level")
    q: str | None = Field(default=None, max_length=200, description="text in the name or description")

    @field_validator("region", mode="before")
    @classmethod
    def _regions(cls, value: Any) -> list[str]:
        return [normalize_region(v) for v in ([value] if isinstance(value, str) else list(value or []))]

    @field_validator("chain", mode="before")
    @classmethod
    def _chains(cls, value: Any) -> list[str]:
        return [normalize_chain(v) for v in ([value] if isinstance(value, str) else list(value or []))]


class ResourceListParams(ResourceFilterParams, PageParams):
    """Filters and page of the resource list."""


class ResourceExportParams(ResourceFilterParams):
    """Filters and file format of a resource export."""

    format: Literal["csv", "xlsx", "json"] = Field(default="xlsx", description="csv, xlsx or json")
    headers: Literal["zh", "en"] = Field(default="zh", description="zh: Chinese labels with units; en: field names")
