"""The domain vocabulary: enumerations, the life cycle of a pairing, Chinese column labels and their normalisation
(see DOMAIN.md)."""

from __future__ import annotations

from enum import StrEnum

from matchmaker.search.text import normalize_text, to_simplified

# One name per concept. A record's industrial chain (所属产业链/领域) is its ``field``, the canonical column name of
# DOMAIN.md: the column, the API's bodies and query parameters, imports and exports, filters (``Filter.fields``), the
# web forms and the CLI's ``--field`` all say ``field``, as they say ``region`` for its region. The values are chains:
# the enumeration (``CHAINS``), its type and normaliser (``Chain``, ``normalize_chain``), the explanation's component
# ``chain`` (same chain or not) and the chains a resource serves or an event focuses on (``chains``: sets of values,
# not a record's own field). Likewise a list is a ``kind`` (``achievements`` / ``demands``), and every normaliser is
# spelled ``normalize_*``.
CHAINS: tuple[str, ...] = (
    "信创",
    "高端装备",
    "集成电路",
    "车联网",
    "新能源",
    "航空航天",
    "新材料",
    "汽车及新能源汽车",
    "生物医药",
    "中医药",
    "绿色石化",
    "轻纺",
    "其他",
)
REGIONS: tuple[str, ...] = ("北京", "天津", "河北", "其他")
TRANSFER_MODES: tuple[str, ...] = ("转让", "许可", "作价投资", "合作开发", "技术服务")


class AchievementStatus(StrEnum):
    draft = "draft"
    active = "active"
    archived = "archived"


class DemandStatus(StrEnum):
    draft = "draft"
    open = "open"
    closed = "closed"
    archived = "archived"


class NeedKind(StrEnum):
    """技术需求: a problem to solve; 应用场景: a place where a new technology can be tried or deployed."""

    problem = "技术需求"
    scenario = "应用场景"


class MatchStatus(StrEnum):
    """The stages of a need–achievement pairing (供需对接), in order; ``rejected`` may end any open stage."""

    proposed = "proposed"
    shortlisted = "shortlisted"
    contacted = "contacted"
    meeting = "meeting"
    signed = "signed"
    landed = "landed"
    rejected = "rejected"


class RejectReason(StrEnum):
    """Why a manager rejected a pairing."""

    not_relevant = "not_relevant"
    immature = "immature"
    too_expensive = "too_expensive"
    mode_mismatch = "mode_mismatch"
    already_solved = "already_solved"
    other = "other"


# The life cycle of a pairing: proposed (推荐) → shortlisted (初筛) → contacted (对接) → meeting (洽谈) → signed (签约)
# → landed (落地); any open stage may be rejected with a reason. landed and rejected are final; a decided pairing
# (any status but proposed) is never proposed again by a matching run.
MATCH_STATUSES: tuple[str, ...] = tuple(s.value for s in MatchStatus)
MATCH_STATUS_LABELS: dict[str, str] = {
    "proposed": "推荐",
    "shortlisted": "初筛",
    "contacted": "对接",
    "meeting": "洽谈",
    "signed": "签约",
    "landed": "落地",
    "rejected": "已拒绝",
}
MOVES: dict[str, tuple[str, ...]] = {
    "proposed": ("shortlisted", "rejected"),
    "shortlisted": ("contacted", "rejected"),
    "contacted": ("meeting", "rejected"),
    "meeting": ("signed", "rejected"),
    "signed": ("landed", "rejected"),
    "landed": (),
    "rejected": (),
}
"""The moves allowed from each status."""
DECIDED_STATUSES: tuple[str, ...] = tuple(s for s in MATCH_STATUSES if s != "proposed")
"""Statuses a manager has decided: a matching run leaves these pairings untouched and never proposes them again."""
REJECT_REASONS: tuple[str, ...] = tuple(r.value for r in RejectReason)
STAGE_ORDER: dict[str, int] = {s: i for i, s in enumerate(MATCH_STATUSES) if s != "rejected"}
"""The forward stages in order (the funnel)."""


def allowed_moves(status: str) -> tuple[str, ...]:
    """The statuses a pairing in ``status`` may move to (none from a final status)."""
    return MOVES.get(status, ())


RECORD_STATUS_LABELS: dict[str, str] = {
    "draft": "草稿",
    "active": "已发布",
    "open": "征集中",
    "closed": "已关闭",
    "archived": "已归档",
}
"""The statuses of achievements and needs as spreadsheets show them (imports accept either form)."""


def record_status(value: object) -> object:
    """A record status from its label (已发布 → active); anything else unchanged, for the enum to judge."""
    if isinstance(value, str):
        text = value.strip()
        return next((k for k, v in RECORD_STATUS_LABELS.items() if v == text), text)
    return value


# Canonical field name → Chinese column label used in offices' Excel sheets (DOMAIN.md).
ACHIEVEMENT_LABELS: dict[str, str] = {
    "external_id": "成果编号",
    "title": "成果名称",
    "summary": "成果简介",
    "keywords": "关键词",
    "field": "所属产业链",
    "owner": "完成单位",
    "region": "所在地区",
    "trl": "技术成熟度(1-9级)",
    "transfer_modes": "合作方式",
    "ip": "知识产权",
    "price_wan": "参考价格(万元)",
    "status": "状态",
}
DEMAND_LABELS: dict[str, str] = {
    "external_id": "需求编号",
    "title": "需求名称",
    "description": "需求描述",
    "keywords": "关键词",
    "field": "所属产业链",
    "enterprise": "需求单位",
    "region": "所在地区",
    "budget_wan": "预算(万元)",
    "min_trl": "最低成熟度要求(1-9级)",
    "deadline": "截止日期",
    "preferred_modes": "期望合作方式",
    "confidential": "是否保密",
    "bounty_wan": "揭榜挂帅奖金(万元)",
    "need_kind": "需求类型",
    "status": "状态",
}
# Other spellings offices use for the same columns (the DOMAIN.md labels with their qualifiers, common variants).
_LABEL_ALIASES: dict[str, str] = {
    "所属产业链/领域": "field",
    "所属领域": "field",
    "产业链": "field",
    "领域": "field",
    "完成单位/权属人": "owner",
    "权属人": "owner",
    "价格": "price_wan",
    "揭榜挂帅": "bounty_wan",
    "揭榜挂帅(万元)": "bounty_wan",
    "悬赏金额": "bounty_wan",
    "成熟度": "trl",
    "成熟度(TRL)": "trl",
    "TRL": "trl",
    "最低成熟度": "min_trl",
    "截止时间": "deadline",
    "合作模式": "transfer_modes",
    "保密": "confidential",
    "类型": "need_kind",
    "需求种类": "need_kind",
    "地区": "region",
    "简介": "summary",
    "描述": "description",
}


HEADER_EXAMPLES: dict[str, str] = {
    "external_id": "BJ-2024-0178",
    "title": "相变蓄冷材料 / 焊缝低温开裂",
    "summary": "潜热≥220 J/g，保温箱在35℃环境下保持2～8℃达120小时",
    "description": "注塑件一个周期40秒，冷却占一大半（需求）；百吨级材料放大中试线（资源）",
    "keywords": "相变蓄冷、冷链",
    "field": "新材料（" + "、".join(CHAINS[:3]) + " …）",
    "owner": "北方理工大学",
    "enterprise": "津沽重工有限公司",
    "region": "北京 / 天津 / 河北 / 其他",
    "trl": "7",
    "min_trl": "6",
    "transfer_modes": "许可、合作开发",
    "preferred_modes": "技术服务",
    "ip": "发明专利 4 项",
    "price_wan": "150",
    "budget_wan": "80",
    "deadline": "2027-03-31 或 2027年3月31日",
    "confidential": "是 / 否",
    "bounty_wan": "300",
    "need_kind": "技术需求 / 应用场景",
    "status": "已发布 / 征集中 / 草稿 …（或 active / open / draft）",
    "name": "天开高教科创园",
    "kind": "园区 / 孵化器 / 中试平台 / 概念验证中心 / 基金",
    "chains": "新材料、新能源",
    "trl_min": "5",
    "trl_max": "7",
    "capacity": "中试线 2 条",
    "fund_stage": "种子期 / 天使期 / 初创期 / 成长期",
    "ticket_min_wan": "100",
    "ticket_max_wan": "500",
    "contact": "张老师 022-12345678",
}
"""An example cell per import column (README's list of accepted headers shows them)."""


def _header_key(header: str) -> str:
    """Comparable form of a column header: NFKC, Simplified, no spaces, lower-case, ASCII brackets."""
    return to_simplified(normalize_text(header)).replace(" ", "").lower()


def accepted_headers(labels: dict[str, str]) -> dict[str, list[str]]:
    """Every header an import accepts for each field, in the order README lists them: the field name, the Chinese
    label (with its unit), the label without its unit (预算), then the other spellings offices use. Headers are
    compared after NFKC, Traditional → Simplified, without spaces and case (预算（万元） = 預算(萬元))."""
    out: dict[str, list[str]] = {name: [name, label] for name, label in labels.items()}
    for name, label in labels.items():
        bare = label.split("(")[0]
        if bare != label:
            out[name].append(bare)
    for alias, name in _LABEL_ALIASES.items():
        if name in labels:
            out[name].append(alias)
    if "preferred_modes" in labels:  # transfer-mode labels differ between the two lists
        out["preferred_modes"] += ["合作方式", "合作模式"]
    return {name: list(dict.fromkeys(spellings)) for name, spellings in out.items()}


def header_map(labels: dict[str, str]) -> dict[str, str]:
    """Map every accepted spelling of a column header (:func:`accepted_headers`) to its canonical field name."""
    return {
        _header_key(spelling): name for name, spellings in accepted_headers(labels).items() for spelling in spellings
    }


def canonical_header(header: str, mapping: dict[str, str]) -> str | None:
    """The canonical field for a header, or None when the header is unknown."""
    return mapping.get(_header_key(header))


def _enum_lookup(values: tuple[str, ...]) -> dict[str, str]:
    return {to_simplified(normalize_text(v)): v for v in values}


_CHAIN_LOOKUP = _enum_lookup(CHAINS)
_REGION_LOOKUP = {**_enum_lookup(REGIONS), "北京市": "北京", "天津市": "天津", "河北省": "河北"}
_MODE_LOOKUP = _enum_lookup(TRANSFER_MODES)


class NotOneOf(ValueError):
    """A value outside an enumeration; import reports name the allowed values in the reader's language."""

    def __init__(self, what: str, allowed: tuple[str, ...], value: str) -> None:
        super().__init__(f"{what} must be one of {'、'.join(allowed)} (got {value!r})")
        self.allowed = allowed


def _normalize_enum(value: str, lookup: dict[str, str], what: str, allowed: tuple[str, ...]) -> str:
    key = to_simplified(normalize_text(value))
    if key in lookup:
        return lookup[key]
    raise NotOneOf(what, allowed, value)


def normalize_chain(value: str) -> str:
    """Canonical Simplified industrial chain; Traditional spellings are accepted (生物醫藥 → 生物医药)."""
    return _normalize_enum(value, _CHAIN_LOOKUP, "industrial chain", CHAINS)


def normalize_region(value: str) -> str:
    """Canonical region (北京, 天津, 河北, 其他); 北京市 and Traditional spellings are accepted."""
    return _normalize_enum(value, _REGION_LOOKUP, "region", REGIONS)


def normalize_mode(value: str) -> str:
    """Canonical transfer mode (转让, 许可, 作价投资, 合作开发, 技术服务)."""
    return _normalize_enum(value, _MODE_LOOKUP, "transfer mode", TRANSFER_MODES)


def with_article(word: str) -> str:
    """The word with its English indefinite article: "an institution", "an achievement", "a manager"."""
    return f"{'an' if word[:1].lower() in 'aeio' else 'a'} {word}"


# Technology contracts (民法典 第三编 第二十章 技术合同) and where an achievement lands (seed 002).
CONTRACT_TYPES: tuple[str, ...] = ("技术开发", "技术转让", "技术许可", "技术咨询", "技术服务")
PARTY_ROLES: tuple[str, ...] = ("供方", "需方")  # who supplies the technology, who receives it
PARTY_KINDS: tuple[str, ...] = ("企业", "高校", "科研机构", "其他")
CARRIER_KINDS: tuple[str, ...] = (
    "园区",
    "企业产线",
    "新设企业",
)  # a park such as 天开高教科创园, a line, a new company

# Landing resources (载体与资源): what the Centre matches achievements to besides enterprises (seed 002).
RESOURCE_KINDS: tuple[str, ...] = ("园区", "孵化器", "中试平台", "概念验证中心", "基金")
FUND_STAGES: tuple[str, ...] = ("种子期", "天使期", "初创期", "成长期")
RESOURCE_LABELS: dict[str, str] = {
    "external_id": "资源编号",
    "name": "资源名称",
    "kind": "资源类型",
    "region": "所在地区",
    "chains": "服务产业链",
    "trl_min": "适用成熟度下限(1-9级)",
    "trl_max": "适用成熟度上限(1-9级)",
    "description": "资源简介",
    "capacity": "承载能力",
    "fund_stage": "投资阶段",
    "ticket_min_wan": "单笔投资下限(万元)",
    "ticket_max_wan": "单笔投资上限(万元)",
    "contact": "联系方式",
}
