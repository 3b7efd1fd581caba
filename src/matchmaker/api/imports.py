"""Bulk import of the lists from CSV, XLSX, JSON or JSON Lines files: one route body, /imports/{kind}, registered
for each list (the URLs /imports/achievements and /imports/demands)."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from starlette.concurrency import run_in_threadpool

from matchmaker.api.deps import LanguageDep, PrincipalDep, SessionDep, SettingsDep
from matchmaker.kinds import SPECS, KindSpec
from matchmaker.schemas import ImportReport
from matchmaker.services.access import require_writer
from matchmaker.services.readers import detect_format, parse_file
from matchmaker.services.transfer import import_rows, read_upload

router = APIRouter(prefix="/imports", tags=["imports"])

DryRun = Annotated[bool, Query(description="validate and report without writing")]
Atomic = Annotated[bool, Query(description="write nothing when any row fails")]
Format = Annotated[str | None, Query(description="csv, xlsx, json or jsonl; default: from the file name")]


def _import_route(spec: KindSpec) -> None:
    """The import route of one list: POST /imports/achievements, POST /imports/demands (one body for both)."""

    @router.post(f"/{spec.kind}", response_model=ImportReport, summary=f"Import {spec.kind}")
    async def import_list(
        session: SessionDep,
        settings: SettingsDep,
        principal: PrincipalDep,
        lang: LanguageDep,
        file: UploadFile = File(...),
        dry_run: DryRun = False,
        atomic: Atomic = False,
        format: Format = None,
    ) -> ImportReport:
        """Upsert records by external_id from an uploaded file (canonical or Chinese headers)."""
        require_writer(principal, spec.kind)  # before reading the upload
        fmt = detect_format(file.filename, format)
        content = await run_in_threadpool(read_upload, file.file, settings.max_upload_bytes)
        limits = partial(parse_file, max_rows=settings.max_import_rows, max_upload_bytes=settings.max_upload_bytes)
        parsed = await run_in_threadpool(limits, spec, content, fmt)
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
            lang=lang,
        )


for _spec in SPECS.values():
    _import_route(_spec)
