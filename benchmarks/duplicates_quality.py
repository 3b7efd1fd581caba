"""Precision and recall of duplicate detection on the labelled sets (data/eval/duplicates-*.json).

    python benchmarks/duplicates_quality.py [--fit] [--embedder use]

For each split, every record is embedded with the service's embedder (Traditional → Simplified first, as the service
does; vectors cached under var/bench-cache), each kind (achievements, needs) goes through
``DuplicateDetector.scan``, and the predicted duplicate pairs are compared with the labelled ones (every unlabelled
pair of a split is a non-duplicate). Reported: candidate recall (labelled pairs the blocking step proposes at all),
precision / recall / F1 of the decision at the model's threshold, recall per kind of copy, and the false positives.

``--fit`` fits the logistic model on dev's candidate pairs (scikit-learn, L2, C=1.0), chooses the threshold that
maximises F1 on dev among those with precision ≥ 0.95 (the middle of the range when several tie), and prints the
constants to put into ``search/duplicates.py`` (DEFAULT_MODEL); the test split is never used for a choice.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from _common import CACHE, ROOT, format_table, machine, write_results
from matchmaker.search.duplicates import (
    DEFAULT_MODEL,
    FEATURES,
    DuplicateDetector,
    DuplicateModel,
    DupRecord,
    ScoredPair,
)

EVAL = ROOT / "data" / "eval"


def load(split: str) -> dict[str, Any]:
    return json.loads((EVAL / f"duplicates-{split}.json").read_text(encoding="utf-8"))


def vectors(records: list[dict[str, Any]], spec: str) -> dict[str, np.ndarray]:
    """Document vectors of the records (cached on disk by text digest)."""
    from matchmaker.search.embedding import create_embedder

    texts = [f"{r['title']}\n{r['body']}" for r in records]
    digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
    cache = CACHE / f"dup-vectors-{spec}-{digest}.npy"
    if cache.exists():
        matrix = np.load(cache)
    else:
        embedder = create_embedder(spec, to_simplified=True)
        matrix = embedder.encode_documents(texts)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, matrix)
    return {r["id"]: matrix[i] for i, r in enumerate(records)}


def candidates(
    data: dict[str, Any], vecs: dict[str, np.ndarray], model: DuplicateModel, **detector: Any
) -> list[tuple[str, str, ScoredPair]]:
    """Every candidate pair of the split, both kinds, with string ids."""
    out = []
    for kind in ("achievements", "demands"):
        recs = [r for r in data["records"] if r["kind"] == kind]
        names = {i: r["id"] for i, r in enumerate(recs)}
        found = DuplicateDetector(model=model, **detector)
        found.add(
            DupRecord(i, r["title"], r["body"], r["owner"], r["external_id"], r["field"], vecs[r["id"]])
            for i, r in enumerate(recs)
        )
        out += [(names[p.a], names[p.b], p) for p in found.scan(all_candidates=True)]
    return out


def truth(data: dict[str, Any]) -> dict[frozenset[str], str]:
    return {frozenset((p["a"], p["b"])): p["how"] for p in data["duplicates"]}


def evaluate(
    data: dict[str, Any], cands: list[tuple[str, str, ScoredPair]], threshold: float, model: DuplicateModel
) -> dict[str, Any]:
    gold = truth(data)
    seen = {frozenset((a, b)) for a, b, _ in cands}
    predicted = {frozenset((a, b)) for a, b, p in cands if model.probability(p.features) >= threshold}
    tp = len(predicted & gold.keys())
    fp = sorted(tuple(sorted(x)) for x in predicted - gold.keys())
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(gold) if gold else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    by_how: dict[str, list[int]] = {}
    for pair, how in gold.items():
        by_how.setdefault(how, [0, 0])
        by_how[how][1] += 1
        by_how[how][0] += int(pair in predicted)
    return {
        "pairs_labelled": len(gold),
        "candidate_pairs": len(cands),
        "candidate_recall": round(len(seen & gold.keys()) / len(gold), 4),
        "predicted": len(predicted),
        "true_positives": tp,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "recall_by_kind_of_copy": {k: f"{v[0]}/{v[1]}" for k, v in sorted(by_how.items())},
        "false_positives": fp[:20],
        "missed": sorted(tuple(sorted(x)) for x in gold.keys() - predicted)[:20],
    }


def fit(data: dict[str, Any], cands: list[tuple[str, str, ScoredPair]]) -> DuplicateModel:
    from sklearn.linear_model import LogisticRegression

    gold = truth(data)
    x = np.array([[p.features[f] for f in FEATURES] for _, _, p in cands])
    y = np.array([int(frozenset((a, b)) in gold) for a, b, _ in cands])
    lr = LogisticRegression(C=1.0, max_iter=2000).fit(x, y)
    weights = {f: round(float(w), 2) for f, w in zip(FEATURES, lr.coef_[0], strict=True)}
    model = DuplicateModel(intercept=round(float(lr.intercept_[0]), 2), weights=weights, threshold=0.5)
    scores = {}
    for t in np.arange(0.05, 0.96, 0.05):
        r = evaluate(data, cands, float(t), model)
        if r["precision"] >= 0.95:
            scores[round(float(t), 2)] = r["f1"]
    best = max(scores.values())
    tied = sorted(t for t, f in scores.items() if f == best)
    print("F1 by threshold on dev:", scores)  # noqa: T201
    return DuplicateModel(model.intercept, model.weights, tied[len(tied) // 2])  # the middle of the best range


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--embedder", default="use")
    ap.add_argument("--fit", action="store_true", help="fit the model and threshold on dev and print them")
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "duplicates-quality.json")
    args = ap.parse_args()
    model = DEFAULT_MODEL
    splits = {s: load(s) for s in ("dev", "test")}
    vecs = {s: vectors(d["records"], args.embedder) for s, d in splits.items()}
    if args.fit:
        # fitted on a wider candidate set (more neighbours, low cosine floor) so it sees hard non-duplicates
        wide = candidates(splits["dev"], vecs["dev"], DEFAULT_MODEL, neighbours=10, cosine_floor=0.3)
        model = fit(splits["dev"], wide)
        print("fitted on dev:", model)  # noqa: T201
    results = {}
    rows = []
    for split, data in splits.items():
        r = evaluate(data, candidates(data, vecs[split], model), model.threshold, model)
        results[split] = r
        rows.append(
            [split, r["pairs_labelled"], r["candidate_recall"], r["predicted"], r["precision"], r["recall"], r["f1"]]
        )
        print(split, "recall by kind of copy:", r["recall_by_kind_of_copy"])  # noqa: T201
        print(split, "false positives:", r["false_positives"], "missed:", r["missed"])  # noqa: T201
    print(format_table(["split", "labelled pairs", "candidate recall", "predicted", "precision", "recall", "F1"], rows))  # noqa: T201
    if not args.fit:
        write_results(
            args.json,
            "duplicates-quality",
            {
                "embedder": args.embedder,
                "model": {"intercept": model.intercept, "weights": model.weights, "threshold": model.threshold},
                "results": results,
            },
            machine_info=machine(),
        )


if __name__ == "__main__":
    main()
