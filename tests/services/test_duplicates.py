"""Storing candidate pairs in bulk: new pairs inserted once, open pairs refreshed, decided pairs left alone."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.models.dedup import DuplicateCandidate
from matchmaker.search.duplicates import ScoredPair
from matchmaker.services.duplicates import store_pairs


def _pair(a: int, b: int, probability: float) -> ScoredPair:
    return ScoredPair(a, b, probability, probability >= 0.25, {"jaccard": probability})


def _stored(session: Session) -> dict[tuple[int, int], tuple[float, str, str]]:
    rows = session.scalars(select(DuplicateCandidate).where(DuplicateCandidate.kind == "achievements"))
    return {(c.record_a, c.record_b): (c.probability, c.status, c.source) for c in rows}


def test_store_pairs_inserts_refreshes_and_leaves_decided_pairs(session: Session) -> None:
    first = [_pair(1, 2, 0.9), _pair(1, 3, 0.5), _pair(1, 3, 0.5), _pair(-5, 4, 0.99)]  # a repeat, an import row
    assert store_pairs(session, "achievements", first, source="scan") == 2
    assert _stored(session) == {(1, 2): (0.9, "open", "scan"), (1, 3): (0.5, "open", "scan")}
    decided = session.scalars(select(DuplicateCandidate).where(DuplicateCandidate.record_b == 3)).one()
    decided.status = "not_duplicate"
    session.flush()
    again = [_pair(1, 2, 0.7), _pair(1, 3, 0.95), _pair(2, 3, 0.4)]
    assert store_pairs(session, "achievements", again, source="import", batch_id=None) == 1
    session.expire_all()
    assert _stored(session) == {
        (1, 2): (0.7, "open", "scan"),  # refreshed, still from the scan that found it
        (1, 3): (0.5, "not_duplicate", "scan"),  # decided: left alone
        (2, 3): (0.4, "open", "import"),
    }
    evidence = session.scalars(select(DuplicateCandidate.evidence).where(DuplicateCandidate.record_a == 2)).one()
    assert evidence == {"jaccard": 0.4}
    assert store_pairs(session, "achievements", [], source="scan") == 0
    session.rollback()
