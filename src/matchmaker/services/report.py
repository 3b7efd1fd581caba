"""The report managers send upward, as a workbook: contracts by type, 技术交易额 by region flow and by chain, landed
achievements with their carriers, for a chosen period.

Every figure is a value (no formula) computed from records, and every summary row lists the ids of the contracts it
adds up; the 合同明细 sheet holds those contracts one per row, so each number can be checked by hand. Headers are
Chinese with units, the header row is frozen, dates are real dates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from matchmaker.domain import CONTRACT_TYPES
from matchmaker.errors import ValidationFailed, field_error
from matchmaker.models import Achievement, Demand, Match
from matchmaker.models.landing import Landing, TechContract
from matchmaker.services.access import Principal, require_staff
from matchmaker.services.tables import Table, write_workbook


def _first(parties: list[dict[str, Any]], role: str, key: str) -> str:
    values = [p[key] for p in parties if p.get("role") == role]
    return "、".join(values) if key == "name" else (values[0] if values else "其他")


def contract_rows(session: Session, since: date, until: date) -> list[dict[str, Any]]:
    """The contracts signed in the period, each with its pairing's achievement chain and the parties' regions."""
    rows = session.execute(
        select(TechContract, Achievement)
        .join(Match, TechContract.match_id == Match.id)
        .join(Achievement, Match.achievement_id == Achievement.id)
        .where(TechContract.signed_on >= since, TechContract.signed_on <= until)
        .order_by(TechContract.signed_on, TechContract.id)
    ).all()
    out = []
    for c, a in rows:
        supplier_region = _first(c.parties, "供方", "region")
        receiver_region = _first(c.parties, "需方", "region")
        out.append(
            {
                "id": c.id,
                "match_id": c.match_id,
                "type": c.contract_type,
                "title": c.title,
                "signed_on": c.signed_on,
                "supplier": _first(c.parties, "供方", "name"),
                "supplier_region": supplier_region,
                "receiver": _first(c.parties, "需方", "name"),
                "receiver_region": receiver_region,
                "flow": f"{supplier_region}→{receiver_region}",
                "field": a.field,
                "total_wan": c.total_wan,
                "tech_wan": c.tech_wan,
                "registration_no": c.registration_no,
            }
        )
    return out


def landings_in_period(since: date, until: date) -> Select[Landing, Match, Achievement, Demand]:
    """The landings of landed pairings between the two dates (inclusive), with the pairing, its achievement and its
    need, oldest first: what the report and the Centre's targets count."""
    return (
        select(Landing, Match, Achievement, Demand)
        .join(Match, Landing.match_id == Match.id)
        .join(Achievement, Match.achievement_id == Achievement.id)
        .join(Demand, Match.demand_id == Demand.id)
        .where(Match.status == "landed", Landing.landed_on >= since, Landing.landed_on <= until)
        .order_by(Landing.landed_on, Landing.id)
    )


def landed_rows(session: Session, since: date, until: date) -> list[dict[str, Any]]:
    """The pairings that landed in the period, with their achievement, need, carrier and funding."""
    rows = session.execute(landings_in_period(since, until)).all()
    return [
        {
            "match_id": m.id,
            "achievement_external_id": a.external_id,
            "achievement": a.title,
            "achievement_region": a.region,
            "field": a.field,
            "enterprise": d.enterprise,
            "need_kind": d.need_kind,
            "carrier_kind": landing.carrier_kind,
            "carrier": landing.carrier_name,
            "region": landing.region,
            "landed_on": landing.landed_on,
            "funding_wan": sum((Decimal(str(f["amount_wan"])) for f in landing.funding), Decimal(0)),
            "funds": "、".join(f["fund"] for f in landing.funding),
        }
        for landing, m, a, d in rows
    ]


def summarise(contracts: list[dict[str, Any]], key: str, order: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Contracts grouped by one column: count, 合同成交总额, 技术交易额 and the contract ids behind them."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in contracts:
        groups[c[key]].append(c)
    keys = [k for k in order if k in groups] + sorted(k for k in groups if k not in set(order))
    return [
        {
            "group": k,
            "count": len(groups[k]),
            "total_wan": sum((c["total_wan"] for c in groups[k]), Decimal(0)),
            "tech_wan": sum((c["tech_wan"] for c in groups[k]), Decimal(0)),
            "ids": [c["id"] for c in groups[k]],
        }
        for k in keys
    ]


def _ids(ids: list[int]) -> str:
    return "、".join(str(i) for i in ids)


def build_report(session: Session, since: date, until: date, principal: Principal | None) -> bytes:
    """The upward report for [since, until] (inclusive) as XLSX bytes (managers)."""
    require_staff(principal, "export the report")
    if since > until:
        raise ValidationFailed(
            f"the period ends ({until}) before it starts ({since})", fields=[field_error("until", "before since")]
        )
    contracts = contract_rows(session, since, until)
    landed = landed_rows(session, since, until)
    summary_headers = ["合同数(份)", "合同成交总额(万元)", "技术交易额(万元)", "合同ID(见合同明细)"]

    def summary_rows(groups: list[dict[str, Any]]) -> list[list[Any]]:
        rows = [[g["group"], g["count"], g["total_wan"], g["tech_wan"], _ids(g["ids"])] for g in groups]
        total = [sum(g["count"] for g in groups), sum((g["total_wan"] for g in groups), Decimal(0))]
        rows.append(["合计", *total, sum((g["tech_wan"] for g in groups), Decimal(0)), ""])
        return rows

    overview = Table(
        "说明",
        ["项目", "内容"],
        [
            ["统计期间开始", since],
            ["统计期间结束", until],
            ["技术合同(份)", len(contracts)],
            ["落地成果(项)", len(landed)],
            ["口径", "合同按签订日期、落地按落地日期计入期间；金额单位万元；各汇总行的合同ID见“合同明细”"],
        ],
        widths=[16, 60],
    )
    tables = [overview]
    tables.append(
        Table("合同按类型", ["合同类型", *summary_headers], summary_rows(summarise(contracts, "type", CONTRACT_TYPES)))
    )
    flows = summary_rows(summarise(contracts, "flow"))
    tables.append(Table("按区域流向", ["区域流向(供方→需方)", *summary_headers], flows))
    tables.append(Table("按产业链", ["产业链(成果)", *summary_headers], summary_rows(summarise(contracts, "field"))))
    tables.append(Table(
        "落地成果",
        [
            "对接ID", "成果编号", "成果名称", "成果地区", "产业链", "需求单位", "需求类型", "载体类型", "载体名称",
            "落地地区", "落地日期", "获得资金(万元)", "资金来源",
        ],
        [
            [
                r["match_id"], r["achievement_external_id"], r["achievement"], r["achievement_region"], r["field"],
                r["enterprise"], r["need_kind"], r["carrier_kind"], r["carrier"], r["region"], r["landed_on"],
                r["funding_wan"], r["funds"],
            ]
            for r in landed
        ],
    ))  # fmt: skip
    tables.append(Table(
        "合同明细",
        [
            "合同ID", "对接ID", "合同类型", "合同名称", "签订日期", "供方", "供方地区", "需方", "需方地区",
            "产业链(成果)", "合同成交总额(万元)", "技术交易额(万元)", "登记号",
        ],
        [
            [
                c["id"], c["match_id"], c["type"], c["title"], c["signed_on"], c["supplier"], c["supplier_region"],
                c["receiver"], c["receiver_region"], c["field"], c["total_wan"], c["tech_wan"], c["registration_no"],
            ]
            for c in contracts
        ],
    ))  # fmt: skip
    return write_workbook(tables)
