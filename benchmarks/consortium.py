"""揭榜挂帅 consortium suggestions, measured: for each challenge of data/eval/challenges.json, the suggested team
(the CP-SAT optimum over the sample supply list) and whether it covers every indicator with a relevant achievement
(one the evaluation judged relevant for that indicator).

    PYTHONPATH=src python benchmarks/consortium.py [--embedder use] [--threshold 0.35] [--out consortium.json]

Prints a table per challenge and the share covered; writes JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from matchmaker.search.consortium import (
    SOLVER,
    AchievementInfo,
    Institution,
    Team,
    gather,
    suggest_teams,
)
from matchmaker.search.embedding import create_embedder
from matchmaker.search.eval_data import achievement_row_doc
from matchmaker.search.matcher import Matcher
from matchmaker.search.ranking import NeedFacts
from matchmaker.services.challenge_suggestions import RELEVANT_SCORE, indicator_query

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def build(embedder_spec: str, rows: list[dict[str, Any]]) -> Matcher:
    """A matcher over the sample supply list (ids 1..n in file order)."""
    embedder = create_embedder(embedder_spec, to_simplified=True)
    matcher = Matcher(embedder)
    docs = [achievement_row_doc(i, row) for i, row in enumerate(rows, start=1)]
    vectors = np.asarray(embedder.encode_documents([d.text for d in docs]), dtype=np.float32)
    matcher.lists["achievements"].upsert(docs, vectors)
    return matcher


def evaluate(
    matcher: Matcher, rows: list[dict[str, Any]], challenges: Sequence[dict[str, Any]], threshold: float
) -> dict[str, Any]:
    """Suggest a team per challenge and judge it against the relevant achievements."""
    info = {
        i: AchievementInfo(i, r["title"], r.get("owner") or "", r["region"], r.get("trl"))
        for i, r in enumerate(rows, start=1)
    }
    external = {i: r["external_id"] for i, r in enumerate(rows, start=1)}

    def lookup(ids: Sequence[int]) -> Mapping[int, AchievementInfo]:
        return {i: info[i] for i in ids if i in info}

    per: list[dict[str, Any]] = []
    for c in challenges:
        indicators = c["indicators"]
        queries = [indicator_query(c["title"], i["name"], i.get("detail")) for i in indicators]
        started = time.perf_counter()
        institutions: list[Institution] = gather(
            matcher, queries, NeedFacts(field=c["field"], region=c["region"]), lookup
        )
        teams: list[Team] = suggest_teams(institutions, len(indicators), threshold=threshold)
        elapsed = time.perf_counter() - started
        team = teams[0] if teams else None
        judged = []
        for j, indicator in enumerate(indicators):
            member = team.members[team.assignment[j]] if team and j in team.assignment else None
            evidence = member.evidence[j] if member else None
            ext = external[evidence.achievement.id] if evidence else None
            judged.append(
                {
                    "indicator": indicator["name"],
                    "member": member.name if member else None,
                    "evidence": ext,
                    "relevant": ext in indicator["relevant"],
                }
            )
        per.append(
            {
                "challenge": c["external_id"],
                "title": c["title"],
                "indicators": len(indicators),
                "team": [f"{m.name}（{m.region}）" for m in team.members] if team else [],
                "cross_region": bool(team and team.cross_region),
                "covered_by_solver": team.covered if team else 0,
                "covered_relevant": sum(j["relevant"] for j in judged),
                "all_covered": all(j["relevant"] for j in judged),
                "seconds": round(elapsed, 3),
                "detail": judged,
            }
        )
    n_ind = sum(p["indicators"] for p in per)
    return {
        "challenges": len(per),
        "indicators": n_ind,
        "share_all_indicators_covered": round(sum(p["all_covered"] for p in per) / len(per), 3),
        "share_indicators_covered": round(sum(p["covered_relevant"] for p in per) / n_ind, 3),
        "share_cross_region_teams": round(sum(p["cross_region"] for p in per) / len(per), 3),
        "per_challenge": per,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", default="use")
    parser.add_argument("--threshold", type=float, default=RELEVANT_SCORE)
    parser.add_argument("--challenges", default=str(ROOT / "data" / "eval" / "challenges.json"))
    parser.add_argument("--achievements", default=str(ROOT / "data" / "sample" / "achievements.jsonl"))
    parser.add_argument("--out", default="consortium.json")
    args = parser.parse_args()
    rows = [json.loads(line) for line in Path(args.achievements).read_text(encoding="utf-8").splitlines() if line]
    challenges = json.loads(Path(args.challenges).read_text(encoding="utf-8"))["challenges"]
    matcher = build(args.embedder, rows)
    report = evaluate(matcher, rows, challenges, args.threshold)
    print(f"{'challenge':<10} {'ind':>3} {'relevant':>8} {'all':>4} {'cross':>5}  team")
    for p in report["per_challenge"]:
        print(
            f"{p['challenge']:<10} {p['indicators']:>3} {p['covered_relevant']:>8} "
            f"{'yes' if p['all_covered'] else 'no':>4} {'yes' if p['cross_region'] else 'no':>5}  "
            f"{' + '.join(p['team'])}"
        )
    print(
        f"\n{report['challenges']} challenges, {report['indicators']} indicators ({SOLVER}, embedder {args.embedder}, "
        f"threshold {args.threshold}): every indicator covered by a relevant achievement in "
        f"{report['share_all_indicators_covered']:.0%} of challenges; "
        f"indicators covered {report['share_indicators_covered']:.0%}; "
        f"cross-region teams {report['share_cross_region_teams']:.0%}"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"embedder": args.embedder, "threshold": args.threshold, "solver": SOLVER, **report}
    (RESULTS / args.out).write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
