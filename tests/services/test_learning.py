"""Learning ranking weights from decisions."""

from __future__ import annotations

import random

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from matchmaker.errors import ValidationFailed
from matchmaker.models import Match
from matchmaker.search.ranking import Weights
from matchmaker.services.learning import learn_weights
from tests.factories import achievement, demand


def _decisions(client: TestClient, session: Session, n: int) -> None:
    """Managers accept similar pairings with strong word evidence and reject the others, whatever the chain says."""
    rng = random.Random(7)
    offers = [client.post("/api/v1/achievements", json=achievement(external_id=f"L{i}")).json()["id"] for i in range(n)]
    need = client.post("/api/v1/demands", json=demand()).json()["id"]
    for i, offer in enumerate(offers):
        lexical, semantic = rng.random() * 0.3, 0.4 + rng.random() * 0.3
        accepted = lexical + (semantic - 0.55) + rng.gauss(0, 0.02) > 0.15
        components = {
            "semantic": semantic,
            "lexical": lexical,
            "chain": 0.06 * rng.randint(0, 1),
            "trl": 0.04,
            "mode": 0.03,
            "price": 0.015,
            "region": 0.03,
            "freshness": 0.01,
        }
        session.add(
            Match(
                demand_id=need,
                achievement_id=offer,
                rank=i + 1,
                score=sum(components.values()),
                status="shortlisted" if accepted else "rejected",
                reject_reason=None if accepted else "not_relevant",
                explanation={"components": components},
            )
        )
    session.commit()


def test_learned_weights_follow_the_decisions(client: TestClient, session: Session) -> None:
    _decisions(client, session, 60)
    learned = learn_weights(session, Weights())
    assert learned.accepted + learned.rejected == 60
    assert learned.weights.semantic == Weights().semantic
    assert learned.weights.lexical > Weights().lexical  # decisions reward word evidence more than the defaults
    assert learned.weights.penalty == Weights().penalty
    assert learned.train_accuracy > 0.8


def test_too_few_decisions_is_a_clear_error(client: TestClient, session: Session) -> None:
    _decisions(client, session, 6)
    with pytest.raises(ValidationFailed, match="need at least 10 accepted"):
        learn_weights(session, Weights())
