"""Loading a judged split (data/eval/<split>/) into matcher documents and judgements for the offline evaluation.

A split is a folder with three files:

* ``achievements.jsonl`` — one achievement per line, the canonical fields (docs/DOMAIN.md);
* ``demands.jsonl`` — one need per line, the canonical fields plus ``eval_tags`` (the slices it belongs to:
  ``zh-en``, ``en-zh``, ``hans-hant``, ``constraint``, ``jargon``, ``symptom``, ``hard-negative``, ...);
* ``qrels.tsv`` — ``demand_external_id<TAB>achievement_external_id<TAB>grade`` with a header line; 3 = solves the
  need, 2 = worth a meeting, 1 = same area; pairs not listed are grade 0.

Records get matcher ids 1..n in file order (achievements and needs separately); results and reports use the external
ids. Documents are built as the service builds them (:mod:`matchmaker.search.documents`). Pure: no web framework,
no ORM.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from matchmaker.search.constraints import OfferFacts
from matchmaker.search.documents import DOC_FIELDS, Doc, need_doc, offer_doc
from matchmaker.search.text import detect_language

ACHIEVEMENT_STATUS = "active"  # every achievement in a split is live; the service filters on this status too


@dataclass(frozen=True)
class Split:
    """A judged split: achievements and needs as matcher documents, judgements and slice labels.

    ``qrels`` maps a need's external id to ``{achievement external id: grade}`` (grades > 0 only; absent = 0).
    ``slices`` maps a slice name (each eval tag, and ``lang:<language>`` of the need text) to need indices.
    """

    name: str
    achievements: tuple[Doc, ...]
    needs: tuple[Doc, ...]
    achievement_ids: tuple[str, ...]  # external id of achievements[i]
    need_ids: tuple[str, ...]  # external id of needs[i]
    qrels: dict[str, dict[str, int]]
    tags: tuple[tuple[str, ...], ...]  # eval tags of needs[i]
    languages: tuple[str, ...]  # detected language of needs[i]

    @property
    def slices(self) -> dict[str, list[int]]:
        """Slice name → indices of its needs: one slice per eval tag, then one per need language."""
        out: dict[str, list[int]] = {}
        for i, tags in enumerate(self.tags):
            for tag in tags:
                out.setdefault(tag, []).append(i)
        for i, language in enumerate(self.languages):
            out.setdefault(f"lang:{language}", []).append(i)
        return out

    @cached_property
    def offers(self) -> dict[str, OfferFacts]:
        """Achievement external id → its facts."""
        out: dict[str, OfferFacts] = {}
        for external_id, doc in zip(self.achievement_ids, self.achievements, strict=True):
            assert isinstance(doc.facts, OfferFacts)
            out[external_id] = doc.facts
        return out


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{n}: not JSON: {exc}") from exc
    return rows


def _optional_float(value: Any) -> float | None:
    return None if value is None or value == "" else float(value)


def _source(row: Mapping[str, Any], fields: Sequence[str], status: str) -> SimpleNamespace:
    """A line of a split as a document source (:mod:`matchmaker.search.documents`): absent fields are None."""
    values = {name: row.get(name) for name in fields}
    for money in ("price_wan", "budget_wan"):
        if money in values:
            values[money] = _optional_float(values[money])
    deadline = values.get("deadline")
    values["deadline"] = date.fromisoformat(deadline) if isinstance(deadline, str) and deadline else None
    return SimpleNamespace(**{**values, "status": status, "updated_at": None})


def achievement_row_doc(i: int, row: Mapping[str, Any]) -> Doc:
    """An achievement of a judged split (a JSON row) as the index document, with id ``i``."""
    return offer_doc(_source({**row, "id": i}, DOC_FIELDS["achievements"], ACHIEVEMENT_STATUS))


def need_row_doc(i: int, row: Mapping[str, Any]) -> Doc:
    """A need of a judged split (a JSON row) as the index document, with id ``i``."""
    return need_doc(_source({**row, "id": i}, DOC_FIELDS["demands"], "open"))


def load_split(path: str | Path) -> Split:
    """Read a split folder into matcher documents (ids 1..n in file order) and judgements; see the module docstring.

    Raises ValueError for duplicate external ids, judgements naming unknown records and grades outside 0..3.
    """
    path = Path(path)
    a_rows = _read_jsonl(path / "achievements.jsonl")
    d_rows = _read_jsonl(path / "demands.jsonl")
    achievement_ids = tuple(str(r["external_id"]) for r in a_rows)
    need_ids = tuple(str(r["external_id"]) for r in d_rows)
    for kind, ids in (("achievement", achievement_ids), ("demand", need_ids)):
        if len(set(ids)) != len(ids):
            raise ValueError(f"{path}: duplicate {kind} external ids")
    known_a, known_d = set(achievement_ids), set(need_ids)
    qrels: dict[str, dict[str, int]] = {d: {} for d in need_ids}
    with (path / "qrels.tsv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        for n, row in enumerate(reader, start=2):
            need, ach, grade = row["demand_external_id"], row["achievement_external_id"], int(row["grade"])
            if need not in known_d or ach not in known_a:
                raise ValueError(f"{path / 'qrels.tsv'}:{n}: unknown id in ({need}, {ach})")
            if not 0 <= grade <= 3:
                raise ValueError(f"{path / 'qrels.tsv'}:{n}: grade {grade} outside 0..3")
            if grade > 0:
                qrels[need][ach] = grade
    needs = tuple(need_row_doc(i, r) for i, r in enumerate(d_rows, start=1))
    return Split(
        name=path.name,
        achievements=tuple(achievement_row_doc(i, r) for i, r in enumerate(a_rows, start=1)),
        needs=needs,
        achievement_ids=achievement_ids,
        need_ids=need_ids,
        qrels=qrels,
        tags=tuple(tuple(r.get("eval_tags") or ()) for r in d_rows),
        languages=tuple(detect_language(d.text) for d in needs),
    )
