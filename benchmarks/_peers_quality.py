"""The whole need → top-10 request on the development split, the service's match against txtai's hybrid index: the
one peer here whose BM25 can rank Chinese (given a word segmentation), so speed is compared at measured quality.

* service: :class:`~matchmaker.search.matcher.Matcher` as the service configures it (``Settings``: the embedder, the
  Traditional → Simplified conversion, the default ranking weights, no thesaurus loaded), the split's achievements
  embedded once; each request embeds the need's text, searches and ranks (the query cache is cleared before each).
* txtai hybrid: ``Embeddings(hybrid=True)`` with BM25 over the service's own jieba tokens (txtai's default tokenizer
  splits Chinese only at punctuation, so the text it indexes is the tokens joined by spaces and its tokenizer splits on
  whitespace) and dense vectors from the same embedder (``method="external"``); each request segments the need's
  text, embeds it and searches, at the hybrid weight (dense share) that scores best on the split.

Both are scored with :func:`matchmaker.search.evaluation.score_need` (nDCG@10 against the split's judgements).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TXTAI_WEIGHTS = (0.3, 0.5, 0.7, 0.9)


def _ms(samples: Sequence[float]) -> dict[str, float]:
    arr = np.asarray(samples) * 1000.0
    return {"p50_ms": round(float(np.percentile(arr, 50)), 3), "p99_ms": round(float(np.percentile(arr, 99)), 3)}


def _scored(split: Any, rankings: Sequence[Sequence[int]]) -> float:
    from matchmaker.search.evaluation import score_need

    external = split.achievement_ids
    values = [
        score_need(split, i, [external[a - 1] for a in ranking]).metrics["ndcg@10"]
        for i, ranking in enumerate(rankings)
    ]
    return round(float(np.nanmean(np.asarray(values, dtype=np.float64))), 4)


def measure(split_name: str = "dev", reps: int = 3) -> dict[str, Any]:
    """nDCG@10 and per-request latency (median p50 / p99 over ``reps`` passes over the split's needs) of both."""
    from txtai import Embeddings

    from matchmaker.config import Settings
    from matchmaker.search.embedding import create_embedder
    from matchmaker.search.eval_data import load_split
    from matchmaker.search.evaluation import EVAL_TODAY
    from matchmaker.search.matcher import Matcher, Query
    from matchmaker.search.text import tokenize

    settings = Settings()
    split = load_split(ROOT / "data" / "eval" / split_name)
    embedder = create_embedder(settings.embedder, to_simplified=settings.embed_to_simplified)
    doc_vectors = embedder.encode_documents([d.text for d in split.achievements])

    matcher = Matcher(embedder, index_kind=settings.index_kind, hnsw_threshold=settings.hnsw_threshold)
    matcher.lists["achievements"].upsert(list(split.achievements), doc_vectors)

    joined = [" ".join(tokenize(d.text)) for d in split.achievements]
    by_text = {t: v for t, v in zip(joined, doc_vectors, strict=True)}
    originals: dict[str, str] = {}

    def transform(texts: Sequence[str]) -> np.ndarray:  # documents: their vectors; a query: embedded now
        known = [by_text.get(t) for t in texts]
        if all(v is not None for v in known):
            return np.stack(known)  # type: ignore[arg-type]
        return embedder.encode_queries([originals.get(t, t) for t in texts])

    hybrid = Embeddings(
        method="external",
        transform=transform,
        content=False,
        hybrid=True,
        scoring={"method": "bm25", "terms": True, "normalize": True, "tokenizer": {"whitespace": True}},
    )
    hybrid.index([(d.id, text, None) for d, text in zip(split.achievements, joined, strict=True)])

    def service(text: str, facts: Any) -> list[int]:
        matcher.clear_caches()
        ranked = matcher.match(Query(text=text, facts=facts), "achievements", k=10, today=EVAL_TODAY)
        return [r.id for r in ranked]

    def txtai_at(weight: float | None) -> Any:
        def txtai_hybrid(text: str, facts: Any) -> list[int]:
            query = " ".join(tokenize(text))
            originals[query] = text
            return [int(uid) for uid, _ in hybrid.search(query, 10, weights=weight)]

        return txtai_hybrid

    def embed_only(text: str, facts: Any) -> list[int]:
        embedder.encode_queries([text])
        return []

    # txtai's best hybrid weight on this split (dense share; its default when None), so it is timed at its best quality
    weights = {w: _scored(split, [txtai_at(w)(d.text, d.facts) for d in split.needs]) for w in TXTAI_WEIGHTS}
    best = max(weights, key=lambda w: weights[w])
    engines = {
        "service match (shipped)": service,
        f"txtai hybrid, dense weight {best}": txtai_at(best),
        "query embedding alone (in both)": embed_only,
    }
    times: dict[str, list[list[float]]] = {name: [] for name in engines}
    rankings: dict[str, list[list[int]]] = {name: [] for name in engines}
    for fn in engines.values():  # warm-up: model, jieba dictionary and first-call costs are not a request's
        fn(split.needs[0].text, split.needs[0].facts)
    rng = np.random.default_rng(0)
    for _ in range(reps):  # each need through every engine in a shuffled order, so load hits them alike
        for samples in times.values():
            samples.append([])
        for i, need in enumerate(split.needs):
            for j in rng.permutation(len(engines)):
                name = list(engines)[j]
                started = time.perf_counter()
                ranking = engines[name](need.text, need.facts)
                times[name][-1].append(time.perf_counter() - started)
                if len(rankings[name]) <= i:
                    rankings[name].append(ranking)
    rows = []
    service_p50 = [_ms(t)["p50_ms"] for t in times["service match (shipped)"]]
    for name in engines:
        per_rep = [_ms(t) for t in times[name]]
        ratio = [r["p50_ms"] / s for r, s in zip(per_rep, service_p50, strict=True)]
        rows.append(
            {
                "name": name,
                "ndcg_at_10": _scored(split, rankings[name]) if name != "query embedding alone (in both)" else None,
                "p50_ms": round(float(np.median([r["p50_ms"] for r in per_rep])), 3),
                "p99_ms": round(float(np.median([r["p99_ms"] for r in per_rep])), 3),
                "p50_ratio_to_service": round(float(np.median(ratio)), 3),
            }
        )
    return {
        "split": split.name,
        "needs": len(split.needs),
        "achievements": len(split.achievements),
        "embedder": embedder.name,
        "txtai_weights_ndcg_at_10": {str(w): v for w, v in weights.items()},
        "rows": rows,
    }
