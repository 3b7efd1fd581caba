"""Token authentication: a read stays a read (last use is recorded at a coarse resolution)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from matchmaker.services.auth import LAST_USED_RESOLUTION, authenticate, create_user, issue_token


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_last_use_is_written_at_most_once_per_resolution(session: Session) -> None:
    user = create_user(session, email="reader@test.example", role="manager")
    token, raw = issue_token(session, user, kind="personal", name="script")
    session.commit()

    authenticate(session, raw)
    first = token.last_used_at
    assert first is not None
    session.commit()

    # A second request within the resolution changes nothing: no UPDATE, the unit of work stays clean.
    principal = authenticate(session, raw)
    assert principal.token_id == token.id
    assert not session.dirty
    assert token.last_used_at == first

    # Once the recorded use is older than the resolution, the next request records it again.
    token.last_used_at = _aware(first) - LAST_USED_RESOLUTION
    session.commit()
    authenticate(session, raw)
    assert token.last_used_at is not None
    assert _aware(token.last_used_at) > _aware(first) - LAST_USED_RESOLUTION
    assert session.dirty
