"""The Centre's yearly targets (2024 plan, seed 002) and the progress the records show, with the records behind
every number. Targets are configurable per year; a year without its own uses the plan's defaults."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.errors import ValidationFailed, field_error
from matchmaker.models import Achievement, utcnow
from matchmaker.models.events import Event
from matchmaker.models.landing import CentreTarget, Landing, TechContract
from matchmaker.search.ranking import INBOUND_REGIONS, TARGET_REGION
from matchmaker.services.access import Principal, require_staff
from matchmaker.services.audit import audit
from matchmaker.services.report import landings_in_period


@dataclass(frozen=True)
class TargetSpec:
    """One target: its key, what it means, its unit, the plan's default and how the records count towards it."""

    key: str
    label: str
    unit: str
    default: int
    how: str


TARGETS: tuple[TargetSpec, ...] = (
    TargetSpec(
        "landed_from_jingji",
        "引入京冀科技成果在津落地转化",
        "项",
        10,
        "当年落地日期、落地地区为天津、成果所在地区为北京或河北的已落地对接，按成果计数",
    ),
    TargetSpec(
        "joint_research_enterprises",
        "京冀创新机构与天津重点企业联合攻关",
        "家",
        5,
        "当年签订的技术开发合同中，供方在北京或河北、需方为天津企业，按需方企业计数",
    ),
    TargetSpec(
        "events",
        "项目推介、供需对接、融资路演等活动",
        "场",
        10,
        "当年举办并已结束（状态为已结束）的活动，按活动计数",
    ),
)
SPECS = {t.key: t for t in TARGETS}


def targets_for(session: Session, year: int) -> dict[str, int]:
    """The year's targets: its own where set, the plan's defaults otherwise."""
    own = {t.key: t.target for t in session.scalars(select(CentreTarget).where(CentreTarget.year == year))}
    return {t.key: own.get(t.key, t.default) for t in TARGETS}


def set_targets(session: Session, year: int, values: dict[str, int], principal: Principal | None) -> None:
    """Set some of a year's targets (managers); unknown keys and negative values answer 422."""
    require_staff(principal, "set the Centre's targets")
    problems = [
        field_error(f"targets.{k}", f"unknown target; one of {', '.join(SPECS)}") for k in values if k not in SPECS
    ]
    problems += [field_error(f"targets.{k}", "must be ≥ 0") for k, v in values.items() if k in SPECS and v < 0]
    if problems:
        raise ValidationFailed("; ".join(f"{p['field']}: {p['message']}" for p in problems), fields=problems)
    before = targets_for(session, year)
    for key, value in values.items():
        row = session.get(CentreTarget, (year, key))
        if row is None:
            session.add(CentreTarget(year=year, key=key, target=value))
        else:
            row.target = value
            row.updated_at = utcnow()
    session.flush()
    audit(session, "targets", year, "update", {k: [before[k], v] for k, v in values.items() if before[k] != v})


def landed_from_jingji(session: Session, since: date, until: date) -> list[dict[str, Any]]:
    """Landed pairings of achievements from 北京 / 河北 that landed in 天津 between the two dates (inclusive)."""
    rows = session.execute(
        landings_in_period(since, until).where(
            Landing.region == TARGET_REGION, Achievement.region.in_(sorted(INBOUND_REGIONS))
        )
    ).all()
    return [
        {
            "match_id": m.id,
            "achievement_id": a.id,
            "achievement_external_id": a.external_id,
            "achievement": a.title,
            "achievement_region": a.region,
            "need_kind": d.need_kind,
            "carrier_kind": landing.carrier_kind,
            "carrier": landing.carrier_name,
            "landed_on": landing.landed_on.isoformat(),
        }
        for landing, m, a, d in rows
    ]


def joint_research(session: Session, since: date, until: date) -> list[dict[str, Any]]:
    """技术开发 contracts signed between the dates with a 北京 / 河北 supplier and a Tianjin enterprise receiving."""
    contracts = session.scalars(
        select(TechContract)
        .where(
            TechContract.contract_type == "技术开发",
            TechContract.signed_on >= since,
            TechContract.signed_on <= until,
        )
        .order_by(TechContract.signed_on, TechContract.id)
    )
    out = []
    for c in contracts:
        suppliers = [p for p in c.parties if p["role"] == "供方" and p["region"] in INBOUND_REGIONS]
        enterprises = [
            p for p in c.parties if p["role"] == "需方" and p["region"] == TARGET_REGION and p["kind"] == "企业"
        ]
        for enterprise in enterprises:
            if suppliers:
                out.append(
                    {
                        "contract_id": c.id,
                        "match_id": c.match_id,
                        "enterprise": enterprise["name"],
                        "institutions": [p["name"] for p in suppliers],
                        "title": c.title,
                        "signed_on": c.signed_on.isoformat(),
                        "tech_wan": float(c.tech_wan),
                    }
                )
    return out


def events_held(session: Session, since: date, until: date) -> list[dict[str, Any]]:
    """The events of the period that took place (status 已结束 / finished), by their first day."""
    held = session.scalars(
        select(Event)
        .where(Event.status == "finished", Event.starts_on >= since, Event.starts_on <= until)
        .order_by(Event.starts_on, Event.id)
    )
    return [{"event_id": e.id, "title": e.title, "kind": e.kind, "starts_on": e.starts_on.isoformat()} for e in held]


def progress(session: Session, year: int, principal: Principal | None) -> dict[str, Any]:
    """Every target of the year with its progress and the records behind it (managers)."""
    require_staff(principal, "see the Centre's targets")
    if not 2000 <= year <= 2100:
        raise ValidationFailed("year must be between 2000 and 2100", fields=[field_error("year", "out of range")])
    since, until = date(year, 1, 1), date(year, 12, 31)
    targets = targets_for(session, year)
    landed = landed_from_jingji(session, since, until)
    research = joint_research(session, since, until)
    counted: dict[str, tuple[int | None, list[dict[str, Any]]]] = {
        "landed_from_jingji": (len({r["achievement_id"] for r in landed}), landed),
        "joint_research_enterprises": (len({r["enterprise"] for r in research}), research),
        "events": (len(events := events_held(session, since, until)), events),
    }
    items = []
    for spec in TARGETS:
        value, records = counted[spec.key]
        target = targets[spec.key]
        items.append(
            {
                "key": spec.key,
                "label": spec.label,
                "unit": spec.unit,
                "target": target,
                "progress": value,
                "ratio": None if value is None or target == 0 else round(value / target, 4),
                "met": None if value is None else value >= target,
                "how": spec.how,
                "records": records,
            }
        )
    return {"year": year, "items": items}
