"""Technology contracts of a pairing (技术合同), their stored files, and the landing record (落地).

Managers and admins write; the two organisations of a pairing (its need's enterprise, its achievement's institution)
read their own pairing's contracts and landing. The life-cycle rules (no contract before 签约, no 落地 without a
contract) live in :mod:`matchmaker.services.workflow`.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import filetype  # type: ignore[import-untyped]
from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.errors import InvalidImport, NotFound, TooLarge, UnsupportedType, ValidationFailed, field_error
from matchmaker.models import Achievement, Demand, Match, Organisation
from matchmaker.models.landing import Landing, TechContract
from matchmaker.schemas.landing import ContractCreate, ContractUpdate, LandingCreate, LandingUpdate
from matchmaker.services import workflow
from matchmaker.services.access import Principal, masking, require_staff
from matchmaker.services.audit import actor_of, audit

# Detected by content (magic bytes), never by the file name: extension → media type.
CONTRACT_FILE_TYPES = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
CONTRACT_DIR = "contracts"


def _visible_match(session: Session, match_id: int, principal: Principal | None) -> tuple[Match, Demand, Achievement]:
    """The pairing with its two records; 404 when there is none or the caller is neither staff nor one of its sides."""
    workflow.get_match(session, match_id, principal)  # the one visibility rule of pairings
    row = session.execute(
        select(Match, Demand, Achievement)
        .join(Demand, Match.demand_id == Demand.id)
        .join(Achievement, Match.achievement_id == Achievement.id)
        .where(Match.id == match_id)
    ).one()
    return row[0], row[1], row[2]


def _hidden(session: Session, principal: Principal | None, demand: Demand) -> bool:
    return masking(session, principal, [demand.id]).hides(demand)


def party_kind(name: str | None, org_kind: str | None = None) -> str:
    """The party kind (企业, 高校, 科研机构, 其他) of an organisation, from its kind and its name."""
    text = name or ""
    if any(w in text for w in ("大学", "学院", "University", "College")):
        return "高校"
    if any(w in text for w in ("研究院", "研究所", "科学院", "实验室", "Institute", "Academy")):
        return "科研机构"
    if org_kind == "enterprise" or any(w in text for w in ("公司", "集团", "企业", "厂")):
        return "企业"
    return "其他"


def default_parties(session: Session, demand: Demand, achievement: Achievement) -> list[dict[str, Any]]:
    """The parties implied by a pairing: the achievement's owner supplies, the need's enterprise receives."""
    org_kind = session.scalar(select(Organisation.kind).where(Organisation.id == achievement.org_id))
    supplier = achievement.owner or "（未填写完成单位）"
    receiver = demand.enterprise or "（未填写需求单位）"
    return [
        {
            "role": "供方",
            "name": supplier,
            "region": achievement.region,
            "kind": party_kind(supplier, org_kind),
        },
        {"role": "需方", "name": receiver, "region": demand.region, "kind": party_kind(receiver, "enterprise")},
    ]


def _check_contract(values: dict[str, Any]) -> None:
    """Cross-field rules: 技术交易额 ≤ 合同成交总额, dates in order, one party on each side."""
    problems = []
    if values["tech_wan"] > values["total_wan"]:
        problems.append(
            field_error(
                "tech_wan",
                f"技术交易额 ({values['tech_wan']} 万元) 不能大于合同成交总额 ({values['total_wan']} 万元)",
            )
        )
    if values["signed_on"] > date.today():
        problems.append(field_error("signed_on", f"签订日期 {values['signed_on']} 在今天之后"))
    start, end = values.get("term_start"), values.get("term_end")
    if start and end and start > end:
        problems.append(field_error("term_end", f"合同期限的结束日期 {end} 早于开始日期 {start}"))
    if end and end < values["signed_on"]:
        problems.append(field_error("term_end", f"合同期限的结束日期 {end} 早于签订日期 {values['signed_on']}"))
    roles = {p["role"] for p in values["parties"]}
    for role in ("供方", "需方"):
        if role not in roles:
            problems.append(field_error("parties", f"缺少{role} (a contract names at least one 供方 and one 需方)"))
    if problems:
        raise ValidationFailed("; ".join(p["message"] for p in problems), fields=problems)


def present_contract(contract: TechContract, hide_enterprise: bool) -> dict[str, Any]:
    """A contract as the caller may see it: the 需方's name hidden while a confidential need is not disclosed."""
    parties = [{**p, "name": None} if hide_enterprise and p.get("role") == "需方" else p for p in contract.parties]
    stored = contract.file_path is not None and not hide_enterprise
    return {
        "id": contract.id,
        "match_id": contract.match_id,
        "contract_type": contract.contract_type,
        "title": contract.title,
        "parties": parties,
        "signed_on": contract.signed_on,
        "term_start": contract.term_start,
        "term_end": contract.term_end,
        "total_wan": contract.total_wan,
        "tech_wan": contract.tech_wan,
        "registration_no": contract.registration_no,
        "file": {
            "name": contract.file_name,
            "type": contract.file_type,
            "size": contract.file_size,
            "sha256": contract.file_sha256,
        }
        if stored
        else None,
        "created_at": contract.created_at,
        "updated_at": contract.updated_at,
    }


def create_contract(
    session: Session, match_id: int, data: ContractCreate, principal: Principal | None
) -> dict[str, Any]:
    """Record a contract of a signed (or landed) pairing; parties default to the pairing's two sides."""
    require_staff(principal, "record contracts")
    match, demand, achievement = _visible_match(session, match_id, principal)
    workflow.require_contract_stage(match)
    values = data.model_dump()
    values["parties"] = values["parties"] or default_parties(session, demand, achievement)
    _check_contract(values)
    contract = TechContract(match_id=match.id, created_by=actor_of(session), **values)
    session.add(contract)
    session.flush()
    audit(session, "contract", contract.id, "create", {k: v for k, v in values.items() if k != "parties"})
    return present_contract(contract, False)


def _contract(session: Session, contract_id: int, principal: Principal | None) -> tuple[TechContract, bool]:
    """A contract the caller may see, and whether the 需方 must be hidden from them."""
    contract = session.get(TechContract, contract_id)
    if contract is None:
        raise NotFound(f"contract {contract_id} not found")
    try:
        _, demand, _ = _visible_match(session, contract.match_id, principal)
    except NotFound:
        raise NotFound(f"contract {contract_id} not found") from None
    return contract, _hidden(session, principal, demand)


def get_contract(session: Session, contract_id: int, principal: Principal | None) -> dict[str, Any]:
    """One contract (404 when the caller is neither staff nor one side of its pairing)."""
    contract, hide = _contract(session, contract_id, principal)
    return present_contract(contract, hide)


def list_contracts(session: Session, match_id: int, principal: Principal | None) -> list[dict[str, Any]]:
    """The contracts of one pairing, oldest first."""
    _, demand, _ = _visible_match(session, match_id, principal)
    hide = _hidden(session, principal, demand)
    contracts = session.scalars(select(TechContract).where(TechContract.match_id == match_id).order_by(TechContract.id))
    return [present_contract(c, hide) for c in contracts]


def update_contract(
    session: Session, contract_id: int, data: ContractUpdate, principal: Principal | None
) -> dict[str, Any]:
    """Change the given fields; the cross-field rules are checked on the result."""
    require_staff(principal, "change contracts")
    contract, _ = _contract(session, contract_id, principal)
    changes = data.model_dump(exclude_unset=True)
    for name in ("contract_type", "title", "parties", "signed_on", "total_wan", "tech_wan"):
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be null", fields=[field_error(name, "cannot be null")])
    current = {name: getattr(contract, name) for name in ContractCreate.model_fields}
    merged = {**current, **changes}
    _check_contract(merged)
    diff = {k: [current[k], v] for k, v in changes.items() if current[k] != v and k != "parties"}
    for name, value in changes.items():
        setattr(contract, name, value)
    session.flush()
    if diff or "parties" in changes:
        audit(session, "contract", contract.id, "update", diff)
    return present_contract(contract, False)


def delete_contract(session: Session, contract_id: int, principal: Principal | None) -> None:
    """Delete a contract; a landed pairing keeps at least one (409)."""
    require_staff(principal, "delete contracts")
    contract, _ = _contract(session, contract_id, principal)
    match = session.get(Match, contract.match_id)
    assert match is not None
    workflow.require_contract_kept(session, match)
    audit(session, "contract", contract.id, "delete", {"title": contract.title, "match_id": contract.match_id})
    session.delete(contract)
    session.flush()


def read_limited(stream: BinaryIO, limit_bytes: int) -> bytes:
    """Read an upload, answering 413 as soon as it passes the limit and 422 when it is empty."""
    content = stream.read(limit_bytes + 1)
    if len(content) > limit_bytes:
        mib = limit_bytes / 1024 / 1024
        raise TooLarge(
            f"合同文件大于 {mib:g} MiB (the contract file is larger than {mib:g} MiB)",
            fields=[field_error("file", f"larger than {mib:g} MiB")],
            limit_bytes=limit_bytes,
        )
    if not content:
        raise InvalidImport("合同文件为空 (the uploaded file is empty)", fields=[field_error("file", "empty")])
    return content


def store_contract_file(
    session: Session,
    contract_id: int,
    filename: str,
    content: bytes,
    data_dir: Path,
    principal: Principal | None,
) -> dict[str, Any]:
    """Check the file's type by its content and store it under the data directory, named by its SHA-256."""
    require_staff(principal, "attach contract files")
    contract, _ = _contract(session, contract_id, principal)
    kind = filetype.guess(content)
    if kind is None or kind.extension not in CONTRACT_FILE_TYPES:
        found = kind.mime if kind is not None else "unknown"
        raise UnsupportedType(
            f"合同文件须为 PDF、PNG、JPEG 或 DOCX (the file's content is {found})",
            fields=[field_error("file", f"content type {found}; allowed: pdf, png, jpg, docx")],
        )
    digest = hashlib.sha256(content).hexdigest()
    relative = Path(CONTRACT_DIR) / str(contract.id) / f"{digest[:32]}.{kind.extension}"
    target = data_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():  # content-addressed: the same file is written once
        partial = target.with_suffix(".part")
        partial.write_bytes(content)
        partial.replace(target)
    old = contract.file_sha256
    contract.file_name = Path(filename or f"contract.{kind.extension}").name[:200]
    contract.file_type = kind.extension
    contract.file_size = len(content)
    contract.file_sha256 = digest
    contract.file_path = relative.as_posix()
    session.flush()
    audit(session, "contract", contract.id, "file", {"file_sha256": [old, digest], "file_name": contract.file_name})
    return present_contract(contract, False)


def contract_file(
    session: Session, contract_id: int, data_dir: Path, principal: Principal | None
) -> tuple[Path, str, str]:
    """The stored file's path, media type and name (404 when there is none or the caller may not read it)."""
    contract, hide = _contract(session, contract_id, principal)
    if contract.file_path is None or hide:
        raise NotFound(f"contract {contract_id} has no file")
    path = data_dir / contract.file_path
    if not path.is_file():
        raise NotFound(f"the file of contract {contract_id} is missing from the data directory")
    return path, CONTRACT_FILE_TYPES[contract.file_type or "pdf"], contract.file_name or path.name


# ---------------------------------------------------------------------------------------------------------- landing


def present_landing(landing: Landing) -> dict[str, Any]:
    """A landing record with its funding total."""
    total = sum((Decimal(str(f["amount_wan"])) for f in landing.funding), Decimal(0))
    return {
        "id": landing.id,
        "match_id": landing.match_id,
        "carrier_kind": landing.carrier_kind,
        "carrier_name": landing.carrier_name,
        "region": landing.region,
        "landed_on": landing.landed_on,
        "funding": landing.funding,
        "funding_total_wan": float(total),
        "note": landing.note,
        "created_at": landing.created_at,
    }


def _funding(values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"fund": f["fund"], "amount_wan": float(f["amount_wan"])} for f in values]


def _check_landing(session: Session, match_id: int, landed_on: date) -> None:
    first_signed = session.scalar(
        select(TechContract.signed_on).where(TechContract.match_id == match_id).order_by(TechContract.signed_on)
    )
    problems = []
    if landed_on > date.today():
        problems.append(field_error("landed_on", f"落地日期 {landed_on} 在今天之后"))
    if first_signed is not None and landed_on < first_signed:
        problems.append(field_error("landed_on", f"落地日期 {landed_on} 早于合同签订日期 {first_signed}"))
    if problems:
        raise ValidationFailed("; ".join(p["message"] for p in problems), fields=problems)


def record_landing(session: Session, match_id: int, data: LandingCreate, principal: Principal | None) -> dict[str, Any]:
    """Record where a signed pairing landed and move it to 落地 (409 without a contract, or when not signed)."""
    require_staff(principal, "record landings")
    match, _, _ = _visible_match(session, match_id, principal)
    workflow.require_signed_for_landing(match)
    if "contract" in workflow.landing_blockers(session, match.id):
        workflow.require_landing_ready(session, match)  # answers the 409 that says why
    _check_landing(session, match.id, data.landed_on)
    values = data.model_dump()
    values["funding"] = _funding(values["funding"])
    landing = Landing(match_id=match.id, created_by=actor_of(session), **values)
    session.add(landing)
    session.flush()
    audit(session, "landing", landing.id, "create", {k: v for k, v in values.items() if k != "funding"})
    workflow.update_match(session, match.id, {"status": "landed", "note": f"落地：{data.carrier_name}"}, principal)
    return present_landing(landing)


def _landing(session: Session, match_id: int, principal: Principal | None) -> Landing:
    _visible_match(session, match_id, principal)
    landing = session.scalar(select(Landing).where(Landing.match_id == match_id))
    if landing is None:
        raise NotFound(f"match {match_id} has no landing record")
    return landing


def get_landing(session: Session, match_id: int, principal: Principal | None) -> dict[str, Any]:
    """The landing record of a pairing (404 when it has none or the caller may not see the pairing)."""
    return present_landing(_landing(session, match_id, principal))


def update_landing(session: Session, match_id: int, data: LandingUpdate, principal: Principal | None) -> dict[str, Any]:
    """Correct a landing record."""
    require_staff(principal, "change landings")
    landing = _landing(session, match_id, principal)
    changes = data.model_dump(exclude_unset=True)
    for name in ("carrier_kind", "carrier_name", "region", "landed_on", "funding"):
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be null", fields=[field_error(name, "cannot be null")])
    if "landed_on" in changes:
        _check_landing(session, match_id, changes["landed_on"])
    if "funding" in changes:
        changes["funding"] = _funding(changes["funding"])
    diff = {k: [getattr(landing, k), v] for k, v in changes.items() if getattr(landing, k) != v}
    for name, value in changes.items():
        setattr(landing, name, value)
    session.flush()
    if diff:
        audit(session, "landing", landing.id, "update", diff)
    return present_landing(landing)
