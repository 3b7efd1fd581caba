"""The pairing page's 签约 and 落地 forms: record a technology contract, attach its file (type checked by content),
record where it landed (which moves the pairing to 落地); the contract file's download; and the ranked landing
resources of an achievement or a pairing (an HTMX fragment). The rules are services.contracts', services.workflow's
and services.resources', as for the API."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response, UploadFile
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from matchmaker.api.deps import SessionDep
from matchmaker.errors import InvalidImport, MatchmakerError
from matchmaker.schemas.landing import ContractCreate, LandingCreate
from matchmaker.services import contracts, resources
from matchmaker.services.access import Principal, require_staff
from matchmaker.web.deps import WebPrincipalDep, page_router, redirect
from matchmaker.web.forms import form_errors, placed, rows, validate
from matchmaker.web.i18n import Translator, request_lang
from matchmaker.web.pages.pairing import pairing_context
from matchmaker.web.templating import render

router = page_router()
CONTRACT_FIELDS = ("contract_type", "title", "signed_on", "term_start", "term_end", "total_wan", "tech_wan")
PARTY = ("role", "name", "region", "kind")
LANDING_FIELDS = ("carrier_kind", "carrier_name", "region", "landed_on", "note")
FUNDING = ("fund", "amount_wan")
MAX_ROWS = 20
FITS = 8


def _refused(request: Request, session: Session, principal: Principal, match_id: int, **extra: Any) -> Response:
    """The pairing page again, with what was typed and each problem beside its field."""
    session.rollback()
    context = {**pairing_context(session, principal, match_id), **extra}
    return render(request, "pairing.html", context, status_code=422)


@router.post("/pairings/{match_id}/contracts")
async def create_contract(request: Request, session: SessionDep, principal: WebPrincipalDep, match_id: int) -> Response:
    """Record a contract of a signed pairing; parties left blank come from the pairing's two records."""
    require_staff(principal, "record contracts")
    t = Translator(request_lang(request))
    form = await request.form()
    values: dict[str, Any] = {name: str(form.get(name) or "").strip() for name in CONTRACT_FIELDS}
    values["registration_no"] = str(form.get("registration_no") or "").strip()
    values["parties"] = rows(form, "parties", PARTY, ("name",), MAX_ROWS)
    body = {k: (v or None) if k in ("signed_on", "total_wan", "tech_wan") else v for k, v in values.items()}
    shown = {*CONTRACT_FIELDS, "registration_no", "parties"}
    shown |= {f"parties[{n}].{k}" for n in range(len(values["parties"])) for k in PARTY}
    data, errors = validate(ContractCreate, body, t, nested=True)
    if data is not None:
        try:
            contracts.create_contract(session, match_id, data, principal)  # type: ignore[arg-type]
            return redirect(f"/pairings/{match_id}#contracts", request)
        except MatchmakerError as exc:
            errors = form_errors(exc, t, shown)
    return _refused(request, session, principal, match_id, cv=values, cerrors=placed(errors, shown))


@router.post("/contracts/{contract_id}/file")
async def attach_file(
    request: Request, session: SessionDep, principal: WebPrincipalDep, contract_id: int, file: UploadFile | None = None
) -> Response:
    """Store the signed contract (PDF, PNG, JPEG or DOCX, by content); the refusal is shown beside the file field."""
    require_staff(principal, "attach contract files")  # before reading the upload
    settings = request.app.state.settings
    match_id = contracts.get_contract(session, contract_id, principal)["match_id"]
    t = Translator(request_lang(request))
    try:
        if file is None or not file.filename:
            raise InvalidImport("请选择合同文件 (no file chosen)", fields=[{"field": "file", "message": ""}])
        limit = int(settings.max_contract_file_mb * 1024 * 1024)
        content = await run_in_threadpool(contracts.read_limited, file.file, limit)
        await run_in_threadpool(
            contracts.store_contract_file,
            session,
            contract_id,
            file.filename,
            content,
            settings.data_dir,
            principal,
        )
    except MatchmakerError as exc:
        form_errors(exc, t, {"file"})  # who may not is answered as the API does
        return _refused(request, session, principal, match_id, ferrors={contract_id: exc.detail})
    return redirect(f"/pairings/{match_id}#contract-{contract_id}", request)


@router.get("/contracts/{contract_id}/file")
def download_file(request: Request, session: SessionDep, principal: WebPrincipalDep, contract_id: int) -> Response:
    """The stored contract file (staff, and the organisations of the pairing)."""
    path, media_type, name = contracts.contract_file(
        session, contract_id, request.app.state.settings.data_dir, principal
    )
    return FileResponse(path, media_type=media_type, filename=name)


@router.post("/pairings/{match_id}/landing")
async def record_landing(request: Request, session: SessionDep, principal: WebPrincipalDep, match_id: int) -> Response:
    """Record the carrier, date and funding; the pairing moves to 落地 (refused without a contract, saying why)."""
    require_staff(principal, "record landings")
    t = Translator(request_lang(request))
    form = await request.form()
    values: dict[str, Any] = {name: str(form.get(name) or "").strip() for name in LANDING_FIELDS}
    values["funding"] = rows(form, "funding", FUNDING, FUNDING, MAX_ROWS)
    body = {**values, "landed_on": values["landed_on"] or None}
    body["funding"] = [{**f, "amount_wan": f["amount_wan"] or None} for f in values["funding"]]
    shown = {*LANDING_FIELDS, "funding"}
    shown |= {f"funding[{n}].{k}" for n in range(len(values["funding"]) + 1) for k in FUNDING}
    data, errors = validate(LandingCreate, body, t, nested=True)
    if data is not None:
        try:
            contracts.record_landing(session, match_id, data, principal)  # type: ignore[arg-type]
            return redirect(f"/pairings/{match_id}#landing", request)
        except MatchmakerError as exc:
            errors = form_errors(exc, t, shown)
            if "contract" in exc.extra.get("missing", ()):  # the workflow's 409: said in the reader's language
                errors = {"form": t("landing.needs_contract")}
    return _refused(request, session, principal, match_id, lv=values, lerrors=placed(errors, shown))


# ------------------------------------------------------------------------------------------------- resources
def _fits(request: Request, session: Session, principal: Principal, **target: int) -> Response:
    search = request.app.state.search
    fits = None
    if search is not None:
        fits = resources.fitting_resources(session, search.cache, principal, limit=FITS, **target)
    return render(request, "_resources.html", {"fits": fits})


@router.get("/my/achievements/{record_id}/resources")
def achievement_resources(
    request: Request, session: SessionDep, principal: WebPrincipalDep, record_id: int
) -> Response:
    """The landing resources that fit an achievement, ranked and explained (an HTMX fragment of its page)."""
    return _fits(request, session, principal, achievement_id=record_id)


@router.get("/pairings/{match_id}/resources")
def pairing_resources(request: Request, session: SessionDep, principal: WebPrincipalDep, match_id: int) -> Response:
    """The resources that fit a pairing's achievement, landing where its need is (an HTMX fragment)."""
    return _fits(request, session, principal, match_id=match_id)
