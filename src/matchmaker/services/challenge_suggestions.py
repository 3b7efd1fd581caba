"""Suggestions for a published challenge from the supply list, with the matching core (search/).

* institutions most likely to solve it: the supply list ranked against the whole challenge, grouped by institution
  (its best achievements with their explanations, its best TRL and region, the indicators it has evidence for), so
  managers can invite them before the deadline;
* consortia: teams of two or three institutions that together cover every indicator best (search/consortium.py,
  OR-Tools CP-SAT), preferring cross-region (京津冀) teams when the cover is equal, with the evidence per member.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.errors import ValidationFailed, field_error
from matchmaker.models import Achievement
from matchmaker.models.challenges import Challenge, ChallengeIndicator
from matchmaker.search.consortium import SOLVER, AchievementInfo, Institution, gather, institution_of, suggest_teams
from matchmaker.search.filters import Filter
from matchmaker.search.matcher import Query
from matchmaker.search.ranking import NeedFacts
from matchmaker.services.access import Principal, require_staff
from matchmaker.services.challenges import get_visible, indicators_of
from matchmaker.services.indexing import SearchService

RELEVANT_SCORE = 0.55
"""Evidence scoring below this (the matcher's total score) covers nothing. On data/eval/challenges.json with the USE
embedder, 90% of the top-10 hits judged relevant score ≥ 0.61 and half of the others score < 0.55; the measured cover
is the same for every threshold from 0 to 0.6 (benchmarks/consortium.py, README)."""
ACTIVE = Filter(statuses=("active",))
PER_INDICATOR_K = 30


def indicator_query(title: str, name: str, detail: str | None) -> str:
    """The text one indicator (sub-goal) is matched with: the challenge's title, the indicator and its detail."""
    return "。".join(p for p in (f"{title}：{name}", (detail or "").strip()) if p)


def _facts(challenge: Challenge) -> NeedFacts:
    return NeedFacts(
        field=challenge.field, region=challenge.region, min_trl=(challenge.eligibility or {}).get("min_trl")
    )


def _lookup(session: Session) -> Any:
    def lookup(ids: Sequence[int]) -> Mapping[int, AchievementInfo]:
        if not ids:
            return {}
        rows = session.execute(
            select(Achievement.id, Achievement.title, Achievement.owner, Achievement.region, Achievement.trl).where(
                Achievement.id.in_(list(ids)), Achievement.status == "active"
            )
        ).all()
        return {r.id: AchievementInfo(r.id, r.title, r.owner or "", r.region, r.trl) for r in rows}

    return lookup


def _evidence(
    session: Session, search: SearchService, challenge: Challenge, indicators: list[ChallengeIndicator]
) -> list[Institution]:
    if not indicators:
        raise ValidationFailed(
            "the challenge has no indicator to match", fields=[field_error("indicators", "at least one")]
        )
    queries = [indicator_query(challenge.title, i.name, i.detail) for i in indicators]
    return gather(search.matcher, queries, _facts(challenge), _lookup(session), k=PER_INDICATOR_K, flt=ACTIVE)


def _indicator_brief(indicator: ChallengeIndicator) -> dict[str, Any]:
    return {
        "id": indicator.id,
        "name": indicator.name,
        "target": f"{indicator.comparator} {float(indicator.target_value):g} {indicator.unit}".strip(),
    }


def institutions(
    session: Session, search: SearchService, challenge_id: int, principal: Principal | None, *, limit: int = 10
) -> dict[str, Any]:
    """The institutions most likely to solve the challenge, best first, with their best achievements (staff)."""
    require_staff(principal, "see suggestions")
    challenge = get_visible(session, challenge_id, principal)
    indicators = indicators_of(session, challenge.id)
    per_indicator = {i.name: i for i in _evidence(session, search, challenge, indicators)}
    text = "\n".join([challenge.title, challenge.goal, *(i.name for i in indicators)])
    ranked = search.matcher.match(Query(text=text, facts=_facts(challenge)), "achievements", k=40, flt=ACTIVE)
    info = _lookup(session)([r.id for r in ranked])
    groups: dict[str, dict[str, Any]] = {}
    for hit in ranked:
        achievement = info.get(hit.id)
        if achievement is None:
            continue
        name = institution_of(achievement.owner)
        group = groups.setdefault(
            name, {"institution": name, "region": achievement.region, "achievements": [], "best": hit.score}
        )
        if len(group["achievements"]) < 3:
            group["achievements"].append(
                {
                    "id": achievement.id,
                    "title": achievement.title,
                    "owner": achievement.owner,
                    "trl": achievement.trl,
                    "score": round(hit.score, 4),
                    "explanation": hit.explanation(),
                }
            )
    items = []
    for name, group in groups.items():
        evidence = per_indicator.get(name)
        covered = [
            indicators[j].name
            for j, e in sorted((evidence.evidence if evidence else {}).items())
            if e.score >= RELEVANT_SCORE
        ]
        trls = [a["trl"] for a in group["achievements"] if a["trl"] is not None]
        # The best achievement's score, plus a little for every indicator the institution has evidence for.
        score = group.pop("best") + 0.05 * len(covered)
        items.append({**group, "score": round(score, 4), "max_trl": max(trls, default=None), "covers": covered})
    items.sort(key=lambda i: (-i["score"], i["institution"]))
    return {
        "items": [{"rank": n, **i} for n, i in enumerate(items[:limit], start=1)],
        "indicators": [_indicator_brief(i) for i in indicators],
    }


def consortia(
    session: Session, search: SearchService, challenge_id: int, principal: Principal | None, *, alternatives: int = 3
) -> dict[str, Any]:
    """Teams of two or three institutions covering the indicators best, with why each member is in (staff)."""
    require_staff(principal, "see suggestions")
    challenge = get_visible(session, challenge_id, principal)
    indicators = indicators_of(session, challenge.id)
    found = _evidence(session, search, challenge, indicators)
    teams = suggest_teams(found, len(indicators), threshold=RELEVANT_SCORE, alternatives=alternatives)
    items = []
    for n, team in enumerate(teams, start=1):
        members = []
        for m, member in enumerate(team.members):
            covers = []
            for j, owner in team.assignment.items():
                if owner != m:
                    continue
                evidence = member.evidence[j]
                covers.append(
                    {
                        "indicator_id": indicators[j].id,
                        "indicator": indicators[j].name,
                        "achievement": {
                            "id": evidence.achievement.id,
                            "title": evidence.achievement.title,
                            "owner": evidence.achievement.owner,
                            "trl": evidence.achievement.trl,
                        },
                        "score": round(evidence.score, 4),
                        "explanation": evidence.sentence,
                    }
                )
            members.append({"institution": member.name, "region": member.region, "covers": covers})
        items.append(
            {
                "rank": n,
                "members": members,
                "covered": team.covered,
                "of": len(indicators),
                "uncovered": [indicators[j].name for j in range(len(indicators)) if j not in team.assignment],
                "cross_region": team.cross_region,
                "regions": sorted({m.region for m in team.members}),
                "quality": round(team.quality, 4),
                "optimal": team.optimal,
            }
        )
    return {"solver": SOLVER, "items": items, "indicators": [_indicator_brief(i) for i in indicators]}
