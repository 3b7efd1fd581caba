"""Rules of both lists (services/records.py): who writes, organisation and external-id rules, the change log and
audit every write appends, the list query's checks and text filter, and what a reader may see."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.errors import Conflict, Forbidden, NotFound, ValidationFailed
from matchmaker.kinds import ACHIEVEMENTS, DEMANDS
from matchmaker.models import AuditEntry, Embedding, RecordChange
from matchmaker.schemas import AchievementCreate, DemandCreate, DemandUpdate
from matchmaker.schemas.queries import RecordListParams
from matchmaker.services.access import Principal
from matchmaker.services.auth import get_or_create_org
from matchmaker.services.records import (
    apply_changes,
    content_hash,
    create_record,
    delete_record,
    get_record,
    list_query,
    list_records,
    present,
    update_record,
)
from tests.factories import achievement, demand

MANAGER = Principal(user_id=1, role="manager", org_id=None)


def _member(session: Session, role: str) -> Principal:
    org = get_or_create_org(session, f"{role}-{uuid.uuid4().hex[:8]}", role)
    session.flush()
    return Principal(user_id=1, role=role, org_id=org.id)


def _changes(session: Session, kind: str, record_id: int) -> list[str]:
    session.flush()  # the change log rows of the last write (the app's sessions do not autoflush)
    stmt = select(RecordChange.op).where(RecordChange.kind == kind, RecordChange.record_id == record_id)
    return list(session.scalars(stmt.order_by(RecordChange.id)))


def test_a_member_writes_only_its_own_list_and_its_records_name_its_organisation(session: Session) -> None:
    enterprise = _member(session, "enterprise")
    need = create_record(
        session, DEMANDS, DemandCreate(**demand(enterprise=None, external_id=None)), principal=enterprise
    )
    assert need.org_id == enterprise.org_id
    assert need.enterprise is not None  # 需求单位 filled from the member's organisation
    assert need.enterprise.startswith("enterprise-")
    with pytest.raises(Forbidden):
        create_record(session, ACHIEVEMENTS, AchievementCreate(**achievement()), principal=enterprise)
    # A value given explicitly is kept; staff records belong to the organisation they name.
    named = create_record(session, DEMANDS, DemandCreate(**demand(external_id="D-2", enterprise="津南物流")))
    assert named.enterprise == "津南物流"
    assert named.org_id is not None


def test_an_external_id_is_unique_within_its_organisation_and_reveals_no_other(session: Session) -> None:
    institution = _member(session, "institution")
    first = create_record(session, ACHIEVEMENTS, AchievementCreate(**achievement()), principal=institution)
    with pytest.raises(Conflict) as again:
        create_record(session, ACHIEVEMENTS, AchievementCreate(**achievement()), principal=institution)
    assert again.value.fields[0]["field"] == "external_id"
    other = _member(session, "institution")
    theirs = create_record(session, ACHIEVEMENTS, AchievementCreate(**achievement()), principal=other)
    assert theirs.id != first.id
    assert theirs.org_id == other.org_id != first.org_id


def test_every_write_appends_to_the_change_log_and_the_audit(session: Session) -> None:
    offer = create_record(session, ACHIEVEMENTS, AchievementCreate(**achievement()))
    old_hash = offer.content_hash
    assert offer.content_hash == content_hash(offer.embed_text())
    assert apply_changes(session, ACHIEVEMENTS, offer, {"trl": offer.trl, "title": offer.title}) is False
    assert _changes(session, "achievements", offer.id) == ["upsert"]  # nothing changed, nothing logged
    assert apply_changes(session, ACHIEVEMENTS, offer, {"summary": "全新的成果简介"}) is True
    assert offer.content_hash != old_hash  # the vector must be recomputed
    vector = Embedding(kind="achievements", record_id=offer.id, model="m", content_hash="h", dimension=2, vector=b"")
    session.add(vector)
    session.flush()
    delete_record(session, ACHIEVEMENTS, offer.id)
    assert _changes(session, "achievements", offer.id) == ["upsert", "upsert", "delete"]
    assert session.scalars(select(Embedding).where(Embedding.record_id == offer.id)).all() == []
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.entity == "achievement", AuditEntry.entity_id == offer.id)
    )
    assert list(actions) == ["create", "update", "delete"]


def test_required_fields_cannot_be_set_to_null(session: Session) -> None:
    need = create_record(session, DEMANDS, DemandCreate(**demand()))
    for name in ("title", "description", "field", "region", "status"):
        with pytest.raises(ValidationFailed) as null:
            apply_changes(session, DEMANDS, need, {name: None})
        assert null.value.fields[0]["field"] == name


def test_another_organisations_record_is_not_found_to_a_writer(session: Session) -> None:
    owner, stranger = _member(session, "enterprise"), _member(session, "enterprise")
    need = create_record(session, DEMANDS, DemandCreate(**demand()), principal=owner)
    with pytest.raises(NotFound):
        get_record(session, DEMANDS, need.id, stranger)
    with pytest.raises(NotFound):
        update_record(session, DEMANDS, need.id, DemandUpdate(title="改"), stranger)
    assert get_record(session, DEMANDS, need.id, owner, write=True) is need
    # an institution reads an open need but may never change it
    institution = _member(session, "institution")
    assert get_record(session, DEMANDS, need.id, institution) is need
    with pytest.raises(Forbidden):
        update_record(session, DEMANDS, need.id, DemandUpdate(title="改"), institution)


def test_list_query_names_each_bad_parameter() -> None:
    bad = RecordListParams.model_validate({"status": ["open", "gone"], "trl_min": 7, "trl_max": 3})
    with pytest.raises(ValidationFailed) as problems:
        list_query(DEMANDS, bad)
    assert [f["field"] for f in problems.value.fields] == ["status", "trl_min"]
    with pytest.raises(ValidationFailed) as kind:
        list_query(ACHIEVEMENTS, RecordListParams.model_validate({"need_kind": "应用场景"}))
    assert kind.value.fields[0]["field"] == "need_kind"


def _titles(session: Session, **params: object) -> list[str]:
    records, total = list_records(session, ACHIEVEMENTS, list_query(ACHIEVEMENTS, RecordListParams(**params)))
    assert total == len(records)
    return [r.title for r in records]


def test_list_filters_and_text_in_either_script(session: Session) -> None:
    rows = [
        ("A1", "鋰電池極片塗佈缺陷檢測", "新能源", "北京", 7),  # Traditional
        ("A2", "锂电池回收湿法冶金", "新能源", "河北", 4),
        ("A3", "达标率100%_的冷链箱", "新材料", "北京", 6),
    ]
    for ext, title, chain, region, trl in rows:
        data = achievement(external_id=ext, title=title, field=chain, region=region, trl=trl)
        create_record(session, ACHIEVEMENTS, AchievementCreate(**data))  # type: ignore[arg-type]
    assert _titles(session, q="锂电池") == [rows[0][1], rows[1][1]]  # Simplified finds the Traditional title
    assert _titles(session, q="100%_") == [rows[2][1]]  # % and _ are literal, not wildcards
    assert _titles(session, q="0%") == [rows[2][1]]
    assert _titles(session, field=["新能源"], trl_min=5) == [rows[0][1]]
    assert _titles(session, region=["北京"], sort="-trl") == [rows[0][1], rows[2][1]]
    assert _titles(session, external_id="A2") == [rows[1][1]]


def test_present_hides_a_confidential_enterprise_from_an_institution_only(session: Session) -> None:
    need = create_record(session, DEMANDS, DemandCreate(**demand(confidential=True)))
    institution = _member(session, "institution")
    (hidden,) = present(session, DEMANDS, [need], institution)
    assert hidden.enterprise is None
    assert hidden.enterprise_hidden is True
    (shown,) = present(session, DEMANDS, [need], MANAGER)
    assert shown.enterprise == "津南医药物流有限公司"
