"""Small builders of valid request bodies; override any field."""

from __future__ import annotations


def achievement(**overrides: object) -> dict[str, object]:
    """A valid achievement body; override any field."""
    body: dict[str, object] = {
        "external_id": "BJ-T-001",
        "title": "相变蓄冷材料及冷链运输箱温控技术",
        "summary": "相变温度-18℃～8℃可调，潜热≥220 J/g，循环1000次衰减<5%，保温箱2～8℃保持120小时。",
        "keywords": ["相变蓄冷", "冷链"],
        "field": "新材料",
        "owner": "北方理工大学材料学院",
        "region": "北京",
        "trl": 7,
        "transfer_modes": ["许可", "合作开发"],
        "ip": "发明专利 4 项",
        "price_wan": 150,
    }
    body.update(overrides)
    return body


def demand(**overrides: object) -> dict[str, object]:
    """A valid demand body; override any field."""
    body: dict[str, object] = {
        "external_id": "TJ-T-D-001",
        "title": "疫苗冷链配送途中温度超标",
        "description": "夏季末端配送时箱内温度常超过8℃，每月报废损失约20万元，需保持2～8℃不少于72小时。",
        "keywords": ["冷链", "温控"],
        "field": "生物医药",
        "enterprise": "津南医药物流有限公司",
        "region": "天津",
        "budget_wan": 200,
        "min_trl": 6,
        "deadline": "2027-06-30",
        "preferred_modes": ["许可"],
        "confidential": False,
    }
    body.update(overrides)
    return body
