"""A filter's meaning is decided once (Filter.matches); the vectorised mask of the attribute columns agrees with it."""

from __future__ import annotations

import random

import numpy as np

from matchmaker.search.filters import AttributeColumns, Filter, RecordAttrs

FIELDS, REGIONS, STATUSES, MODES = ("新材料", "信创", "其他"), ("北京", "天津"), ("active", "draft"), ("转让", "许可")


def _attrs(rng: random.Random) -> RecordAttrs:
    return RecordAttrs(
        field=rng.choice(FIELDS),
        region=rng.choice(REGIONS),
        status=rng.choice(STATUSES),
        trl=rng.choice([None, *range(1, 10)]),
        modes=frozenset(m for m in MODES if rng.random() < 0.5),
    )


def _filter(rng: random.Random) -> Filter:
    def some(values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v for v in (*values, "未知") if rng.random() < 0.3)

    low = rng.choice([None, 3, 5, 7])
    return Filter(
        fields=some(FIELDS),
        regions=some(REGIONS),
        statuses=some(STATUSES),
        trl_min=low,
        trl_max=rng.choice([None, 6, 9]),
        modes=some(MODES),
    )


def test_the_mask_agrees_with_the_filter_on_every_row() -> None:
    rng = random.Random(11)
    rows = [_attrs(rng) for _ in range(300)]
    columns = AttributeColumns()
    columns.append(rows)
    for _ in range(200):
        flt = _filter(rng)
        mask = columns.mask(flt)
        expected = [flt.matches(a) for a in rows]
        assert (np.ones(len(rows), dtype=bool) if mask is None else mask[: len(rows)]).tolist() == expected


def test_filter_meaning() -> None:
    attrs = RecordAttrs(field="新材料", region="北京", status="active", trl=None, modes=frozenset({"许可"}))
    assert Filter().matches(attrs)
    assert Filter(fields=("新材料", "信创"), modes=("许可", "转让")).matches(attrs)
    assert not Filter(regions=("天津",)).matches(attrs)
    assert not Filter(trl_min=1).matches(attrs)  # an unknown TRL never meets a TRL bound
    assert not Filter(modes=("转让",)).matches(attrs)
    assert Filter(exclude_ids=(1,)).matches(attrs)  # ids are the index's job
