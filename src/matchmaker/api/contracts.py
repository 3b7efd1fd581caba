"""Technology contracts of a pairing, their files, and the landing record (落地)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Response, UploadFile, status
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from matchmaker.api.deps import PrincipalDep, SessionDep, SettingsDep
from matchmaker.schemas.common import Id
from matchmaker.schemas.landing import (
    ContractCreate,
    ContractList,
    ContractRead,
    ContractUpdate,
    LandingCreate,
    LandingRead,
    LandingUpdate,
)
from matchmaker.services import contracts as svc
from matchmaker.services.access import require_staff

router = APIRouter(tags=["contracts"])


@router.post(
    "/matches/{match_id}/contracts",
    status_code=status.HTTP_201_CREATED,
    response_model=ContractRead,
    summary="Record a contract",
)
def create_contract(match_id: Id, body: ContractCreate, session: SessionDep, principal: PrincipalDep) -> Any:
    """Record a technology contract of a signed pairing (managers); 409 before 签约."""
    return svc.create_contract(session, match_id, body, principal)


@router.get("/matches/{match_id}/contracts", response_model=ContractList, summary="Contracts of a pairing")
def list_contracts(match_id: Id, session: SessionDep, principal: PrincipalDep) -> Any:
    """The pairing's contracts (staff, and the organisations of the pairing)."""
    items = svc.list_contracts(session, match_id, principal)
    return {"items": items, "total": len(items)}


@router.get("/contracts/{contract_id}", response_model=ContractRead, summary="Get a contract")
def get_contract(contract_id: Id, session: SessionDep, principal: PrincipalDep) -> Any:
    """One contract (404 for anyone but staff and the pairing's organisations)."""
    return svc.get_contract(session, contract_id, principal)


@router.patch("/contracts/{contract_id}", response_model=ContractRead, summary="Change a contract")
def update_contract(contract_id: Id, body: ContractUpdate, session: SessionDep, principal: PrincipalDep) -> Any:
    """Change the given fields of a contract (managers)."""
    return svc.update_contract(session, contract_id, body, principal)


@router.delete("/contracts/{contract_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a contract")
def delete_contract(contract_id: Id, session: SessionDep, principal: PrincipalDep) -> Response:
    """Delete a contract (managers); a landed pairing keeps at least one (409)."""
    svc.delete_contract(session, contract_id, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/contracts/{contract_id}/file", response_model=ContractRead, summary="Attach the contract file")
async def put_contract_file(
    contract_id: Id,
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    file: UploadFile = File(..., description="PDF, PNG, JPEG or DOCX, checked by content"),
) -> Any:
    """Store the signed contract (PDF, image or DOCX, by content) beside the data; 413 above the size limit."""
    require_staff(principal, "attach contract files")  # before reading the upload
    content = await run_in_threadpool(svc.read_limited, file.file, int(settings.max_contract_file_mb * 1024 * 1024))
    return await run_in_threadpool(
        svc.store_contract_file, session, contract_id, file.filename or "", content, settings.data_dir, principal
    )


@router.get(
    "/contracts/{contract_id}/file",
    response_class=FileResponse,
    summary="Download the contract file",
    responses={200: {"content": {t: {} for t in svc.CONTRACT_FILE_TYPES.values()}}},
)
def get_contract_file(contract_id: Id, session: SessionDep, settings: SettingsDep, principal: PrincipalDep) -> Any:
    """The stored contract file (staff, and the organisations of the pairing)."""
    path, media_type, name = svc.contract_file(session, contract_id, settings.data_dir, principal)
    return FileResponse(path, media_type=media_type, filename=name)


@router.post(
    "/matches/{match_id}/landing",
    status_code=status.HTTP_201_CREATED,
    response_model=LandingRead,
    summary="Record the landing",
)
def record_landing(match_id: Id, body: LandingCreate, session: SessionDep, principal: PrincipalDep) -> Any:
    """Record the carrier, date and funding of a signed pairing and move it to 落地 (409 without a contract)."""
    return svc.record_landing(session, match_id, body, principal)


@router.get("/matches/{match_id}/landing", response_model=LandingRead, summary="Landing of a pairing")
def get_landing(match_id: Id, session: SessionDep, principal: PrincipalDep) -> Any:
    """Where and how the pairing landed (404 when it has not)."""
    return svc.get_landing(session, match_id, principal)


@router.patch("/matches/{match_id}/landing", response_model=LandingRead, summary="Correct the landing")
def update_landing(match_id: Id, body: LandingUpdate, session: SessionDep, principal: PrincipalDep) -> Any:
    """Correct the landing record (managers)."""
    return svc.update_landing(session, match_id, body, principal)
