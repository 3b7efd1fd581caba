"""Bulk import of the lists from CSV, XLSX, JSON or JSON Lines files."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from starlette.concurrency import run_in_threadpool

from matchmaker.api.deps import PrincipalDep, SessionDep, SettingsDep
from matchmaker.schemas import ImportReport
from matchmaker.services.access import Principal, require_writer
from matchmaker.services.readers import detect_format, parse_file
from matchmaker.services.records import SPECS
from matchmaker.services.transfer import import_rows, read_upload

router = APIRouter(prefix="/imports", tags=["imports"])

DryRun = Annotated[bool, Query(description="validate and report without writing")]
Atomic = Annotated[bool, Query(description="write nothing when any row fails")]
Format = Annotated[str | None, Query(description="csv, xlsx, json or jsonl; default: from the file name")]


async def _import(
    kind: str,
    file: UploadFile,
    session: SessionDep,
    settings: SettingsDep,
    principal: Principal,
    dry_run: bool,
    atomic: bool,
    format: str | None,
) -> ImportReport:
    spec = SPECS[kind]
    require_writer(principal, kind)  # before reading the upload
    fmt = detect_format(file.filename, format)
    content = await run_in_threadpool(read_upload, file.file, settings.max_upload_bytes)
    parsed = await run_in_threadpool(
        partial(parse_file, max_rows=settings.max_import_rows, max_upload_bytes=settings.max_upload_bytes),
        spec,
        content,
        fmt,
    )
    return await run_in_threadpool(
        import_rows,
        session,
        spec,
        parsed,
        filename=file.filename or "upload",
        fmt=fmt,
        dry_run=dry_run,
        atomic=atomic,
        principal=principal,
    )


@router.post("/achievements", response_model=ImportReport)
async def import_achievements(
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    file: UploadFile = File(...),
    dry_run: DryRun = False,
    atomic: Atomic = False,
    format: Format = None,
) -> ImportReport:
    """Upsert achievements by external_id from an uploaded file (canonical or Chinese headers)."""
    return await _import("achievements", file, session, settings, principal, dry_run, atomic, format)


@router.post("/demands", response_model=ImportReport)
async def import_demands(
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    file: UploadFile = File(...),
    dry_run: DryRun = False,
    atomic: Atomic = False,
    format: Format = None,
) -> ImportReport:
    """Upsert needs by external_id from an uploaded file (canonical or Chinese headers)."""
    return await _import("demands", file, session, settings, principal, dry_run, atomic, format)
