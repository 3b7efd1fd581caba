"""Filterable record attributes, kept as columnar numpy arrays for vectorised filtering.

The vector index stores one row per FAISS label (an internal, sequential position). Each row holds the record's
categorical attributes as small integer codes, its technology readiness level (TRL) as ``int8`` and its transfer
modes as a 64-bit mask, so a :class:`Filter` becomes a handful of vectorised comparisons over ``n`` rows instead of a
Python loop. At 200k rows a combined filter costs well under a millisecond.

Encoding:

* ``field``, ``region``, ``status``: codes into a :class:`Vocabulary` (append-only, so codes stay valid across
  compactions and snapshots). Stored as ``int32``.
* ``trl``: ``int8``, ``-1`` for "unknown" (``None``), else 1..9.
* ``modes``: ``uint64`` bit mask; bit ``i`` is mode ``i`` of the modes vocabulary. At most 64 distinct modes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt

__all__ = ["AttributeColumns", "Filter", "RecordAttrs", "Vocabulary"]

MAX_MODES = 64
TRL_UNKNOWN = -1

BoolArray = npt.NDArray[np.bool_]
_T = TypeVar("_T", bound=np.generic)


@dataclass(frozen=True)
class RecordAttrs:
    """Filterable attributes of one record (an achievement or a demand)."""

    field: str
    """Industrial chain, e.g. "新材料"."""
    region: str
    """北京 / 天津 / 河北 / 其他."""
    status: str
    """Lifecycle status, e.g. "active", "open"."""
    trl: int | None
    """Technology readiness level 1..9 (achievements), or None when unknown / not applicable."""
    modes: frozenset[str]
    """Transfer modes offered (achievements) or preferred (demands)."""


@dataclass(frozen=True)
class Filter:
    """Search restriction: AND across attributes, OR within one tuple; an empty tuple / None means "any".

    ``trl_min`` / ``trl_max`` only match records whose TRL is known. ``modes`` matches records offering at least one
    of the given modes. ``exclude_ids`` removes individual database ids (e.g. the query record itself).
    """

    fields: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    trl_min: int | None = None
    trl_max: int | None = None
    modes: tuple[str, ...] = ()
    exclude_ids: tuple[int, ...] = ()

    def is_empty(self) -> bool:
        """True when the filter restricts nothing."""
        return (
            not self.fields
            and not self.regions
            and not self.statuses
            and self.trl_min is None
            and self.trl_max is None
            and not self.modes
            and not self.exclude_ids
        )

    def matches(self, attrs: RecordAttrs) -> bool:
        """Whether one record's attributes satisfy the attribute part of the filter (``exclude_ids`` is the index's
        job). The one definition of a filter's meaning: :meth:`AttributeColumns.mask` is its vectorised form, and a
        test keeps the two identical."""
        if self.fields and attrs.field not in self.fields:
            return False
        if self.regions and attrs.region not in self.regions:
            return False
        if self.statuses and attrs.status not in self.statuses:
            return False
        if self.trl_min is not None and (attrs.trl is None or attrs.trl < self.trl_min):
            return False
        if self.trl_max is not None and (attrs.trl is None or attrs.trl > self.trl_max):
            return False
        return not self.modes or bool(set(self.modes) & attrs.modes)


class Vocabulary:
    """Append-only mapping between strings and dense integer codes 0..len-1."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: list[str] = []
        self._codes: dict[str, int] = {}
        for value in values:
            self.encode(value)

    def __len__(self) -> int:
        return len(self._values)

    def encode(self, value: str) -> int:
        """Code of ``value``, adding it when new."""
        code = self._codes.get(value)
        if code is None:
            code = len(self._values)
            self._values.append(value)
            self._codes[value] = code
        return code

    def lookup(self, values: Iterable[str]) -> list[int]:
        """Codes of the known ``values``; unknown ones are skipped (they can match no record)."""
        return [self._codes[v] for v in values if v in self._codes]

    def values(self) -> list[str]:
        """All values in code order."""
        return list(self._values)

    def to_array(self) -> npt.NDArray[np.str_]:
        """The values as a numpy unicode array (for ``np.savez`` without pickling)."""
        return np.array(self._values, dtype=np.str_)


def _grow(array: npt.NDArray[_T], capacity: int, fill: int) -> npt.NDArray[_T]:
    grown = np.full(capacity, fill, dtype=array.dtype)
    grown[: array.shape[0]] = array
    return grown


def _in_codes(column: npt.NDArray[np.int32], codes: list[int], vocab_size: int) -> BoolArray:
    """``np.isin(column, codes)``, fast: at 200k rows ``np.isin`` takes ~1.5 ms, one ``==`` 0.03 ms, a lookup table
    (``lut[column]``) 0.5 ms; so OR a few equality tests, and index a boolean table for longer code lists."""
    if not codes:
        return np.zeros(column.shape[0], dtype=np.bool_)
    if len(codes) <= 8:
        part = column == codes[0]
        for code in codes[1:]:
            part |= column == code
        return part
    lut = np.zeros(vocab_size, dtype=np.bool_)
    lut[codes] = True
    return cast(BoolArray, lut[column])


class AttributeColumns:
    """Columnar attribute store, one row per FAISS label, with amortised O(1) appends.

    A replaced record gets a new row (the index appends its new vector and tombstones the old label), so rows grow
    until a compaction (:meth:`take`) builds a fresh, dense store; a record whose vector did not change keeps its row,
    which :meth:`set` overwrites in place.
    """

    _COLUMNS = ("field", "region", "status", "trl", "modes")

    def __init__(self) -> None:
        self.fields = Vocabulary()
        self.regions = Vocabulary()
        self.statuses = Vocabulary()
        self.mode_names = Vocabulary()
        self._n = 0
        self.field: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        self.region: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        self.status: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        self.trl: npt.NDArray[np.int8] = np.zeros(0, dtype=np.int8)
        self.modes: npt.NDArray[np.uint64] = np.zeros(0, dtype=np.uint64)

    def __len__(self) -> int:
        return self._n

    def _mode_bits(self, modes: frozenset[str]) -> int:
        bits = 0
        for mode in sorted(modes):  # sorted: codes do not depend on frozenset iteration order
            code = self.mode_names.encode(mode)
            if code >= MAX_MODES:
                raise ValueError(f"more than {MAX_MODES} distinct transfer modes; cannot encode {mode!r}")
            bits |= 1 << code
        return bits

    def validate(self, attrs: Sequence[RecordAttrs]) -> None:
        """Raise ValueError for attributes that cannot be stored, before anything is changed."""
        for a in attrs:
            if a.trl is not None and not 1 <= a.trl <= 9:
                raise ValueError(f"trl must be 1..9 or None, got {a.trl!r}")
        new_modes = {m for a in attrs for m in a.modes} - set(self.mode_names.values())
        if len(self.mode_names) + len(new_modes) > MAX_MODES:
            raise ValueError(f"more than {MAX_MODES} distinct transfer modes")

    def append(self, attrs: Sequence[RecordAttrs]) -> None:
        """Append one row per record (call :meth:`validate` first)."""
        m = len(attrs)
        need = self._n + m
        if need > self.field.shape[0]:
            capacity = max(need, 2 * self.field.shape[0], 1024)
            self.field = _grow(self.field, capacity, 0)
            self.region = _grow(self.region, capacity, 0)
            self.status = _grow(self.status, capacity, 0)
            self.trl = _grow(self.trl, capacity, TRL_UNKNOWN)
            self.modes = _grow(self.modes, capacity, 0)
        self._write(slice(self._n, need), attrs)
        self._n = need

    def set(self, rows: npt.NDArray[np.int64], attrs: Sequence[RecordAttrs]) -> None:
        """Overwrite existing rows in place, one record each (call :meth:`validate` first)."""
        if rows.shape[0] and not (0 <= int(rows.min()) and int(rows.max()) < self._n):
            raise IndexError("row out of range")
        self._write(rows, attrs)

    def _write(self, at: slice | npt.NDArray[np.int64], attrs: Sequence[RecordAttrs]) -> None:
        self.field[at] = [self.fields.encode(a.field) for a in attrs]
        self.region[at] = [self.regions.encode(a.region) for a in attrs]
        self.status[at] = [self.statuses.encode(a.status) for a in attrs]
        self.trl[at] = [TRL_UNKNOWN if a.trl is None else a.trl for a in attrs]
        self.modes[at] = np.array([self._mode_bits(a.modes) for a in attrs], dtype=np.uint64)

    def get(self, row: int) -> RecordAttrs:
        """Decode one row back to a :class:`RecordAttrs`."""
        if not 0 <= row < self._n:
            raise IndexError(row)
        bits = int(self.modes[row])
        names = self.mode_names.values()
        trl = int(self.trl[row])
        return RecordAttrs(
            field=self.fields.values()[int(self.field[row])],
            region=self.regions.values()[int(self.region[row])],
            status=self.statuses.values()[int(self.status[row])],
            trl=None if trl == TRL_UNKNOWN else trl,
            modes=frozenset(name for i, name in enumerate(names) if bits >> i & 1),
        )

    def take(self, rows: npt.NDArray[np.int64]) -> AttributeColumns:
        """A new, dense store holding ``rows`` in the given order (same vocabularies)."""
        out = AttributeColumns()
        out.fields, out.regions = self.fields, self.regions
        out.statuses, out.mode_names = self.statuses, self.mode_names
        out.field = self.field[rows]
        out.region = self.region[rows]
        out.status = self.status[rows]
        out.trl = self.trl[rows]
        out.modes = self.modes[rows]
        out._n = int(rows.shape[0])
        return out

    def mask(self, flt: Filter | None) -> BoolArray | None:
        """Rows matching the attribute part of ``flt`` (``exclude_ids`` is the index's job), or None for "all rows".

        Vectorised: each non-empty criterion is a few comparisons over the ``n`` rows (live or not), and the criteria
        are AND-ed; about 0.1-0.3 ms at 200k rows. Values absent from a vocabulary can match nothing, so an
        all-unknown list yields an all-False mask rather than being ignored.
        """
        if flt is None:
            return None
        n = self._n
        result: BoolArray | None = None

        def _and(part: BoolArray) -> None:
            nonlocal result
            result = part if result is None else (result & part)

        for wanted, vocab, column in (
            (flt.fields, self.fields, self.field),
            (flt.regions, self.regions, self.region),
            (flt.statuses, self.statuses, self.status),
        ):
            if wanted:
                codes = vocab.lookup(wanted)
                _and(_in_codes(column[:n], codes, len(vocab)))
        if flt.trl_min is not None or flt.trl_max is not None:
            trl = self.trl[:n]
            part = trl != TRL_UNKNOWN
            if flt.trl_min is not None:
                part &= trl >= flt.trl_min
            if flt.trl_max is not None:
                part &= trl <= flt.trl_max
            _and(part)
        if flt.modes:
            wanted_bits = 0
            for code in self.mode_names.lookup(flt.modes):
                wanted_bits |= 1 << code
            _and((self.modes[:n] & np.uint64(wanted_bits)) != 0)
        return result

    def to_arrays(self, prefix: str = "attr_") -> dict[str, npt.NDArray[Any]]:
        """Columns and vocabularies as plain arrays, for ``np.savez``."""
        n = self._n
        arrays: dict[str, npt.NDArray[Any]] = {f"{prefix}{name}": getattr(self, name)[:n] for name in self._COLUMNS}
        arrays[f"{prefix}vocab_field"] = self.fields.to_array()
        arrays[f"{prefix}vocab_region"] = self.regions.to_array()
        arrays[f"{prefix}vocab_status"] = self.statuses.to_array()
        arrays[f"{prefix}vocab_modes"] = self.mode_names.to_array()
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[Any]], prefix: str = "attr_") -> AttributeColumns:
        """Inverse of :meth:`to_arrays`; raises KeyError / ValueError on a malformed snapshot."""
        out = cls()
        out.fields = Vocabulary(str(v) for v in arrays[f"{prefix}vocab_field"])
        out.regions = Vocabulary(str(v) for v in arrays[f"{prefix}vocab_region"])
        out.statuses = Vocabulary(str(v) for v in arrays[f"{prefix}vocab_status"])
        out.mode_names = Vocabulary(str(v) for v in arrays[f"{prefix}vocab_modes"])
        out.field = np.ascontiguousarray(arrays[f"{prefix}field"], dtype=np.int32)
        out.region = np.ascontiguousarray(arrays[f"{prefix}region"], dtype=np.int32)
        out.status = np.ascontiguousarray(arrays[f"{prefix}status"], dtype=np.int32)
        out.trl = np.ascontiguousarray(arrays[f"{prefix}trl"], dtype=np.int8)
        out.modes = np.ascontiguousarray(arrays[f"{prefix}modes"], dtype=np.uint64)
        n = out.field.shape[0]
        if any(getattr(out, c).shape != (n,) for c in cls._COLUMNS):
            raise ValueError("attribute columns have different lengths")
        for column, vocab in ((out.field, out.fields), (out.region, out.regions), (out.status, out.statuses)):
            if n and (column.min() < 0 or column.max() >= len(vocab)):
                raise ValueError("attribute code outside its vocabulary")
        out._n = n
        return out
