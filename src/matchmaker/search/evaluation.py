"""Offline evaluation of the matcher on a judged split (data/eval/<split>/): baselines, full ranking, weight search.

A split (data/eval/<split>/) is loaded by :mod:`matchmaker.search.eval_data`; each need is scored and the reports are
tabulated by :mod:`matchmaker.search.eval_scoring`; the weight search is :mod:`matchmaker.search.tuning`.

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

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

import numpy as np

from matchmaker.search.concepts import Thesaurus, load_links
from matchmaker.search.embedding import Embedder, create_embedder
from matchmaker.search.eval_data import Split
from matchmaker.search.eval_scoring import (
    METRICS,
    K,
    NeedResult,
    finite_or_none,
    format_table,
    judged_scores,
    score_need,
    violates,
)
from matchmaker.search.index import VectorIndex
from matchmaker.search.lexical import LexicalIndex
from matchmaker.search.matcher import Matcher, Query
from matchmaker.search.metrics import Summary, summarise
from matchmaker.search.ranking import ConstraintPolicy, Ranked, Weights
from matchmaker.search.text import tokenize

__all__ = [
    "EVAL_TODAY",
    "METRICS",
    "Config",
    "EmbedderFactory",
    "Evaluator",
    "NeedResult",
    "Report",
    "compare",
    "evaluate",
    "format_table",
    "judged_scores",
    "score_need",
    "violates",
]

EVAL_TODAY = date(2026, 11, 23)
"""The evaluation's "today": deadlines and freshness are judged against this date so results are reproducible."""

ConfigKind = Literal["bm25", "dense", "full"]
EmbedderFactory = Callable[[str, bool], Embedder]
"""Builds an embedder from ``(spec, to_simplified)``; :func:`matchmaker.search.embedding.create_embedder` by default."""


def _default_factory(spec: str, to_simplified: bool) -> Embedder:
    return create_embedder(spec, to_simplified=to_simplified)


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
    thesaurus: str | None = None  # a thesaurus file (concepts.load_links) the full ranking uses; None: none

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
            out.update(weights=self.weights.as_dict(), pool=self.pool, policy=self.policy, thesaurus=self.thesaurus)
        return out


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
            "overall": {m: {"mean": finite_or_none(s.mean), "n": s.n} for m, s in self.summary.items()},
            "slices": {},
        }
        for metric, s in self.summary.items():
            for name, sub in s.slices.items():
                out["slices"].setdefault(name, {})[metric] = {"mean": finite_or_none(sub.mean), "n": sub.n}
        if per_need:
            out["needs"] = [n.to_dict() for n in self.needs]
        return out


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
        self._thesauri: dict[str, Thesaurus] = {}
        self.progress: Callable[[int, int], None] | None = None  # called with (needs ranked, needs) while ranking

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
        return [[r.id for r in result] for result in self.ranked(config)]

    def ranked(self, config: Config) -> list[list[Ranked]]:
        """Each need's top-k ranked pairings under a full configuration (scores, bands, explanations)."""
        assert config.kind == "full"
        assert config.embedder is not None
        vec = self.vectors(config.embedder, config.to_simplified)
        matcher = self._matcher(config.embedder, config.to_simplified)
        matcher.weights, matcher.pool = config.weights, config.pool
        matcher.thesaurus = self._thesaurus(config.thesaurus)
        queries = [Query(text=d.text, facts=d.facts) for d in self.split.needs]
        step = max(1, len(queries) // 10)
        out: list[list[Ranked]] = []
        for start in range(0, len(queries), step):
            out.extend(
                matcher.match_many(
                    queries[start : start + step],
                    "achievements",
                    k=self.k,
                    policy=config.policy,
                    today=self.today,
                    vectors=vec.needs[start : start + step],
                )
            )
            if self.progress is not None:
                self.progress(len(out), len(queries))
        return out

    def _thesaurus(self, path: str | None) -> Thesaurus:
        if path is None:
            return Thesaurus()
        if path not in self._thesauri:
            self._thesauri[path] = Thesaurus(load_links(path))
        return self._thesauri[path]

    def evaluate(self, config: Config) -> Report:
        """Run one configuration and score every need."""
        if config.kind != "bm25" and config.embedder is not None:
            self.vectors(config.embedder, config.to_simplified)  # embedding time is not ranking time
        started = time.perf_counter()
        external = self.split.achievement_ids
        if config.kind == "full":
            ranked = self.ranked(config)
            seconds = time.perf_counter() - started
            needs = tuple(
                replace(
                    score_need(self.split, i, [external[r.id - 1] for r in result], self.k),
                    scores=tuple(r.score for r in result),
                    bands=tuple(r.band for r in result),
                )
                for i, result in enumerate(ranked)
            )
        else:
            rankings = self.rankings(config)
            seconds = time.perf_counter() - started
            needs = tuple(
                score_need(self.split, i, [external[a - 1] for a in ranking], self.k)
                for i, ranking in enumerate(rankings)
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
