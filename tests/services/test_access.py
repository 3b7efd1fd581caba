"""Who may see and change what (services/access.py), decided once: the SQL scope of a list agrees with the per-record
rule for every role, writing agrees between the record and its columns, and each role writes only its own list."""

from __future__ import annotations

import uuid

import pytest
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.errors import Forbidden
from matchmaker.kinds import ACHIEVEMENTS, DEMANDS, KindSpec, Record
from matchmaker.schemas import AchievementCreate, DemandCreate
from matchmaker.services.access import (
    ROLES,
    Principal,
    can_read,
    can_write,
    may_write,
    require_writer,
    scope_read,
)
from matchmaker.services.auth import get_or_create_org
from matchmaker.services.records import create_record


def _orgs(session: Session, kind: str) -> list[int]:
    orgs = [get_or_create_org(session, f"{kind}-{uuid.uuid4().hex[:8]}", kind) for _ in range(2)]
    session.flush()
    return [o.id for o in orgs]


def _principals(session: Session) -> list[Principal]:
    """Every role, members of each of two organisations, and members of none."""
    out = [Principal(user_id=1, role=role, org_id=None) for role in ROLES]
    for role in ("enterprise", "institution"):
        out += [Principal(user_id=1, role=role, org_id=org) for org in _orgs(session, role)]
    return out


def _records(session: Session, spec: KindSpec, owners: list[int | None]) -> list[Record]:
    """One record per (owner, status) of the list."""
    records = []
    for owner in owners:
        for status in spec.statuses:
            data: BaseModel
            if spec is ACHIEVEMENTS:
                data = AchievementCreate(title="成果", summary="简介", status=status)
            else:
                data = DemandCreate(title="需求", description="描述", status=status)
            record = create_record(session, spec, data)
            record.org_id = owner
            records.append(record)
    session.flush()
    return records


@pytest.mark.parametrize("spec", [ACHIEVEMENTS, DEMANDS], ids=lambda s: s.kind)
def test_the_scope_of_a_list_is_the_per_record_rule_for_every_caller(session: Session, spec: KindSpec) -> None:
    principals = _principals(session)
    owners: list[int | None] = [None, *{p.org_id for p in principals if p.org_id is not None}]
    records = _records(session, spec, owners)
    ids = {r.id for r in records}
    for principal in [*principals, None]:
        scoped = set(session.scalars(scope_read(select(spec.model.id), spec.kind, principal))) & ids
        assert scoped == {r.id for r in records if can_read(principal, r)}, principal
        for r in records:
            assert can_write(principal, r) == may_write(principal, spec.kind, r.org_id)
            if can_write(principal, r):  # whoever may change a record may see it
                assert can_read(principal, r)


def test_members_write_only_their_own_list() -> None:
    for role in ROLES:
        principal = Principal(user_id=1, role=role, org_id=None)
        for spec in (ACHIEVEMENTS, DEMANDS):
            if role in ("admin", "manager") or spec.writer == role:
                require_writer(principal, spec.kind)
            else:
                with pytest.raises(Forbidden):
                    require_writer(principal, spec.kind)
    require_writer(None, "demands")  # the CLI is trusted
