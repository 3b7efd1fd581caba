"""API schemas (pydantic v2): the records' input validation and normalisation shared by the API and the importers,
their read models, pages and import reports.

The other resources' request and response models live in submodules: :mod:`matchmaker.schemas.common` (the one
date-time format, pagination), :mod:`~matchmaker.schemas.matching` (match filters, ranked pairings, searches, runs),
:mod:`~matchmaker.schemas.review` (pairings under review, history, statistics), :mod:`~matchmaker.schemas.accounts`
(login, tokens, users) and :mod:`~matchmaker.schemas.queries` (query-parameter models of the lists).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from matchmaker.domain import (
    AchievementStatus,
    DemandStatus,
    NeedKind,
    normalize_chain,
    normalize_mode,
    normalize_region,
    record_status,
)
from matchmaker.schemas.common import MAX_DB_INT, ErrorBody, FieldProblem, Id, Offset, Page, UtcDateTime
from matchmaker.search.text import normalize_text, normalize_width

__all__ = [
    "MAX_DB_INT",
    "ERROR_RESPONSES",
    "AchievementCreate",
    "AchievementRead",
    "AchievementUpdate",
    "DemandCreate",
    "DemandRead",
    "DemandUpdate",
    "ErrorBody",
    "FieldProblem",
    "Id",
    "Offset",
    "ImportReport",
    "Page",
    "RowError",
]

LIST_SEPARATORS = re.compile(r"[、,，;；\n]")
_TRUE = {"true", "1", "yes", "y", "是", "保密", "t"}
_FALSE = {"false", "0", "no", "n", "否", "公开", "不保密", "f", ""}


def _blank_to_none(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        value = normalize_width(value)
        return value or None
    return value


def _split_list(value: Any) -> Any:
    """Accept a list or a string separated by 、 , ， ; ； (how lists are typed in Excel cells)."""
    if value is None:
        return []
    if isinstance(value, str):
        value = LIST_SEPARATORS.split(normalize_width(value))
    if isinstance(value, list | tuple):
        items = [normalize_text(str(v)) for v in value if v is not None]
        return [v for v in items if v]
    return value


def _dedupe(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _modes(values: list[str]) -> list[str]:
    return _dedupe([normalize_mode(v) for v in values])


def _number(value: Any) -> Any:
    """Numbers may arrive as strings with full-width digits, thousands separators or a 万元 unit."""
    value = _blank_to_none(value)
    if isinstance(value, str):
        value = normalize_text(value).replace(",", "").removesuffix("万元").removesuffix("万").strip()
    return value


def _integer(value: Any) -> Any:
    value = _number(value)
    if isinstance(value, float) and value.is_integer():  # Excel stores 7 as 7.0
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\d+\.0+", value):
        return value.split(".")[0]
    return value


def _boolean(value: Any) -> Any:
    if isinstance(value, str):
        key = normalize_text(value).lower()
        if key in _TRUE:
            return True
        if key in _FALSE:
            return False
    return False if value is None else value


def _date(value: Any) -> Any:
    value = _blank_to_none(value)
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        value = normalize_text(value).replace("/", "-").replace(".", "-")
        match = re.fullmatch(r"(\d{4})年(\d{1,2})月(\d{1,2})日?", value)
        if match:
            value = "-".join(match.groups())
        parts = value.split(" ")[0].split("-")
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            value = f"{int(parts[0]):04d}-{int(parts[1]):02d}-{int(parts[2]):02d}"
    return value


def _need_kind(value: Any) -> Any:
    """技术需求 / 应用场景; a blank cell is a technical need; 场景 and "scenario" are accepted."""
    value = _blank_to_none(value)
    if value is None:
        return NeedKind.problem
    if isinstance(value, str):
        key = normalize_text(value).lower()
        if key in ("场景", "scenario", "應用場景"):
            return NeedKind.scenario
        if key in ("需求", "problem", "技術需求"):
            return NeedKind.problem
    return value


OptStr200 = Annotated[Annotated[str, Field(max_length=200)] | None, BeforeValidator(_blank_to_none)]
OptStr300 = Annotated[Annotated[str, Field(max_length=300)] | None, BeforeValidator(_blank_to_none)]
Text = Annotated[str, BeforeValidator(lambda v: normalize_width(v) if isinstance(v, str) else v)]
Keywords = Annotated[
    list[Annotated[str, Field(max_length=60)]],
    BeforeValidator(_split_list),
    AfterValidator(_dedupe),
    Field(max_length=40),
]
Modes = Annotated[list[str], BeforeValidator(_split_list), AfterValidator(_modes)]
Chain = Annotated[str, BeforeValidator(_blank_to_none), AfterValidator(normalize_chain)]
Region = Annotated[str, BeforeValidator(_blank_to_none), AfterValidator(normalize_region)]
Wan = Annotated[Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)] | None, BeforeValidator(_number)]
Trl = Annotated[Annotated[int, Field(ge=1, le=9)] | None, BeforeValidator(_integer)]
Flag = Annotated[bool, BeforeValidator(_boolean)]
Day = Annotated[date | None, BeforeValidator(_date)]
ExternalId = Annotated[Annotated[str, Field(max_length=100)] | None, BeforeValidator(_blank_to_none)]
FloatOut = Annotated[
    Decimal | None, PlainSerializer(lambda v: None if v is None else float(v), return_type=float | None)
]

_EXAMPLE_ACHIEVEMENT: dict[str, Any] = {
    "external_id": "BJ-2024-0178",
    "title": "相变蓄冷材料及冷链运输箱温控技术",
    "summary": "研发相变温度-18℃～8℃可调的复合相变蓄冷材料，潜热≥220 J/g，循环1000次衰减<5%；"
    "配套保温箱可在35℃环境下保持2～8℃达120小时，适用于疫苗、生鲜冷链运输。",
    "keywords": ["相变蓄冷", "冷链", "保温箱"],
    "field": "新材料",
    "owner": "北方理工大学材料学院",
    "region": "北京",
    "trl": 7,
    "transfer_modes": ["许可", "合作开发"],
    "ip": "发明专利 4 项",
    "price_wan": 150,
}
_EXAMPLE_DEMAND: dict[str, Any] = {
    "external_id": "TJ-D-2025-031",
    "title": "疫苗冷链配送途中温度超标",
    "description": "我司疫苗配送车在夏季末端配送时，箱内温度常超过8℃，每月报废损失约20万元，"
    "需要无源保温方案，保持2～8℃不少于72小时。",
    "keywords": ["冷链", "温控"],
    "field": "生物医药",
    "enterprise": "津南医药物流有限公司",
    "region": "天津",
    "budget_wan": 200,
    "min_trl": 6,
    "deadline": "2027-06-30",
    "preferred_modes": ["许可", "转让"],
    "confidential": False,
    "bounty_wan": None,
}


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AchievementCreate(_Input):
    """A new achievement; enumerations accept Traditional spellings and are stored in canonical Simplified."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE_ACHIEVEMENT]})

    external_id: ExternalId = None
    title: Annotated[Text, Field(min_length=1, max_length=200)]
    summary: Annotated[Text, Field(min_length=1, max_length=5000)]
    keywords: Keywords = Field(default_factory=list)
    field: Chain = "其他"
    owner: OptStr200 = None
    region: Region = "其他"
    trl: Trl = None
    transfer_modes: Modes = Field(default_factory=list)
    ip: OptStr300 = None
    price_wan: Wan = None
    status: Annotated[AchievementStatus, BeforeValidator(record_status)] = AchievementStatus.active


class AchievementUpdate(_Input):
    """Fields to change; absent fields stay as they are."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"trl": 8, "price_wan": 180, "status": "active"}]})

    external_id: ExternalId = None
    title: Annotated[Text, Field(min_length=1, max_length=200)] | None = None
    summary: Annotated[Text, Field(min_length=1, max_length=5000)] | None = None
    keywords: Keywords | None = None
    field: Chain | None = None
    owner: OptStr200 = None
    region: Region | None = None
    trl: Trl = None
    transfer_modes: Modes | None = None
    ip: OptStr300 = None
    price_wan: Wan = None
    status: Annotated[AchievementStatus | None, BeforeValidator(record_status)] = None


class DemandCreate(_Input):
    """A new technical need; enumerations accept Traditional spellings and are stored in canonical Simplified."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE_DEMAND]})

    external_id: ExternalId = None
    title: Annotated[Text, Field(min_length=1, max_length=200)]
    description: Annotated[Text, Field(min_length=1, max_length=5000)]
    keywords: Keywords = Field(default_factory=list)
    field: Chain = "其他"
    enterprise: OptStr200 = None
    region: Region = "其他"
    budget_wan: Wan = None
    min_trl: Trl = None
    deadline: Day = None
    preferred_modes: Modes = Field(default_factory=list)
    confidential: Flag = False
    bounty_wan: Wan = None
    need_kind: Annotated[NeedKind, BeforeValidator(_need_kind)] = NeedKind.problem
    status: Annotated[DemandStatus, BeforeValidator(record_status)] = DemandStatus.open


class DemandUpdate(_Input):
    """Fields to change; absent fields stay as they are."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"min_trl": 6, "deadline": "2027-03-31"}]})

    external_id: ExternalId = None
    title: Annotated[Text, Field(min_length=1, max_length=200)] | None = None
    description: Annotated[Text, Field(min_length=1, max_length=5000)] | None = None
    keywords: Keywords | None = None
    field: Chain | None = None
    enterprise: OptStr200 = None
    region: Region | None = None
    budget_wan: Wan = None
    min_trl: Trl = None
    deadline: Day = None
    preferred_modes: Modes | None = None
    confidential: Flag | None = None
    bounty_wan: Wan = None
    need_kind: Annotated[NeedKind | None, BeforeValidator(_need_kind)] = None
    status: Annotated[DemandStatus | None, BeforeValidator(record_status)] = None


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    external_id: str | None
    title: str
    keywords: list[str]
    field: str
    region: str
    status: str
    language: str
    content_hash: str
    source: str
    created_at: UtcDateTime
    updated_at: UtcDateTime


class AchievementRead(_Read):
    """An achievement as stored."""

    summary: str
    owner: str | None
    trl: int | None
    transfer_modes: list[str]
    ip: str | None
    price_wan: FloatOut


class DemandRead(_Read):
    """A need as stored."""

    description: str
    enterprise: str | None
    budget_wan: FloatOut
    min_trl: int | None
    deadline: date | None
    preferred_modes: list[str]
    confidential: bool
    bounty_wan: FloatOut
    need_kind: str
    enterprise_hidden: bool = False


class RowError(BaseModel):
    """Why one row of an import failed."""

    row: int
    field: str = Field(description="the canonical field name")
    column: str | None = Field(None, description="the column as the file spelled it (else the Chinese label)")
    value: str | None = Field(None, description="the value the row gave, as text")
    message: str = Field(
        description="第 12 行 「预算(万元)」：应为数字（填写的是 “八十”）; English with Accept-Language: en"
    )


class RowDuplicate(BaseModel):
    """One probable duplicate of an import row: an existing record or another row of the file."""

    record_id: Id | None = None
    row: int | None = None
    probability: float
    evidence: dict[str, float]


class RowDuplicates(BaseModel):
    """The probable duplicates of one import row."""

    row: int
    duplicates: list[RowDuplicate]


class ImportReport(BaseModel):
    """What an import did (or, with dry_run, would do)."""

    batch_id: Id | None
    dry_run: bool
    atomic: bool
    written: bool
    rows: int
    created: int
    updated: int
    unchanged: int
    failed: int
    errors: list[RowError]
    duplicates: list[RowDuplicates] = Field(
        default_factory=list,
        description="Rows with probable duplicates among the existing records (record_id) or other rows (row); "
        "the real import keeps them and links them as duplicate candidates for review.",
    )
    warnings: list[str] = Field(default_factory=list, description="e.g. the unknown columns that were ignored")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "Bad request",
        401: "No valid bearer token (missing, unknown, revoked or expired)",
        403: "The caller's role may not do this",
        404: "Not found, or not visible to the caller",
        408: "The request body did not arrive in time",
        409: "Conflict with the current state (an id in use, an illegal move)",
        413: "The request body or the file is too large",
        422: "Invalid input; ``fields`` names each problem",
        429: "Too many failed logins; see the Retry-After header",
    }.items()
}
"""The error answers every API route may give, documented once for all of them."""
