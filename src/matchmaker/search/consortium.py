"""Consortium suggestions (创新联合体): which two or three institutions together cover a challenge's indicators best.

The challenge is split into its indicators (or sub-goals); the matcher ranks the supply list against each one; an
institution's evidence for an indicator is its best-ranked achievement there. Choosing the team is a small weighted
maximum-coverage problem with side conditions, solved exactly as an integer program with OR-Tools CP-SAT:

* ``x[i]``: institution ``i`` is in the team; 2 ≤ Σx ≤ 3;
* ``a[i, j]``: indicator ``j`` is assigned to member ``i`` (only where ``i`` has relevant evidence for ``j``);
  ``a[i, j] ≤ x[i]``, each indicator assigned at most once, and every member is assigned at least one indicator
  (nobody is in the team without a reason that can be shown);
* objective, lexicographic through weights: first the number of indicators covered, then a cross-region team
  (at least two of 北京 / 天津 / 河北), then the summed evidence score, then the smaller team.

Why CP-SAT (OR-Tools, Google's well-kept solver, Apache-2.0, wheels for every platform): the problem is tiny (tens
of institutions, a handful of indicators), so an exact answer with a proof of optimality takes milliseconds; the
constraints above (team size, "every member contributes", the cross-region tie-break) are one line each, where a
greedy set cover would need special cases and still miss the best pair or triple. Alternatives are found by
solving again with a no-good cut that excludes the previous team.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from matchmaker.search.constraints import NeedFacts
from matchmaker.search.filters import Filter
from matchmaker.search.matcher import Matcher, Query
from matchmaker.search.text import normalize_text, to_simplified

SOLVER = "OR-Tools CP-SAT"
JJJ = ("北京", "天津", "河北")
SCALE = 1000  # evidence scores (0..1) become integers for CP-SAT
_UNIT_END = re.compile(r"(大学|学院|研究院|研究所|研究中心|工程中心|中心|实验室|University|Institute|Laboratory)")


def institution_of(owner: str) -> str:
    """The institution an achievement's owner belongs to: "京華理工大學計算機學院" → "京华理工大学".

    The name up to the first (earliest-ending) institution word; an English name up to its first comma.
    """
    name = to_simplified(normalize_text(owner)).strip()
    if not name:
        return "（未注明单位）"
    if name.isascii():
        return name.split(",")[0].strip()
    match = _UNIT_END.search(name)
    return name[: match.end()] if match else name


@dataclass(frozen=True)
class AchievementInfo:
    """What the suggestion shows of one achievement."""

    id: int
    title: str
    owner: str
    region: str
    trl: int | None


@dataclass(frozen=True)
class Evidence:
    """An institution's best achievement for one indicator, with the matcher's score and explanation."""

    indicator: int
    achievement: AchievementInfo
    score: float
    sentence: str


@dataclass
class Institution:
    """An institution and its best evidence per indicator (index → evidence)."""

    name: str
    region: str
    evidence: dict[int, Evidence] = field(default_factory=dict)

    def total(self, threshold: float) -> float:
        """Summed score of the relevant evidence."""
        return sum(e.score for e in self.evidence.values() if e.score >= threshold)


@dataclass(frozen=True)
class Team:
    """A suggested consortium: members, which member covers which indicator, and why."""

    members: tuple[Institution, ...]
    assignment: dict[int, int]  # indicator index → member index
    covered: int
    cross_region: bool
    quality: float
    optimal: bool


def gather(
    matcher: Matcher,
    queries: Sequence[str],
    facts: NeedFacts,
    lookup: Callable[[Sequence[int]], Mapping[int, AchievementInfo]],
    *,
    k: int = 30,
    flt: Filter | None = None,
) -> list[Institution]:
    """Rank the supply list against each indicator's text and keep every institution's best evidence per indicator."""
    ranked = matcher.match_many([Query(text=q, facts=facts) for q in queries], "achievements", k=k, flt=flt)
    info = lookup(sorted({r.id for hits in ranked for r in hits}))
    institutions: dict[str, Institution] = {}
    for j, hits in enumerate(ranked):
        for hit in hits:
            achievement = info.get(hit.id)
            if achievement is None:
                continue
            name = institution_of(achievement.owner)
            inst = institutions.setdefault(name, Institution(name=name, region=achievement.region))
            best = inst.evidence.get(j)
            if best is None or hit.score > best.score:
                inst.evidence[j] = Evidence(j, achievement, hit.score, hit.sentence)
    return list(institutions.values())


def suggest_teams(
    institutions: Sequence[Institution],
    n_indicators: int,
    *,
    threshold: float,
    min_size: int = 2,
    max_size: int = 3,
    alternatives: int = 3,
    max_candidates: int = 40,
    time_limit_s: float = 5.0,
) -> list[Team]:
    """The best teams (up to ``alternatives``), best first; evidence scoring below ``threshold`` covers nothing."""
    pool = sorted(
        (i for i in institutions if any(e.score >= threshold for e in i.evidence.values())),
        key=lambda i: (-i.total(threshold), i.name),
    )[:max_candidates]
    if len(pool) < min_size or n_indicators == 0:
        return []
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{i}") for i in range(len(pool))]
    a: dict[tuple[int, int], cp_model.IntVar] = {}
    for i, inst in enumerate(pool):
        for j, evidence in inst.evidence.items():
            if j < n_indicators and evidence.score >= threshold:
                a[i, j] = model.new_bool_var(f"a{i}_{j}")
                model.add(a[i, j] <= x[i])
        model.add(sum(v for (m, _), v in a.items() if m == i) >= x[i])
    for j in range(n_indicators):
        model.add(sum(v for (_, n), v in a.items() if n == j) <= 1)
    model.add(sum(x) >= min_size)
    model.add(sum(x) <= max_size)
    regions = []
    for region in JJJ:
        in_region = [x[i] for i, inst in enumerate(pool) if inst.region == region]
        if in_region:
            z = model.new_bool_var(f"z{region}")
            model.add(z <= sum(in_region))
            regions.append(z)
    cross = model.new_bool_var("cross")
    model.add(2 * cross <= sum(regions)) if regions else model.add(cross == 0)
    weight = {(i, j): round(pool[i].evidence[j].score * SCALE) for i, j in a}
    quality = sum(weight[key] * v for key, v in a.items())
    w_cross = n_indicators * SCALE + max_size + 1
    w_cover = 2 * w_cross + n_indicators * SCALE
    model.maximize(w_cover * sum(a.values()) + w_cross * cross + quality - sum(x))
    teams: list[Team] = []
    for _ in range(alternatives):
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = time_limit_s
        solver.parameters.num_workers = 1  # deterministic and polite on a shared machine
        status = solver.solve(model)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            break
        chosen = [i for i in range(len(pool)) if solver.value(x[i])]
        index = {i: n for n, i in enumerate(chosen)}
        assignment = {j: index[i] for (i, j), v in a.items() if solver.value(v)}
        teams.append(
            Team(
                members=tuple(pool[i] for i in chosen),
                assignment=dict(sorted(assignment.items())),
                covered=len(assignment),
                cross_region=bool(solver.value(cross)),
                quality=sum(pool[chosen[m]].evidence[j].score for j, m in assignment.items()),
                optimal=status == cp_model.OPTIMAL,
            )
        )
        model.add(sum(x[i] for i in chosen) <= len(chosen) - 1)  # no-good: not this team (nor a superset) again
    return teams
