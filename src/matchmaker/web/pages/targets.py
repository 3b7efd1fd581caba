"""The Centre's targets panel for managers: each yearly target with its progress and the records behind the number,
and the upward report for the year."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query, Request, Response

from matchmaker.api.deps import SessionDep
from matchmaker.services import targets
from matchmaker.services.access import require_staff
from matchmaker.web.deps import WebPrincipalDep, page_router
from matchmaker.web.templating import render

router = page_router()


@router.get("/targets")
def targets_panel(
    request: Request,
    session: SessionDep,
    principal: WebPrincipalDep,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Response:
    """The targets of a year (default: this one) with progress bars and the counted records."""
    require_staff(principal, "see the Centre's targets")
    chosen = year or date.today().year
    progress = targets.progress(session, chosen, principal)
    for item in progress["items"]:
        ratio = item["ratio"] or 0.0
        item["width"] = round(100 * min(ratio, 1.0), 1)
    return render(request, "targets.html", {"year": chosen, "items": progress["items"]})
