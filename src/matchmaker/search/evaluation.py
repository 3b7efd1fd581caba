"""Offline evaluation of the matcher on a judged split (data/eval/<split>/): baselines, full ranking, weight search.

A split is a folder with three files:

* ``achievements.jsonl`` — one achievement per line, the canonical fields (docs/DOMAIN.md);
* ``demands.jsonl`` — one need per line, the canonical fields plus ``eval_tags`` (the slices it belongs to:
  ``zh-en``, ``en-zh``, ``hans-hant``, ``constraint``, ``jargon``, ``symptom``, ``hard-negative``, ...);
* ``qrels.tsv`` — ``demand_external_id<TAB>achievement_external_id<TAB>grade`` with a header line; 3 = solves the
  need, 2 = worth a meeting, 1 = same area; pairs not listed are grade 0.

Records get matcher ids 1..n in file order (achievements and needs separately); results and reports use the external
ids. Every configuration ranks all achievements for every need (top ``k``), and each need is scored with
:mod:`matchmaker.search.metrics`:

* ``ndcg@10`` — exponential gain ``2^g − 1``, ideal ranking from all judgements;
* ``recall@10`` and ``mrr`` — relevant means grade ≥ 2 (MRR over the returned top ``k``, i.e. MRR@k);
* ``constraint_accuracy`` — for needs that state a hard constraint (``min_trl`` or ``preferred_modes``) and have a
  relevant (grade ≥ 2) achievement satisfying it: 1 when the first result is not a violator, else 0. A violator has
  ``trl < min_trl`` (unknown trl does not violate) or offers none of the preferred modes. Needs that state no
  constraint are left out: nothing can violate, so they would only dilute the mean towards 1. The deadline is not
  part of this check: a passed deadline is a property of the need and flags every candidate alike.

Configurations (:class:`Config`):

* ``bm25`` — the lexical index alone over jieba tokens (:class:`~matchmaker.search.lexical.LexicalIndex`);
* ``dense`` — pure cosine similarity of the embedder's query and document vectors, exact search;
* ``full`` — :class:`~matchmaker.search.matcher.Matcher` with the given :class:`Weights`, pool and constraint policy.

Vectors are computed once per split and embedder spec (and ``to_simplified``) by an :class:`Evaluator` and reused by
every configuration that names that embedder; the matcher then sees a frozen embedder that only looks vectors up, so
re-ranking with other weights never calls a model again. ``today`` is fixed (:data:`EVAL_TODAY`) so deadlines and
freshness give the same numbers on every run.

This module is pure: no web framework, no ORM.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property
from itertools import product
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import numpy as np

from matchmaker.search.documents import DOC_FIELDS, Doc, need_doc, offer_doc
from matchmaker.search.embedding import Embedder, create_embedder
from matchmaker.search.index import VectorIndex
from matchmaker.search.lexical import LexicalIndex
from matchmaker.search.matcher import Matcher, Query
from matchmaker.search.metrics import (
    Summary,
    constraint_first_ok,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
    summarise,
)
from matchmaker.search.ranking import ConstraintPolicy, NeedFacts, OfferFacts, Weights, hard_violations
from matchmaker.search.text import detect_language, tokenize

__all__ = [
    "EVAL_TODAY",
    "METRICS",
    "Config",
    "EmbedderFactory",
    "Evaluator",
    "NeedResult",
    "Report",
    "Split",
    "TuneStep",
    "compare",
    "evaluate",
    "format_table",
    "load_split",
    "score_need",
    "tune_weights",
    "violates",
]

EVAL_TODAY = date(2026, 11, 23)
"""The evaluation's "today": deadlines and freshness are judged against this date so results are reproducible."""
K = 10
METRICS = ("ndcg@10", "recall@10", "mrr", "constraint_accuracy")
RELEVANT_GRADE = 2
ACHIEVEMENT_STATUS = "active"  # every achievement in a split is live; the service filters on this status too

ConfigKind = Literal["bm25", "dense", "full"]
EmbedderFactory = Callable[[str, bool], Embedder]
"""Builds an embedder from ``(spec, to_simplified)``; :func:`matchmaker.search.embedding.create_embedder` by default."""


def _default_factory(spec: str, to_simplified: bool) -> Embedder:
    return create_embedder(spec, to_simplified=to_simplified)


# ----------------------------------------------------------------------------------------------------------------
# Loading a split
# ----------------------------------------------------------------------------------------------------------------


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


def _achievement_doc(i: int, row: Mapping[str, Any]) -> Doc:
    return offer_doc(_source({**row, "id": i}, DOC_FIELDS["achievements"], ACHIEVEMENT_STATUS))


def _need_doc(i: int, row: Mapping[str, Any]) -> Doc:
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
    needs = tuple(_need_doc(i, r) for i, r in enumerate(d_rows, start=1))
    return Split(
        name=path.name,
        achievements=tuple(_achievement_doc(i, r) for i, r in enumerate(a_rows, start=1)),
        needs=needs,
        achievement_ids=achievement_ids,
        need_ids=need_ids,
        qrels=qrels,
        tags=tuple(tuple(r.get("eval_tags") or ()) for r in d_rows),
        languages=tuple(detect_language(d.text) for d in needs),
    )


# ----------------------------------------------------------------------------------------------------------------
# Configurations and reports
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """One way of ranking achievements for needs; see the module docstring for the kinds."""

    kind: ConfigKind
    embedder: str | None = None
    to_simplified: bool = False
    weights: Weights = field(default_factory=Weights)
    pool: int = 60
    policy: ConstraintPolicy = "flag"
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("bm25", "dense", "full"):
            raise ValueError(f"unknown configuration kind {self.kind!r}")
        if self.kind != "bm25" and not self.embedder:
            raise ValueError(f"a {self.kind} configuration needs an embedder")
        if self.pool < 1:
            raise ValueError("pool must be at least 1")

    @property
    def label(self) -> str:
        """The given name, or one built from the kind and embedder (``full:use+e5-small+t2s``)."""
        if self.name:
            return self.name
        if self.kind == "bm25":
            return "bm25"
        return f"{self.kind}:{self.embedder}" + ("+t2s" if self.to_simplified else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (weights and pool only for full configurations)."""
        out: dict[str, Any] = {"label": self.label, "kind": self.kind}
        if self.kind != "bm25":
            out.update(embedder=self.embedder, to_simplified=self.to_simplified)
        if self.kind == "full":
            out.update(weights=self.weights.as_dict(), pool=self.pool, policy=self.policy)
        return out


@dataclass(frozen=True)
class NeedResult:
    """One need's ranking (achievement external ids, best first) and its metric values (nan/None: undefined)."""

    need_id: str
    ranking: tuple[str, ...]
    violators: tuple[bool, ...]  # ranking[i] breaks a hard constraint of the need
    metrics: dict[str, float | None]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (undefined metrics become null)."""
        return {
            "need": self.need_id,
            "ranking": list(self.ranking),
            "violators": [r for r, v in zip(self.ranking, self.violators, strict=True) if v],
            "metrics": {k: _finite_or_none(v) for k, v in self.metrics.items()},
        }


@dataclass(frozen=True)
class Report:
    """The result of one configuration on one split: summaries (overall and per slice) and per-need results."""

    config: Config
    split: str
    summary: dict[str, Summary]
    needs: tuple[NeedResult, ...]
    rank_seconds: float

    def mean(self, metric: str, slice_name: str | None = None) -> float:
        """Mean of a metric overall or over one slice (nan when undefined or the slice is unknown)."""
        s = self.summary.get(metric)
        if s is None:
            return math.nan
        if slice_name is None:
            return s.mean
        sub = s.slices.get(slice_name)
        return sub.mean if sub is not None else math.nan

    def to_dict(self, *, per_need: bool = True) -> dict[str, Any]:
        """JSON-ready form: configuration, overall and per-slice means with their query counts, per-need results."""
        out: dict[str, Any] = {
            "config": self.config.to_dict(),
            "split": self.split,
            "rank_seconds": round(self.rank_seconds, 4),
            "overall": {m: {"mean": _finite_or_none(s.mean), "n": s.n} for m, s in self.summary.items()},
            "slices": {},
        }
        for metric, s in self.summary.items():
            for name, sub in s.slices.items():
                out["slices"].setdefault(name, {})[metric] = {"mean": _finite_or_none(sub.mean), "n": sub.n}
        if per_need:
            out["needs"] = [n.to_dict() for n in self.needs]
        return out


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)


def violates(need: NeedFacts, offer: OfferFacts) -> bool:
    """Whether an achievement breaks a hard constraint the need stated: ``trl < min_trl`` or no preferred mode offered.

    An unknown trl does not count as a violation (it cannot be checked); the deadline is not an achievement property.
    """
    return bool(hard_violations(need, offer, None))


def score_need(split: Split, index: int, ranking: Sequence[str], k: int = K) -> NeedResult:
    """Metric values of one need's ranking (achievement external ids, best first)."""
    need_id = split.need_ids[index]
    need = split.needs[index].facts
    assert isinstance(need, NeedFacts)
    grades = split.qrels[need_id]
    flags = tuple(violates(need, split.offers[a]) for a in ranking)
    constraint: float | None = None
    if need.min_trl is not None or need.preferred_modes:
        satisfying = [a for a, offer in split.offers.items() if not violates(need, offer)]
        constraint = constraint_first_ok(
            list(zip(ranking, flags, strict=True)), grades, satisfying, min_grade=RELEVANT_GRADE
        )
    metrics: dict[str, float | None] = {
        "ndcg@10": ndcg_at_k(ranking, grades, k),
        "recall@10": recall_at_k(ranking, grades, k, min_grade=RELEVANT_GRADE),
        "mrr": reciprocal_rank(ranking[:k], grades, min_grade=RELEVANT_GRADE),
        "constraint_accuracy": constraint,
    }
    return NeedResult(need_id=need_id, ranking=tuple(ranking), violators=flags, metrics=metrics)


# ----------------------------------------------------------------------------------------------------------------
# Running configurations
# ----------------------------------------------------------------------------------------------------------------


class _FrozenEmbedder:
    """An embedder that only looks up vectors computed beforehand (so re-ranking never calls a model)."""

    def __init__(self, name: str, queries: Mapping[str, np.ndarray], documents: Mapping[str, np.ndarray]) -> None:
        self.name = name
        self._queries = queries
        self._documents = documents
        self.dimension = int(next(iter(documents.values())).shape[0])

    def _lookup(self, table: Mapping[str, np.ndarray], texts: Sequence[str]) -> np.ndarray:
        missing = [t[:40] for t in texts if t not in table]
        if missing:
            raise KeyError(f"no precomputed vector for {missing!r}")
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([table[t] for t in texts]).astype(np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """The precomputed query vectors of these texts."""
        return self._lookup(self._queries, texts)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """The precomputed document vectors of these texts."""
        return self._lookup(self._documents, texts)


@dataclass
class _Vectors:
    embedder_name: str
    needs: np.ndarray  # query vectors, one row per need
    achievements: np.ndarray  # document vectors, one row per achievement
    seconds: float


class Evaluator:
    """Runs configurations on one split, embedding each text once per embedder and reusing matchers across weights."""

    def __init__(
        self, split: Split, *, embedder_factory: EmbedderFactory | None = None, today: date = EVAL_TODAY, k: int = K
    ) -> None:
        self.split = split
        self.today = today
        self.k = k
        self._factory = embedder_factory or _default_factory
        self._vectors: dict[tuple[str, bool], _Vectors] = {}
        self._matchers: dict[tuple[str, bool], Matcher] = {}
        self._lexical: LexicalIndex | None = None
        self._need_tokens: list[list[str]] | None = None

    def vectors(self, spec: str, to_simplified: bool = False) -> _Vectors:
        """Query and document vectors of the split for one embedder, computed on first use."""
        key = (spec, to_simplified)
        if key not in self._vectors:
            embedder = self._factory(spec, to_simplified)
            started = time.perf_counter()
            docs = embedder.encode_documents([d.text for d in self.split.achievements])
            queries = embedder.encode_queries([d.text for d in self.split.needs])
            self._vectors[key] = _Vectors(embedder.name, queries, docs, time.perf_counter() - started)
        return self._vectors[key]

    def embed_seconds(self) -> dict[str, float]:
        """Seconds spent embedding the split, per embedder name (model loading included)."""
        return {v.embedder_name: round(v.seconds, 3) for v in self._vectors.values()}

    def _matcher(self, spec: str, to_simplified: bool) -> Matcher:
        key = (spec, to_simplified)
        if key not in self._matchers:
            vec = self.vectors(spec, to_simplified)
            frozen = _FrozenEmbedder(
                vec.embedder_name,
                {d.text: v for d, v in zip(self.split.needs, vec.needs, strict=True)},
                {d.text: v for d, v in zip(self.split.achievements, vec.achievements, strict=True)},
            )
            matcher = Matcher(frozen, index_kind="flat")
            matcher.lists["achievements"].upsert(list(self.split.achievements), vec.achievements)
            self._matchers[key] = matcher
        return self._matchers[key]

    def _bm25(self) -> tuple[LexicalIndex, list[list[str]]]:
        if self._lexical is None or self._need_tokens is None:
            self._lexical = LexicalIndex()
            self._lexical.upsert([d.id for d in self.split.achievements], [d.text for d in self.split.achievements])
            self._need_tokens = [tokenize(d.text) for d in self.split.needs]
        return self._lexical, self._need_tokens

    def rankings(self, config: Config) -> list[list[int]]:
        """Each need's top-k achievement ids (matcher ids, best first) under one configuration."""
        if config.kind == "bm25":
            lexical, tokens = self._bm25()
            return [[i for i, _ in lexical.search(t, self.k)] for t in tokens]
        assert config.embedder is not None
        vec = self.vectors(config.embedder, config.to_simplified)
        if config.kind == "dense":
            index = VectorIndex(vec.achievements.shape[1], kind="flat")
            index.upsert(
                [d.id for d in self.split.achievements], vec.achievements, [d.attrs for d in self.split.achievements]
            )
            return [[i for i, _ in hits] for hits in index.search(vec.needs, self.k)]
        matcher = self._matcher(config.embedder, config.to_simplified)
        matcher.weights, matcher.pool = config.weights, config.pool
        queries = [Query(text=d.text, facts=d.facts) for d in self.split.needs]
        ranked = matcher.match_many(
            queries, "achievements", k=self.k, policy=config.policy, today=self.today, vectors=vec.needs
        )
        return [[r.id for r in result] for result in ranked]

    def evaluate(self, config: Config) -> Report:
        """Run one configuration and score every need."""
        if config.kind != "bm25" and config.embedder is not None:
            self.vectors(config.embedder, config.to_simplified)  # embedding time is not ranking time
        started = time.perf_counter()
        rankings = self.rankings(config)
        seconds = time.perf_counter() - started
        external = self.split.achievement_ids
        needs = tuple(
            score_need(self.split, i, [external[a - 1] for a in ranking], self.k) for i, ranking in enumerate(rankings)
        )
        summary = summarise([n.metrics for n in needs], self.split.slices)
        return Report(config=config, split=self.split.name, summary=summary, needs=needs, rank_seconds=seconds)


def evaluate(split: Split, config: Config, *, embedder_factory: EmbedderFactory | None = None) -> Report:
    """Score one configuration on a split (embeds it; :func:`compare` or an :class:`Evaluator` embed once for many)."""
    return Evaluator(split, embedder_factory=embedder_factory).evaluate(config)


def compare(
    split: Split,
    configs: Iterable[Config],
    *,
    embedder_factory: EmbedderFactory | None = None,
    evaluator: Evaluator | None = None,
) -> list[Report]:
    """Score several configurations on a split, embedding each text once per embedder."""
    evaluator = evaluator or Evaluator(split, embedder_factory=embedder_factory)
    return [evaluator.evaluate(c) for c in configs]


# ----------------------------------------------------------------------------------------------------------------
# Weight search (development split only)
# ----------------------------------------------------------------------------------------------------------------

DEFAULT_GRID: dict[str, tuple[float, ...]] = {
    "lexical": (0.0, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2),
    "chain": (0.0, 0.03, 0.06, 0.1, 0.15, 0.2, 0.3),
    "trl": (0.0, 0.02, 0.04, 0.08),
    "mode": (0.0, 0.03, 0.06, 0.1),
    "price": (0.0, 0.03, 0.06),
    "region": (0.0, 0.03, 0.06),
    "penalty": (0.02, 0.05, 0.1, 0.2, 0.3, 0.5),
    "pool": (30, 45, 60, 100),
}
"""Values tried per parameter: ``semantic`` stays 1 (the scale), ``freshness`` is untestable offline (no dates).
The matcher never uses a pool below ``3 k`` (30 for k = 10)."""

DEFAULT_JOINT: dict[str, tuple[float, ...]] = {
    "lexical": (0.0, 0.1, 0.3, 0.8),
    "chain": (0.0, 0.06, 0.15, 0.3),
    "penalty": (0.05, 0.1, 0.3),
}
"""Coarse grid searched jointly before the coordinate rounds. These three interact: the penalty only means something
relative to the spread of the relevance score, which the lexical and chain weights set, so one-at-a-time moves from
the defaults get stuck (on dev, a coordinate search alone ended 0.04 nDCG lower from one start than from another)."""


@dataclass(frozen=True)
class TuneStep:
    """One accepted move of the search: a parameter (or ``a+b`` for the joint stage), its value, the objective."""

    parameter: str
    value: float | tuple[float, ...]
    objective: float
    constraint_accuracy: float


def tune_weights(
    evaluator: Evaluator,
    start: Config,
    *,
    grid: Mapping[str, Sequence[float]] | None = None,
    joint: Mapping[str, Sequence[float]] | None = None,
    rounds: int = 3,
    min_gain: float = 0.002,
) -> tuple[Config, list[TuneStep]]:
    """Search ranking weights and the pool size for the best mean nDCG@10 on the evaluator's split.

    First the parameters in ``joint`` (default :data:`DEFAULT_JOINT`; ``{}`` skips this stage) are searched together
    over the product of their values; then coordinate rounds try every ``grid`` value of each parameter in turn,
    keeping the others fixed. A move is taken when it beats the current objective by at least ``min_gain`` (so ties
    and noise keep the current, rounder value) and keeps constraint accuracy at or above the starting configuration's.
    Stops after ``rounds`` rounds or a round without a move. Only re-ranks: the evaluator embeds the vectors once.

    Run it on the development split only; the test split is for reporting the chosen configuration once.
    """
    if start.kind != "full":
        raise ValueError("only full configurations have weights to tune")
    grid = grid or DEFAULT_GRID
    cache: dict[tuple[tuple[str, float], ...], tuple[float, float]] = {}

    def score(config: Config) -> tuple[float, float]:
        key = (*sorted(config.weights.as_dict().items()), ("pool", float(config.pool)))
        if key not in cache:
            report = evaluator.evaluate(config)
            cache[key] = (report.mean("ndcg@10"), report.mean("constraint_accuracy"))
        return cache[key]

    def with_values(config: Config, values: Mapping[str, float]) -> Config:
        weights = {k: float(v) for k, v in values.items() if k != "pool"}
        pool = int(values.get("pool", config.pool))
        return replace(config, weights=replace(config.weights, **weights), pool=pool)

    current = start
    best, floor = score(current)
    steps: list[TuneStep] = []

    def try_moves(name: str, moves: list[dict[str, float]]) -> bool:
        nonlocal current, best
        trials = [(score(with_values(current, m)), m) for m in moves]
        allowed = [(s, m) for s, m in trials if not s[1] < floor]  # a nan floor (no constrained needs) allows all
        if not allowed:
            return False
        (objective, accuracy), move = max(allowed, key=lambda t: t[0][0])  # first of equals: grid order
        if objective < best + min_gain:
            return False
        current, best = with_values(current, move), objective
        value = tuple(move.values()) if len(move) > 1 else next(iter(move.values()))
        steps.append(TuneStep(name, value, objective, accuracy))
        return True

    joint = DEFAULT_JOINT if joint is None else joint
    if joint:
        names = list(joint)
        try_moves(
            "+".join(names), [dict(zip(names, combo, strict=True)) for combo in product(*(joint[p] for p in names))]
        )
    for _ in range(rounds):
        moved = False
        for parameter, values in grid.items():
            moved |= try_moves(parameter, [{parameter: v} for v in values])
        if not moved:
            break
    return current, steps


# ----------------------------------------------------------------------------------------------------------------
# Table
# ----------------------------------------------------------------------------------------------------------------

TABLE_SLICES = ("zh-en", "en-zh", "hans-hant", "constraint", "jargon", "symptom", "hard-negative")


def format_table(reports: Sequence[Report], slices: Sequence[str] = TABLE_SLICES) -> str:
    """A plain-text table: one row per configuration; overall metrics, then nDCG@10 per slice (n in the header)."""
    if not reports:
        return ""
    first = reports[0].summary
    headers = ["configuration", "nDCG@10", "R@10", "MRR", "constr.acc"]
    counts = [first["ndcg@10"].n, first["recall@10"].n, first["mrr"].n, first["constraint_accuracy"].n]
    headers = [headers[0], *(f"{h} (n={n})" for h, n in zip(headers[1:], counts, strict=True))]
    shown = [s for s in slices if s in first["ndcg@10"].slices]
    headers += [f"{s} (n={first['ndcg@10'].slices[s].n})" for s in shown]
    rows = []
    for r in reports:
        cells = [r.config.label, *(_cell(r.mean(m)) for m in METRICS), *(_cell(r.mean("ndcg@10", s)) for s in shown)]
        rows.append(cells)
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    lines = [
        "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths, strict=True)))
    ]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append(
            "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        )
    return "\n".join(lines)


def _cell(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.3f}"
