"""Builders of valid 揭榜挂帅 request bodies; override any field."""

from __future__ import annotations

from datetime import date, timedelta


def challenge(**overrides: object) -> dict[str, object]:
    """A valid challenge body with two indicators; override any field."""
    body: dict[str, object] = {
        "title": "大厚度铝合金搅拌摩擦焊缝缺陷在线检测",
        "goal": "研制可在线识别40 mm厚铝合金搅拌摩擦焊缝内部缺陷的检测装备，并在车体产线应用。",
        "field": "高端装备",
        "region": "天津",
        "bounty_wan": 300,
        "cofund_wan": 100,
        "deadline": (date.today() + timedelta(days=30)).isoformat(),
        "research_months": 18,
        "indicators": [
            {"name": "缺陷检出率", "comparator": "≥", "target_value": 98, "unit": "%", "detail": "超声相控阵检测"},
            {"name": "单米检测时间", "comparator": "<=", "target_value": 30, "unit": "s"},
        ],
        "eligibility": {"org_kinds": ["高校", "科研院所", "企业"], "regions": ["北京", "天津", "河北"], "min_trl": 4},
        "ip_ownership": "发榜方与揭榜方共有",
        "contacts": [{"name": "王工", "phone": "022-5888 0000"}],
    }
    body.update(overrides)
    return body


def proposal(indicator_ids: list[int], **overrides: object) -> dict[str, object]:
    """A valid proposal promising a value for each indicator; override any field."""
    body: dict[str, object] = {
        "lead_kind": "高校",
        "lead_region": "北京",
        "partners": [],
        "team": "焊接检测团队12人，教授3人",
        "approach": "相控阵超声与深度学习缺陷识别结合，产线在线部署。",
        "achievement_ids": [],
        "promises": [{"indicator_id": i, "value": 99} for i in indicator_ids],
        "budget_wan": 280,
        "schedule": [{"month": 6, "milestone": "样机"}, {"month": 18, "milestone": "产线验收"}],
    }
    body.update(overrides)
    return body
