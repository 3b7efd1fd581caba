"""Token authentication: a read stays a read (last use is recorded at a coarse resolution)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from matchmaker.models import ApiToken
from matchmaker.services.auth import LAST_USED_RESOLUTION, authenticate, create_user, issue_token


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _last_used(session: Session, token_id: int) -> datetime | None:
    return session.scalar(select(ApiToken.last_used_at).where(ApiToken.id == token_id))


def test_last_use_is_written_at_most_once_per_resolution(session: Session) -> None:
    user = create_user(session, email="reader@test.example", role="manager")
    token, raw = issue_token(session, user, kind="personal", name="script")
    token_id = token.id
    session.commit()
    updates: list[str] = []

    def count_updates(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            updates.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count_updates)
    try:
        principal = authenticate(session, raw)
        assert principal.token_id == token_id
        assert principal.user_id == user.id
        assert principal.role == "manager"
        first = _last_used(session, token_id)
        assert first is not None
        assert len(updates) == 1
        session.commit()

        # A second request within the resolution changes nothing: no UPDATE is sent.
        assert authenticate(session, raw).token_id == token_id
        assert len(updates) == 1
        assert _last_used(session, token_id) == first
        session.commit()

        # Once the recorded use is older than the resolution, the next request records it again.
        session.execute(
            update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=_aware(first) - LAST_USED_RESOLUTION)
        )
        session.commit()
        updates.clear()
        authenticate(session, raw)
        assert len(updates) == 1
        again = _last_used(session, token_id)
        assert again is not None
        assert _aware(again) > _aware(first) - LAST_USED_RESOLUTION
    finally:
        event.remove(engine, "before_cursor_execute", count_updates)
