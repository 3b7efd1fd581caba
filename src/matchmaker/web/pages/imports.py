"""Import for managers: upload a CSV / XLSX / JSON file, read the dry-run report as a table (row, column, problem),
then commit the same file; the past imports. The checking and writing are services.transfer's, as for the API."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import File, Form, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from matchmaker.api.deps import SessionDep
from matchmaker.errors import MatchmakerError, NotFound
from matchmaker.kinds import SPECS
from matchmaker.services import review
from matchmaker.services.access import Principal, require_staff
from matchmaker.services.readers import detect_format, parse_file
from matchmaker.services.row_errors import Language
from matchmaker.services.transfer import import_rows, read_upload
from matchmaker.web.deps import WebPrincipalDep, page_router
from matchmaker.web.i18n import request_lang
from matchmaker.web.templating import render

router = page_router()


def _uploads(request: Request) -> Path:
    path = Path(request.app.state.settings.data_dir) / "web-uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _context(session: Any, principal: Principal, **extra: Any) -> dict[str, Any]:
    return {"batches": review.list_batches(session, principal), "kinds": list(SPECS), **extra}


def _language(lang: str) -> Language:
    return "en" if lang == "en" else "zh"


def _run(
    session: Any,
    principal: Principal,
    kind: str,
    content: bytes,
    filename: str,
    settings: Any,
    dry: bool,
    lang: str,
) -> Any:
    spec = SPECS[kind]
    fmt = detect_format(filename, None)
    parsed = parse_file(spec, content, fmt, max_rows=settings.max_import_rows)
    report = import_rows(
        session, spec, parsed, filename=filename, fmt=fmt, dry_run=dry, principal=principal, lang=_language(lang)
    )
    problems = [{"row": e.row, "column": e.column, "message": e.message} for e in report.errors]
    return report, problems, parsed.ignored_columns


@router.get("/imports")
def imports_page(request: Request, session: SessionDep, principal: WebPrincipalDep) -> Response:
    """The upload form and the past imports."""
    require_staff(principal, "import lists")
    return render(request, "imports.html", _context(session, principal))


@router.post("/imports/check")
async def check(
    request: Request,
    session: SessionDep,
    principal: WebPrincipalDep,
    kind: Annotated[str, Form()],
    file: Annotated[UploadFile, File()],
) -> Response:
    """Dry run: validate every row, write nothing, keep the file for the commit."""
    require_staff(principal, "import lists")
    settings = request.app.state.settings
    if kind not in SPECS:
        raise NotFound(f"unknown list {kind!r}")
    filename = file.filename or "upload"
    try:
        content = await run_in_threadpool(read_upload, file.file, settings.max_upload_bytes)
        report, problems, ignored = await run_in_threadpool(
            _run, session, principal, kind, content, filename, settings, True, request_lang(request)
        )
    except MatchmakerError as exc:
        context = _context(session, principal, error=exc, kind=kind)
        return render(request, "imports.html", context, status_code=exc.status_code)
    token = secrets.token_hex(16)
    (_uploads(request) / token).write_bytes(content)
    (_uploads(request) / f"{token}.json").write_text(
        json.dumps({"kind": kind, "filename": filename, "by": principal.user_id})
    )
    context = _context(
        session, principal, report=report, problems=problems, ignored=ignored, token=token, filename=filename, kind=kind
    )
    return render(request, "imports.html", context)


@router.post("/imports/commit")
async def commit(
    request: Request, session: SessionDep, principal: WebPrincipalDep, token: Annotated[str, Form()]
) -> Response:
    """Write the file checked before (rows that failed are reported and skipped, as with the API)."""
    require_staff(principal, "import lists")
    folder = _uploads(request)
    meta_path, data_path = folder / f"{token}.json", folder / token
    if not token.isalnum() or not meta_path.exists():
        raise NotFound("this upload is no longer available; upload the file again")
    meta = json.loads(meta_path.read_text())
    if meta["by"] != principal.user_id:
        raise NotFound("this upload is no longer available; upload the file again")
    settings = request.app.state.settings
    report, problems, ignored = await run_in_threadpool(
        _run,
        session,
        principal,
        meta["kind"],
        data_path.read_bytes(),
        meta["filename"],
        settings,
        False,
        request_lang(request),
    )
    meta_path.unlink()
    data_path.unlink()
    context = _context(
        session, principal, report=report, problems=problems, ignored=ignored, committed=True, filename=meta["filename"]
    )
    return render(request, "imports.html", context)
