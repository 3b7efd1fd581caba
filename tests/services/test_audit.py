"""The audit log (services/audit.py): who made a change (the unit of work's caller, none from the CLI) and its values
stored as JSON (decimals as numbers, dates as ISO text, old and new values of an update)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.models import AuditEntry, User
from matchmaker.services.audit import actor_of, audit


def _last(session: Session) -> AuditEntry:
    session.flush()
    entry = session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    assert entry is not None
    return entry


def test_values_are_stored_as_json_and_read_back_equal(session: Session) -> None:
    changes = {"price_wan": [Decimal("150.5"), Decimal(200)], "deadline": date(2027, 6, 30)}
    audit(session, "achievement", 7, "update", changes)
    session.flush()
    session.expire_all()  # read what the database holds, not the object written
    entry = _last(session)
    assert (entry.entity, entry.entity_id, entry.action, entry.actor_id) == ("achievement", 7, "update", None)
    assert entry.changes == {"price_wan": [150.5, 200.0], "deadline": "2027-06-30"}


def test_the_actor_is_the_caller_named_on_the_unit_of_work(session: Session) -> None:
    assert actor_of(session) is None  # the CLI: nobody to name
    user = session.scalar(select(User).limit(1))  # the test app's first admin
    assert user is not None
    session.info["actor_id"] = user.id
    audit(session, "match", 1, "move", {"status": ["proposed", "shortlisted"]})
    assert _last(session).actor_id == user.id
