"""Matching runs for managers: start one with filters, watch its progress live (HTMX polling), open its results in
the queue, download its spreadsheet."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import BackgroundTasks, Form, Request, Response
from pydantic import ValidationError

from matchmaker.api.deps import SessionDep
from matchmaker.api.downloads import attachment, run_list_names
from matchmaker.domain import CHAINS, REGIONS
from matchmaker.errors import Conflict, ValidationFailed, field_error
from matchmaker.schemas.matching import MatchFilters
from matchmaker.services import review
from matchmaker.services import runs as run_service
from matchmaker.services.access import require_staff
from matchmaker.services.transfer import MEDIA_TYPES
from matchmaker.web.deps import WebPrincipalDep, page_router, redirect
from matchmaker.web.templating import render

router = page_router()


@router.get("/runs")
def runs(request: Request, session: SessionDep, principal: WebPrincipalDep) -> Response:
    """The latest runs and the form that starts one."""
    context = {"runs": review.list_runs(session, principal), "chains": CHAINS, "regions": REGIONS, "errors": {}}
    return render(request, "runs.html", context)


@router.post("/runs")
def start_run(
    request: Request,
    session: SessionDep,
    principal: WebPrincipalDep,
    tasks: BackgroundTasks,
    k: Annotated[str, Form()] = "10",
    field: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    region: Annotated[list[str], Form()] = [],  # noqa: B006
    constraints: Annotated[str, Form()] = "flag",
) -> Response:
    """Record the run and start it in the background, exactly as POST /api/v1/matching-runs does."""
    require_staff(principal, "start matching runs")
    search = request.app.state.search
    try:
        if not k.strip().isdigit():
            raise ValidationFailed("k must be a number", fields=[field_error("k", "not a number")])
        try:
            filters = MatchFilters(field=[c for c in field if c], region=[r for r in region if r])
        except ValidationError as exc:
            raise ValidationFailed(str(exc), fields=[field_error("field", str(exc))]) from exc
        run = run_service.create_run(
            session,
            k=int(k),
            filters=filters,
            achievement_filters=MatchFilters(),
            constraints="strict" if constraints == "strict" else "flag",
            model=search.embedder.name if search is not None else "",
            principal=principal,
        )
    except (ValidationFailed, Conflict) as exc:
        errors = {f["field"]: f["message"] for f in exc.fields} if exc.fields else {"run": "busy"}
        context = {"runs": review.list_runs(session, principal), "chains": CHAINS, "regions": REGIONS}
        status_code = 409 if isinstance(exc, Conflict) else 422
        return render(request, "runs.html", {**context, "errors": errors, "k": k}, status_code=status_code)
    # The session commits when this function returns, before the response and the background task (as in the API).
    tasks.add_task(request.app.state.jobs.submit_run, run.id)
    return redirect(f"/runs/{run.id}", request)


def _run(session: Any, principal: Any, run_id: int) -> dict[str, Any]:
    require_staff(principal, "see matching runs")
    return run_service.run_summary(run_service.get_run(session, run_id))


@router.get("/runs/{run_id}")
def run_page(request: Request, session: SessionDep, principal: WebPrincipalDep, run_id: int) -> Response:
    """A run: its live progress, then its results."""
    return render(request, "run.html", {"run": _run(session, principal, run_id)})


@router.get("/runs/{run_id}/progress")
def run_progress(request: Request, session: SessionDep, principal: WebPrincipalDep, run_id: int) -> Response:
    """The progress fragment HTMX polls while the run works."""
    return render(request, "_run_progress.html", {"run": _run(session, principal, run_id)})


@router.get("/runs/{run_id}/export")
def run_export(
    session: SessionDep, principal: WebPrincipalDep, run_id: int, format: str = "xlsx", partial: bool = False
) -> Response:
    """The run's matching list as a spreadsheet (the API's export; an unfinished run's only with ``partial``)."""
    require_staff(principal, "export matching lists")
    content, complete = run_service.export_run(session, run_id, format, partial=partial)
    return attachment(content, MEDIA_TYPES[format], *run_list_names(run_id, format, partial=not complete))
