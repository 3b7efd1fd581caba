"""The Centre's yearly targets with their progress, and the upward report as a workbook."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from matchmaker.api.deps import PrincipalDep, SessionDep
from matchmaker.api.downloads import attachment
from matchmaker.schemas.landing import TargetsRead, TargetsUpdate
from matchmaker.services import report as report_svc
from matchmaker.services import targets as svc
from matchmaker.services.transfer import MEDIA_TYPES

router = APIRouter(prefix="/stats", tags=["targets"])
Year = Annotated[int | None, Query(ge=2000, le=2100, description="default: this year")]


@router.get("/targets", response_model=TargetsRead, summary="The Centre's targets and progress")
def get_targets(session: SessionDep, principal: PrincipalDep, year: Year = None) -> Any:
    """Each yearly target with its progress and the records behind the number (managers)."""
    return svc.progress(session, year or date.today().year, principal)


@router.put("/targets", response_model=TargetsRead, summary="Set the Centre's targets")
def put_targets(body: TargetsUpdate, session: SessionDep, principal: PrincipalDep) -> Any:
    """Set some of a year's targets; the others keep their value or the 2024 plan's default (managers)."""
    svc.set_targets(session, body.year, body.targets, principal)
    return svc.progress(session, body.year, principal)


@router.get(
    "/report",
    response_class=Response,
    summary="The upward report (XLSX)",
    responses={200: {"content": {MEDIA_TYPES["xlsx"]: {}}}},
)
def get_report(
    session: SessionDep,
    principal: PrincipalDep,
    since: Annotated[date, Query(description="first day of the period, e.g. 2026-01-01")],
    until: Annotated[date, Query(description="last day of the period (inclusive)")],
) -> Response:
    """Contracts by type, 技术交易额 by region flow and chain, landed achievements, for the period (managers)."""
    content = report_svc.build_report(session, since, until, principal)
    period = f"{since.isoformat()}至{until.isoformat()}"
    return attachment(content, MEDIA_TYPES["xlsx"], f"技术转移工作报表-{period}.xlsx", f"report-{since}-{until}.xlsx")
