"""Import and export of the lists (services/transfer.py): validate every row then upsert by external_id, dry runs and
all-or-nothing imports, members' boundaries, and exports that re-import to the same records."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matchmaker.errors import Forbidden, InvalidImport, TooLarge, ValidationFailed
from matchmaker.kinds import ACHIEVEMENTS, DEMANDS
from matchmaker.models import Achievement, ImportBatch
from matchmaker.schemas import DemandCreate
from matchmaker.services.access import Principal
from matchmaker.services.auth import get_or_create_org
from matchmaker.services.readers import ParsedFile, parse_file
from matchmaker.services.records import ListQuery, create_record
from matchmaker.services.transfer import export_records, import_rows, read_upload
from tests.factories import achievement, demand


def _rows(*bodies: dict[str, object]) -> ParsedFile:
    return ParsedFile(rows=[(number, dict(body)) for number, body in enumerate(bodies, start=2)])


def _offers(n: int, **overrides: object) -> list[dict[str, object]]:
    return [achievement(external_id=f"A-{i}", title=f"成果{i}", **overrides) for i in range(n)]


def _count(session: Session) -> int:
    session.flush()
    return session.scalar(select(func.count()).select_from(Achievement)) or 0


def test_upsert_by_external_id_counts_created_updated_and_unchanged(session: Session) -> None:
    first = import_rows(session, ACHIEVEMENTS, _rows(*_offers(3)), filename="a.csv", fmt="csv")
    assert (first.created, first.updated, first.unchanged, first.written) == (3, 0, 0, True)
    batch = session.get(ImportBatch, first.batch_id)
    assert batch is not None
    assert (batch.kind, batch.created) == ("achievements", 3)
    changed = _offers(3)
    changed[1]["trl"] = 9
    second = import_rows(session, ACHIEVEMENTS, _rows(*changed), filename="a.csv", fmt="csv")
    assert (second.created, second.updated, second.unchanged) == (0, 1, 2)
    updated = session.scalar(select(Achievement).where(Achievement.external_id == "A-1"))
    assert updated is not None
    assert (updated.trl, updated.source) == (9, f"import:{second.batch_id}")
    assert _count(session) == 3


def test_dry_run_reports_what_it_would_do_and_writes_nothing(session: Session) -> None:
    report = import_rows(session, ACHIEVEMENTS, _rows(*_offers(2)), filename="a.csv", fmt="csv", dry_run=True)
    assert (report.created, report.written, report.batch_id) == (2, False, None)
    assert _count(session) == 0


def test_bad_rows_are_reported_by_row_and_field_and_the_good_ones_written(session: Session) -> None:
    offers = _offers(3)
    offers[1]["trl"] = 12
    offers[2]["external_id"] = "A-0"  # the same id twice in one file
    report = import_rows(session, ACHIEVEMENTS, _rows(*offers), filename="a.csv", fmt="csv")
    assert (report.created, report.failed) == (1, 2)
    assert [(e.row, e.field) for e in report.errors] == [(3, "trl"), (4, "external_id")]
    assert "与第 2 行重复" in report.errors[1].message
    assert _count(session) == 1


def test_an_atomic_import_with_one_bad_row_writes_nothing(session: Session) -> None:
    offers = _offers(3)
    offers[2]["region"] = "火星"
    with pytest.raises(InvalidImport) as refused:
        import_rows(session, ACHIEVEMENTS, _rows(*offers), filename="a.csv", fmt="csv", atomic=True)
    assert refused.value.status_code == 422
    assert refused.value.fields[0]["field"] == "region"
    assert refused.value.extra["report"]["written"] is False
    assert _count(session) == 0


def test_a_member_neither_imports_the_other_list_nor_touches_anothers_record(session: Session) -> None:
    orgs = [get_or_create_org(session, f"institution-{uuid.uuid4().hex[:8]}", "institution") for _ in range(2)]
    session.flush()
    mine, theirs = (Principal(user_id=1, role="institution", org_id=o.id) for o in orgs)
    import_rows(session, ACHIEVEMENTS, _rows(*_offers(1)), filename="a.csv", fmt="csv", principal=theirs)
    report = import_rows(session, ACHIEVEMENTS, _rows(*_offers(1, trl=2)), filename="a.csv", fmt="csv", principal=mine)
    assert (report.created, report.updated, report.failed) == (1, 0, 0)  # its own record: the other's is untouched
    assert {r.trl for r in session.scalars(select(Achievement).where(Achievement.external_id == "A-0"))} == {2, 7}
    enterprise = Principal(user_id=1, role="enterprise", org_id=None)
    with pytest.raises(Forbidden):
        import_rows(session, ACHIEVEMENTS, _rows(*_offers(1)), filename="a.csv", fmt="csv", principal=enterprise)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_an_export_re_imports_to_the_same_records(session: Session, fmt: str) -> None:
    offers = _offers(2)
    offers[0]["title"] = "=1+1 成果"  # a formula-looking title survives the round trip as text
    import_rows(session, ACHIEVEMENTS, _rows(*offers), filename="a.csv", fmt="csv")
    for headers in ("en", "zh"):
        content = export_records(session, ACHIEVEMENTS, ListQuery(), fmt, headers=headers)
        parsed = parse_file(ACHIEVEMENTS, content, fmt, max_rows=100)  # type: ignore[arg-type]
        again = import_rows(session, ACHIEVEMENTS, parsed, filename=f"a.{fmt}", fmt=fmt)  # type: ignore[arg-type]
        assert (again.created, again.updated, again.unchanged, again.failed) == (0, 0, 2, 0)
    titles = session.scalars(select(Achievement.title).order_by(Achievement.id))
    assert list(titles) == ["=1+1 成果", "成果1"]


def test_an_export_hides_a_confidential_enterprise_from_an_institution(session: Session) -> None:
    create_record(session, DEMANDS, DemandCreate(**demand(confidential=True)))  # type: ignore[arg-type]
    institution = Principal(user_id=1, role="institution", org_id=None)
    (row,) = json.loads(export_records(session, DEMANDS, ListQuery(), "json", principal=institution))
    assert row["enterprise"] is None
    (staff_row,) = json.loads(export_records(session, DEMANDS, ListQuery(), "json"))
    assert staff_row["enterprise"] == "津南医药物流有限公司"


def test_bad_export_parameters_name_the_parameter(session: Session) -> None:
    with pytest.raises(ValidationFailed) as fmt:
        export_records(session, ACHIEVEMENTS, ListQuery(), "pdf")
    assert fmt.value.fields[0]["field"] == "format"
    with pytest.raises(ValidationFailed) as headers:
        export_records(session, ACHIEVEMENTS, ListQuery(), "csv", headers="fr")
    assert headers.value.fields[0]["field"] == "headers"


def test_an_upload_is_refused_as_soon_as_it_passes_the_limit() -> None:
    assert read_upload(io.BytesIO(b"x" * 100), limit_bytes=100) == b"x" * 100
    with pytest.raises(TooLarge) as large:
        read_upload(io.BytesIO(b"x" * (1024 * 1024 + 1)), limit_bytes=1024 * 1024)
    assert large.value.fields[0]["field"] == "file"
    with pytest.raises(InvalidImport) as empty:
        read_upload(io.BytesIO(b""), limit_bytes=100)
    assert empty.value.fields == [{"field": "file", "message": "empty"}]
