"""Sample 揭榜挂帅 challenges (data/sample/challenges.json), built from sample needs and published, for the demo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.models import Demand, utcnow
from matchmaker.models.challenges import Challenge, ChallengeEvent
from matchmaker.schemas.challenges import ChallengeCreate
from matchmaker.services.challenges import create

SAMPLE_NOTE = "样例数据直接张榜 (sample data, published without vetting)"


def load_sample_challenges(session: Session, path: Path) -> int:
    """Create the sample challenges missing by external_id, published; returns how many were created."""
    if not path.exists():
        return 0
    created = 0
    for item in json.loads(path.read_text(encoding="utf-8"))["challenges"]:
        if session.scalar(select(Challenge.id).where(Challenge.external_id == item["external_id"])) is not None:
            continue
        body: dict[str, Any] = {k: v for k, v in item.items() if k != "from_needs"}
        needs = item.get("from_needs") or []
        body["demand_ids"] = list(session.scalars(select(Demand.id).where(Demand.external_id.in_(needs))))
        challenge_id = create(session, ChallengeCreate.model_validate(body), None)
        challenge = session.get(Challenge, challenge_id)
        assert challenge is not None
        now = utcnow()
        session.add(
            ChallengeEvent(
                challenge_id=challenge_id, from_stage="draft", to_stage="published", reason=SAMPLE_NOTE, at=now
            )
        )
        challenge.stage, challenge.stage_changed_at = "published", now
        created += 1
    session.flush()
    return created
