"""One pairing for a manager: the need and the achievement side by side with the shared terms highlighted, the
constraint checks, the score components, the sentence, the history, notes, assignee and disclosure; once signed, its
contracts and landing (the forms are in pages/contracts.py)."""

from __future__ import annotations

from typing import Annotated, Any, get_args

from fastapi import Form, Request, Response

from matchmaker.api.deps import SessionDep
from matchmaker.domain import REGIONS, REJECT_REASONS
from matchmaker.errors import MatchmakerError
from matchmaker.kinds import ACHIEVEMENTS, DEMANDS
from matchmaker.schemas.landing import CarrierKind, ContractType, PartyKind
from matchmaker.services import contracts, review, workflow
from matchmaker.services.access import Principal, require_staff
from matchmaker.services.records import get_record
from matchmaker.services.workflow import CONTRACT_STAGES
from matchmaker.web.deps import WebPrincipalDep, page_router, redirect
from matchmaker.web.templating import render

router = page_router()
CONTRACT_TYPES: tuple[str, ...] = get_args(ContractType)
PARTY_KINDS: tuple[str, ...] = get_args(PartyKind)
CARRIER_KINDS: tuple[str, ...] = get_args(CarrierKind)


def pairing_context(session: Any, principal: Principal, match_id: int) -> dict[str, Any]:
    """Everything the pairing page shows (the contracts' and the landing's forms included)."""
    require_staff(principal, "review pairings")
    match = workflow.get_match(session, match_id, principal)
    need = get_record(session, DEMANDS, match["demand"]["id"], principal)
    offer = get_record(session, ACHIEVEMENTS, match["achievement"]["id"], principal)
    events = workflow.history(session, match_id, principal)
    explanation = match.get("explanation") or {}
    components = explanation.get("components") or {}
    positive = sum(v for v in components.values() if v > 0) or 1.0
    emails = review.user_emails(
        session, [e["actor_id"] for e in events] + [n.get("by") for n in match["notes"]] + [match["assignee_id"]]
    )
    return {
        "m": match,
        "need": need,
        "offer": offer,
        "terms": explanation.get("matched_terms") or [],
        "checks": explanation.get("checks") or [],
        "components": [
            {"name": k, "value": v, "width": round(100 * max(v, 0) / positive, 1)} for k, v in components.items()
        ],
        "sentence": explanation.get("sentence", ""),
        "events": events,
        "emails": emails,
        "managers": review.staff_users(session),
        "reasons": REJECT_REASONS,
        "interests": review.interests(session, [match_id]).get(match_id, []),
        **landing_section(session, principal, match, need, offer),
    }


def landing_section(session: Any, principal: Principal, match: dict[str, Any], need: Any, offer: Any) -> dict[str, Any]:
    """The pairing's contracts and landing, and the blank forms to record them (签约 and 落地 only)."""
    section: dict[str, Any] = {"contracts": [], "landing": None, "contract_types": CONTRACT_TYPES}
    if match["status"] not in CONTRACT_STAGES:
        return section
    section["contracts"] = contracts.list_contracts(session, match["id"], principal)
    if match["status"] == "landed":
        section["landing"] = contracts.get_landing(session, match["id"], principal)
    section["cv"] = {"parties": contracts.default_parties(session, need, offer), "contract_type": CONTRACT_TYPES[0]}
    section["lv"] = {"carrier_kind": CARRIER_KINDS[0], "region": need.region, "funding": []}
    section |= {"party_kinds": PARTY_KINDS, "carrier_kinds": CARRIER_KINDS, "regions": REGIONS}
    return section


@router.get("/pairings/{match_id}")
def pairing(request: Request, session: SessionDep, principal: WebPrincipalDep, match_id: int) -> Response:
    """The pairing page."""
    return render(request, "pairing.html", pairing_context(session, principal, match_id))


@router.post("/pairings/{match_id}")
def change(
    request: Request,
    session: SessionDep,
    principal: WebPrincipalDep,
    match_id: int,
    status: Annotated[str, Form()] = "",
    reject_reason: Annotated[str, Form()] = "",
    assignee_id: Annotated[str, Form()] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    disclosed: Annotated[str, Form()] = "",
) -> Response:
    """Move, reject, assign, annotate or disclose, with the workflow's own rules (an illegal move shows the allowed)."""
    changes: dict[str, Any] = {}
    if status:
        changes["status"] = status
    if reject_reason:
        changes["reject_reason"] = reject_reason
    if assignee_id:
        changes["assignee_id"] = int(assignee_id) if assignee_id.isdigit() else None
    if note.strip():
        changes["note"] = note.strip()
    if disclosed in ("true", "false"):
        changes["disclosed"] = disclosed == "true"
    try:
        workflow.update_match(session, match_id, changes, principal)
    except MatchmakerError as exc:
        session.rollback()
        context = {**pairing_context(session, principal, match_id), "error": exc}
        return render(request, "pairing.html", context, status_code=exc.status_code)
    return redirect(f"/pairings/{match_id}", request)
