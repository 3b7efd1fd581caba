"""The 榜单 as others read it: a spreadsheet (Chinese headers with units, real dates, frozen header) and a printable
HTML page. Only published challenges (张榜 and later) are exported, with confidential issuers masked."""

from __future__ import annotations

from datetime import date
from typing import Any

from jinja2 import Environment, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.errors import NotFound
from matchmaker.models.challenges import Challenge
from matchmaker.services.challenges import PUBLIC_STAGES, STAGE_LABELS, _parts, issuer_label
from matchmaker.services.tables import write_table

COLUMNS: tuple[tuple[str, int], ...] = (
    ("榜单编号", 14),
    ("榜单名称", 36),
    ("发榜单位", 24),
    ("所属产业链", 12),
    ("所在地区", 10),
    ("攻关目标", 50),
    ("考核指标", 50),
    ("榜额（万元）", 12),
    ("中心配套（万元）", 14),
    ("揭榜条件", 40),
    ("申报截止日期", 14),
    ("攻关周期（月）", 12),
    ("知识产权", 30),
    ("联系人", 24),
    ("状态", 10),
)


def _indicator_text(indicators: list[Any]) -> str:
    return "；".join(f"{i.name} {i.comparator} {float(i.target_value):g} {i.unit}" for i in indicators)


def _eligibility_text(rules: dict[str, Any]) -> str:
    parts = []
    if rules.get("org_kinds"):
        parts.append("单位类型：" + "、".join(rules["org_kinds"]))
    if rules.get("regions"):
        parts.append("牵头单位地区：" + "、".join(rules["regions"]))
    if rules.get("min_trl"):
        parts.append(f"前期成果成熟度不低于 TRL {rules['min_trl']}")
    if rules.get("qualifications"):
        parts.append(str(rules["qualifications"]))
    return "；".join(parts) or "不限"


def _contacts_text(contacts: list[dict[str, Any]]) -> str:
    return "；".join(" ".join(str(c[k]) for k in ("name", "phone", "email") if c.get(k)) for c in contacts)


def board(session: Session, ids: list[int] | None = None) -> list[dict[str, Any]]:
    """The published challenges (or the given ones, if published) as rows of the 榜单, latest deadline first."""
    stmt = select(Challenge).where(Challenge.stage.in_(PUBLIC_STAGES))
    if ids:
        stmt = stmt.where(Challenge.id.in_(ids))
    challenges = list(session.scalars(stmt.order_by(Challenge.deadline.desc(), Challenge.id)))
    if ids and len(challenges) != len(set(ids)):
        missing = sorted(set(ids) - {c.id for c in challenges})
        raise NotFound(f"challenge(s) {missing} not found or not published")
    indicators, _ = _parts(session, [c.id for c in challenges])
    rows = []
    for c in challenges:
        ip = "；".join(x for x in (c.ip_ownership, c.ip_licence) if x)
        rows.append(
            {
                "榜单编号": c.external_id or f"JB-{c.id:04d}",
                "榜单名称": c.title,
                "发榜单位": issuer_label(c, c.confidential),
                "所属产业链": c.field,
                "所在地区": c.region,
                "攻关目标": c.goal,
                "考核指标": _indicator_text(indicators[c.id]),
                "榜额（万元）": float(c.bounty_wan),
                "中心配套（万元）": float(c.cofund_wan) if c.cofund_wan is not None else None,
                "揭榜条件": _eligibility_text(c.eligibility),
                "申报截止日期": c.deadline,
                "攻关周期（月）": c.research_months,
                "知识产权": ip,
                "联系人": _contacts_text(c.contacts),
                "状态": STAGE_LABELS[c.stage],
                "indicators": [
                    {"name": i.name, "comparator": i.comparator, "value": f"{float(i.target_value):g}", "unit": i.unit}
                    for i in indicators[c.id]
                ],
            }
        )
    return rows


def to_xlsx(rows: list[dict[str, Any]]) -> bytes:
    """The 榜单 spreadsheet: Chinese headers with units, numbers as numbers, real dates, frozen header row."""
    cells = [[row[name] for name, _ in COLUMNS] for row in rows]
    titles, widths = [name for name, _ in COLUMNS], [width for _, width in COLUMNS]
    return write_table("xlsx", titles, cells, sheet="揭榜挂帅榜单", widths=widths)


_TEMPLATE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>揭榜挂帅榜单</title>
<style>
body{font-family:"Noto Sans SC","Microsoft YaHei",sans-serif;margin:2em;color:#222}
h1{text-align:center;font-size:1.6em} .meta{text-align:center;color:#555}
section{border:1px solid #999;padding:1em 1.5em;margin:1.5em 0;page-break-inside:avoid}
h2{font-size:1.2em;margin:0 0 .5em} table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{border:1px solid #bbb;padding:.3em .5em;text-align:left;vertical-align:top} th{background:#f2f2f2;width:9em}
@media print{body{margin:0} section{page-break-after:always}}
</style></head><body>
<h1>京津冀国家技术创新中心天津中心 揭榜挂帅榜单</h1>
<p class="meta">共 {{ rows|length }} 项 · 导出日期 {{ today }}</p>
{% for r in rows %}<section>
<h2>{{ r["榜单编号"] }} {{ r["榜单名称"] }}</h2>
<table>
<tr><th>发榜单位</th><td>{{ r["发榜单位"] }}</td></tr>
<tr><th>所属产业链</th><td>{{ r["所属产业链"] }}（{{ r["所在地区"] }}）</td></tr>
<tr><th>攻关目标</th><td>{{ r["攻关目标"] }}</td></tr>
<tr><th>榜额</th><td>{{ "%.2f"|format(r["榜额（万元）"]) }} 万元
{%- if r["中心配套（万元）"] is not none %}，中心配套 {{ "%.2f"|format(r["中心配套（万元）"]) }} 万元
{%- endif %}</td></tr>
<tr><th>揭榜条件</th><td>{{ r["揭榜条件"] }}</td></tr>
<tr><th>申报截止日期</th><td>{{ r["申报截止日期"].strftime("%Y年%m月%d日") }}</td></tr>
<tr><th>攻关周期</th><td>{{ r["攻关周期（月）"] }} 个月</td></tr>
<tr><th>知识产权</th><td>{{ r["知识产权"] or "协商确定" }}</td></tr>
<tr><th>联系人</th><td>{{ r["联系人"] or "天津中心成果转化组" }}</td></tr>
<tr><th>状态</th><td>{{ r["状态"] }}</td></tr>
</table>
<table><tr><th>考核指标</th><th>目标值</th><th>单位</th></tr>
{% for i in r["indicators"] %}
<tr><td>{{ i.name }}</td><td>{{ i.comparator }} {{ i.value }}</td><td>{{ i.unit }}</td></tr>
{% endfor %}</table>
</section>{% endfor %}
</body></html>
"""
_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def to_html(rows: list[dict[str, Any]], today: date | None = None) -> bytes:
    """A printable page of the 榜单 (one challenge per printed page)."""
    return _ENV.from_string(_TEMPLATE).render(rows=rows, today=(today or date.today()).isoformat()).encode("utf-8")
