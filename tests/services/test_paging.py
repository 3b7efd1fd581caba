"""One page and sort of a list (services/paging.py): sort keys, missing values last, ties by id, totals of filters."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.errors import ValidationFailed
from matchmaker.kinds import ACHIEVEMENTS
from matchmaker.models import Achievement
from matchmaker.schemas import AchievementCreate
from matchmaker.services.paging import page, sort_order
from matchmaker.services.records import SORTABLE, create_record


def _offers(session: Session, trls: list[int | None]) -> list[int]:
    ids = []
    for i, trl in enumerate(trls):
        data = AchievementCreate(title=f"成果{i}", summary="简介", trl=trl, field="新材料" if i % 2 else "信创")
        ids.append(create_record(session, ACHIEVEMENTS, data).id)
    return ids


def _ordered(session: Session, sort: str) -> list[int]:
    items, _ = page(session, select(Achievement), order_by=sort_order(Achievement, sort, SORTABLE), limit=50, offset=0)
    return [a.id for a in items]


def test_sort_puts_missing_values_last_and_breaks_ties_by_id(session: Session) -> None:
    a5, none, a7, b7 = _offers(session, [5, None, 7, 7])
    assert _ordered(session, "trl") == [a5, a7, b7, none]
    # descending: the larger value first, ties by the newer id, and a missing value still last
    assert _ordered(session, "-trl") == [b7, a7, a5, none]
    assert _ordered(session, "-id") == [b7, a7, none, a5]


def test_unknown_sort_key_names_the_parameter_and_the_keys_allowed(session: Session) -> None:
    with pytest.raises(ValidationFailed) as unknown:
        sort_order(Achievement, "-colour", SORTABLE)
    assert unknown.value.status_code == 422
    assert unknown.value.fields[0]["field"] == "sort"
    # a key of the other list (a need's budget) is not offered for achievements
    with pytest.raises(ValidationFailed) as other_list:
        sort_order(Achievement, "budget_wan", SORTABLE)
    assert "budget_wan" not in str(other_list.value).split("use one of", 1)[1]
    assert "price_wan" in str(other_list.value)


def test_page_counts_every_match_of_the_filter_whatever_the_page(session: Session) -> None:
    ids = _offers(session, [1, 2, 3, 4, 5, 6, 7])
    stmt = select(Achievement).where(Achievement.field == "信创")  # the even positions: 4 records
    order = sort_order(Achievement, "id", SORTABLE)
    first, total = page(session, stmt, order_by=order, limit=3, offset=0)
    second, total_again = page(session, stmt, order_by=order, limit=3, offset=3)
    beyond, total_beyond = page(session, stmt, order_by=order, limit=3, offset=10)
    assert total == total_again == total_beyond == 4
    assert [a.id for a in first + second] == ids[0::2]
    assert beyond == []


def test_page_of_whole_rows(session: Session) -> None:
    _offers(session, [3, 9])
    stmt = select(Achievement.title, Achievement.trl)
    rows, total = page(session, stmt, order_by=[Achievement.trl.desc()], limit=1, offset=0, rows=True)
    assert total == 2
    assert [tuple(r) for r in rows] == [("成果1", 9)]
