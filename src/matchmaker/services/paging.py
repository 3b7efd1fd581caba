"""One pagination and sort helper for every list: the total of a filtered SELECT, its ordering and one page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from matchmaker.errors import ValidationFailed, field_error


def sort_order(model: Any, sort: str, sortable: Sequence[str]) -> list[Any]:
    """ORDER BY for a sort key (``-`` prefix: descending; missing values last; ties by id); 422 for a key the list
    cannot sort by."""
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    allowed = [s for s in sortable if hasattr(model, s)]
    if name not in allowed:
        raise ValidationFailed(
            f"cannot sort by {name!r}; use one of {', '.join(allowed)} (prefix - for descending)",
            fields=[field_error("sort", f"unknown sort key {name!r}")],
        )
    column = getattr(model, name)
    if descending:
        return [column.desc().nulls_last(), model.id.desc()]
    return [column.asc().nulls_last(), model.id.asc()]


def page(
    session: Session, stmt: Select[Any], *, order_by: Sequence[Any], limit: int, offset: int, rows: bool = False
) -> tuple[list[Any], int]:
    """One page of a filtered SELECT in the given order, and the total number of matching rows (``rows``: whole
    result rows rather than the first entity of each)."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    paged = stmt.order_by(*order_by).limit(limit).offset(offset)
    items = list(session.execute(paged).all()) if rows else list(session.scalars(paged))
    return items, total
