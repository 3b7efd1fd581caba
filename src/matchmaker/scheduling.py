"""Scheduling an event's one-to-one meetings: which accepted requests become meetings, in which slot, at which table.

Pure functions over plain data (no ORM, no HTTP), so the service, the CLI, the tests and the benchmark share them.

Why OR-Tools CP-SAT rather than a matching algorithm
-----------------------------------------------------
One slot alone is a matching problem (each participant meets at most one other, at most ``tables`` pairs), but the day
is not: a participant's cap on meetings and the tables per slot couple the slots, availability differs per
participant, and pinned meetings must stay where a manager put them. Solving slot after slot with maximum-weight
matching is itself a greedy over the slots (early slots take the pairs that only later slots could have held), and no
polynomial matching algorithm covers the caps across slots. The whole day is a small 0-1 program — one boolean per
(request, common free slot), four families of at-most constraints — which CP-SAT solves to optimality or to a proven
bound within its time limit, accepts a hint (the previous schedule, or the greedy one) so a re-solve moves few
meetings, and fixes pinned meetings as plain equalities. :func:`greedy` is the baseline it is compared with.

Priorities: a meeting both sides asked for outweighs any other single meeting; then one side asked; then the ranking
score. See :func:`request_weight`.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

REASONS: dict[str, str] = {
    "no_common_slot": "双方没有共同的可用时段",
    "cap_reached": "一方的会谈数已达上限",
    "tables_full": "双方共同可用的时段桌位已满",
    "participant_busy": "双方共同可用的时段中至少一方已有其他会谈",
}


@dataclass(frozen=True)
class Participant:
    """One side of meetings: its cap on meetings and the slots it is available in (None: every slot)."""

    id: int
    cap: int
    available: frozenset[int] | None = None


@dataclass(frozen=True)
class Request:
    """An accepted meeting request between two participants, with its priority weight (see :func:`request_weight`)."""

    id: int
    first: int
    second: int
    weight: int


@dataclass(frozen=True)
class Placement:
    """A request placed in a slot at a table (tables are numbered from 1)."""

    request_id: int
    slot: int
    table: int


@dataclass(frozen=True)
class Unplaced:
    """A request left out, with the reason code (a key of :data:`REASONS`) and the participant concerned if any."""

    request_id: int
    reason: str
    participant_id: int | None = None


@dataclass
class Problem:
    """An event's scheduling problem. ``pinned`` placements are kept as they are; ``previous`` (request → slot and
    table) is the last schedule, used as a hint and to keep tables stable on a re-solve."""

    slots: int
    tables: int
    participants: Mapping[int, Participant]
    requests: list[Request]
    pinned: list[Placement] = field(default_factory=list)
    previous: Mapping[int, tuple[int, int]] = field(default_factory=dict)


@dataclass
class Schedule:
    """The result: placements, unplaced requests with reasons, and how the solver ended."""

    placements: list[Placement]
    unplaced: list[Unplaced]
    solver: str
    status: str
    objective: int
    bound: float
    wall_s: float


def request_weight(*, mutual: bool, asked: bool, score: float | None) -> int:
    """Integer weight of a meeting: 100, plus up to 150 for the ranking score, plus 300 when one side asked for it, or
    1,000 when both did (so a mutual request beats any single other meeting)."""
    bonus = 1000 if mutual else (300 if asked else 0)
    return 100 + round(min(max(score or 0.0, 0.0), 1.5) * 100) + bonus


def _allowed(problem: Problem, request: Request) -> list[int]:
    """The slots both sides are available in."""
    slots = set(range(problem.slots))
    for pid in (request.first, request.second):
        available = problem.participants[pid].available
        if available is not None:
            slots &= available
    return sorted(slots)


def _check(problem: Problem) -> dict[int, Request]:
    by_id = {r.id: r for r in problem.requests}
    seen_tables: set[tuple[int, int]] = set()
    busy: set[tuple[int, int]] = set()
    for pin in problem.pinned:
        request = by_id.get(pin.request_id)
        if request is None:
            raise ValueError(f"pinned request {pin.request_id} is not among the requests")
        if not (0 <= pin.slot < problem.slots and 1 <= pin.table <= problem.tables):
            raise ValueError(f"pinned request {pin.request_id} is outside the slots or tables")
        if (pin.slot, pin.table) in seen_tables:
            raise ValueError(f"two pinned meetings share table {pin.table} in slot {pin.slot}")
        seen_tables.add((pin.slot, pin.table))
        for pid in (request.first, request.second):
            if (pid, pin.slot) in busy:
                raise ValueError(f"participant {pid} has two pinned meetings in slot {pin.slot}")
            busy.add((pid, pin.slot))
    for request in problem.requests:
        if request.first == request.second:
            raise ValueError(f"request {request.id} pairs a participant with itself")
    return by_id


class _State:
    """Occupancy while placing: who is busy when, tables used per slot, meetings per participant."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.busy: set[tuple[int, int]] = set()
        self.used: dict[int, int] = defaultdict(int)
        self.count: dict[int, int] = defaultdict(int)
        self.slot_of: dict[int, int] = {}

    def fits(self, request: Request, slot: int) -> bool:
        p = self.problem
        return (
            self.used[slot] < p.tables
            and (request.first, slot) not in self.busy
            and (request.second, slot) not in self.busy
            and self.count[request.first] < p.participants[request.first].cap
            and self.count[request.second] < p.participants[request.second].cap
        )

    def place(self, request: Request, slot: int) -> None:
        self.busy.update({(request.first, slot), (request.second, slot)})
        self.used[slot] += 1
        self.count[request.first] += 1
        self.count[request.second] += 1
        self.slot_of[request.id] = slot


def _fill(state: _State, requests: Iterable[Request], allowed: Mapping[int, list[int]]) -> None:
    """Place each request, in the given order, in its earliest slot that still fits."""
    for request in requests:
        if request.id in state.slot_of:
            continue
        for slot in allowed[request.id]:
            if state.fits(request, slot):
                state.place(request, slot)
                break


def _finish(
    problem: Problem, by_id: dict[int, Request], state: _State, allowed: Mapping[int, list[int]]
) -> tuple[list[Placement], list[Unplaced]]:
    """Tables for the placed requests (pinned keep theirs, others keep their previous one when free) and the reason
    for every request left out."""
    pinned_table = {p.request_id: p.table for p in problem.pinned}
    taken: dict[int, set[int]] = defaultdict(set)
    tables: dict[int, int] = {}
    for rid, slot in state.slot_of.items():
        if rid in pinned_table:
            tables[rid] = pinned_table[rid]
            taken[slot].add(pinned_table[rid])
    for rid, slot in sorted(state.slot_of.items()):
        previous = problem.previous.get(rid)
        if rid not in tables and previous is not None and previous[0] == slot and previous[1] not in taken[slot]:
            if previous[1] <= problem.tables:
                tables[rid] = previous[1]
                taken[slot].add(previous[1])
    for rid, slot in sorted(state.slot_of.items()):
        if rid not in tables:
            table = next(t for t in range(1, problem.tables + 1) if t not in taken[slot])
            tables[rid] = table
            taken[slot].add(table)
    placements = sorted(
        (Placement(rid, slot, tables[rid]) for rid, slot in state.slot_of.items()), key=lambda p: (p.slot, p.table)
    )
    unplaced: list[Unplaced] = []
    for request in problem.requests:
        if request.id in state.slot_of:
            continue
        slots = allowed[request.id]
        if not slots:
            unplaced.append(Unplaced(request.id, "no_common_slot"))
            continue
        full = next(
            (pid for pid in (request.first, request.second) if state.count[pid] >= problem.participants[pid].cap),
            None,
        )
        if full is not None:
            unplaced.append(Unplaced(request.id, "cap_reached", full))
        elif all(state.used[s] >= problem.tables for s in slots):
            unplaced.append(Unplaced(request.id, "tables_full"))
        else:
            unplaced.append(Unplaced(request.id, "participant_busy"))
    return placements, unplaced


def _pinned_state(problem: Problem, by_id: dict[int, Request]) -> _State:
    state = _State(problem)
    for pin in problem.pinned:
        state.place(by_id[pin.request_id], pin.slot)
    return state


def _allowed_slots(problem: Problem) -> dict[int, list[int]]:
    pinned = {p.request_id: [p.slot] for p in problem.pinned}
    return {r.id: pinned.get(r.id) or _allowed(problem, r) for r in problem.requests}


def greedy(problem: Problem) -> Schedule:
    """Baseline: pinned meetings first, then requests by weight (highest first), each in its earliest free slot."""
    started = time.perf_counter()
    by_id = _check(problem)
    allowed = _allowed_slots(problem)
    state = _pinned_state(problem, by_id)
    _fill(state, sorted(problem.requests, key=lambda r: (-r.weight, r.id)), allowed)
    placements, unplaced = _finish(problem, by_id, state, allowed)
    objective = sum(by_id[p.request_id].weight for p in placements)
    return Schedule(placements, unplaced, "greedy", "FEASIBLE", objective, float("nan"), time.perf_counter() - started)


def solve(problem: Problem, *, time_limit_s: float = 8.0, workers: int | None = None, seed: int = 0) -> Schedule:
    """The schedule of highest total weight (CP-SAT; optimal, or the best found within about ``time_limit_s`` of
    wall time, model building included).

    Model: a boolean ``x[r, s]`` for each request ``r`` and each slot ``s`` both its sides are available in (only its
    own slot for a pinned request, fixed to 1). At most one slot per request; at most one meeting per participant and
    slot; at most ``tables`` meetings per slot; at most ``cap`` meetings per participant (or its pinned count when a
    manager pinned more). Objective: the sum of the placed requests' weights. The previous schedule (else the greedy
    one) is given as a hint. Requests still placeable after the solver stops early are added greedily, so every
    request left out has one of the :data:`REASONS`.
    """
    started = time.perf_counter()
    by_id = _check(problem)
    allowed = _allowed_slots(problem)
    pinned = {p.request_id: p.slot for p in problem.pinned}
    model = cp_model.CpModel()
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    per_request: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    per_person_slot: dict[tuple[int, int], list[cp_model.IntVar]] = defaultdict(list)
    per_slot: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    per_person: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    for request in problem.requests:
        for slot in allowed[request.id]:
            var = model.new_bool_var(f"x_{request.id}_{slot}")
            x[request.id, slot] = var
            per_request[request.id].append(var)
            per_person_slot[request.first, slot].append(var)
            per_person_slot[request.second, slot].append(var)
            per_slot[slot].append(var)
            per_person[request.first].append(var)
            per_person[request.second].append(var)
        if request.id in pinned:
            model.add(x[request.id, pinned[request.id]] == 1)
    for variables in per_request.values():
        model.add_at_most_one(variables)
    for variables in per_person_slot.values():
        if len(variables) > 1:
            model.add_at_most_one(variables)
    for variables in per_slot.values():
        if len(variables) > problem.tables:
            model.add(cp_model.LinearExpr.sum(variables) <= problem.tables)
    pinned_count: dict[int, int] = defaultdict(int)
    for rid in pinned:
        pinned_count[by_id[rid].first] += 1
        pinned_count[by_id[rid].second] += 1
    for pid, variables in per_person.items():
        cap = max(problem.participants[pid].cap, pinned_count[pid])
        if len(variables) > cap:
            model.add(cp_model.LinearExpr.sum(variables) <= cap)
    model.maximize(cp_model.LinearExpr.weighted_sum(list(x.values()), [by_id[rid].weight for rid, _ in x]))

    hint = {rid: slot for rid, (slot, _) in problem.previous.items() if rid in by_id}
    if not hint:
        hint = {p.request_id: p.slot for p in greedy(problem).placements}
    for (rid, slot), var in x.items():
        model.add_hint(var, hint.get(rid) == slot)

    solver = cp_model.CpSolver()
    # The limit covers the whole call: what building the model took is taken off the solver's share.
    solver.parameters.max_time_in_seconds = max(0.5, time_limit_s - (time.perf_counter() - started))
    solver.parameters.num_workers = workers or min(8, os.cpu_count() or 1)
    solver.parameters.random_seed = seed
    # Presolve's probing and symmetry detection took the whole budget on a loaded 2-core machine (2,000 requests x
    # 16 slots): the model has no structure for them to find that the search does not find faster.
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.symmetry_level = 0
    solver.parameters.max_presolve_iterations = 1
    status = solver.solve(model)
    state = _pinned_state(problem, by_id)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        chosen = [(rid, slot) for (rid, slot), var in x.items() if rid not in pinned and solver.boolean_value(var)]
        for rid, slot in chosen:
            state.place(by_id[rid], slot)
        bound = solver.best_objective_bound
    else:  # no solution within the limit (never seen: the greedy hint is one); fall back on the greedy one
        bound = float("nan")
    _fill(state, sorted(problem.requests, key=lambda r: (-r.weight, r.id)), allowed)
    placements, unplaced = _finish(problem, by_id, state, allowed)
    objective = sum(by_id[p.request_id].weight for p in placements)
    return Schedule(
        placements, unplaced, "cp-sat", solver.status_name(status), objective, bound, time.perf_counter() - started
    )


def violations(problem: Problem, schedule: Schedule) -> list[str]:
    """Every broken rule of a schedule (empty when it is valid): used by the tests and the benchmark."""
    by_id = {r.id: r for r in problem.requests}
    problems: list[str] = []
    busy: set[tuple[int, int]] = set()
    tables: set[tuple[int, int]] = set()
    per_slot: dict[int, int] = defaultdict(int)
    count: dict[int, int] = defaultdict(int)
    placed = set()
    pinned = {p.request_id: p for p in problem.pinned}
    for p in schedule.placements:
        request = by_id.get(p.request_id)
        if request is None or p.request_id in placed:
            problems.append(f"request {p.request_id} unknown or placed twice")
            continue
        placed.add(p.request_id)
        if not (0 <= p.slot < problem.slots and 1 <= p.table <= problem.tables):
            problems.append(f"request {p.request_id} outside the slots or tables")
        if (p.slot, p.table) in tables:
            problems.append(f"table {p.table} used twice in slot {p.slot}")
        tables.add((p.slot, p.table))
        per_slot[p.slot] += 1
        for pid in (request.first, request.second):
            if (pid, p.slot) in busy:
                problems.append(f"participant {pid} in two meetings in slot {p.slot}")
            busy.add((pid, p.slot))
            count[pid] += 1
            available = problem.participants[pid].available
            if available is not None and p.slot not in available and p.request_id not in pinned:
                problems.append(f"participant {pid} is not available in slot {p.slot}")
        if p.request_id in pinned and (pinned[p.request_id].slot, pinned[p.request_id].table) != (p.slot, p.table):
            problems.append(f"pinned request {p.request_id} was moved")
    for rid in pinned:
        if rid not in placed:
            problems.append(f"pinned request {rid} was dropped")
    pinned_count: dict[int, int] = defaultdict(int)
    for rid in pinned:
        pinned_count[by_id[rid].first] += 1
        pinned_count[by_id[rid].second] += 1
    for pid, n in count.items():
        if n > max(problem.participants[pid].cap, pinned_count[pid]):
            problems.append(f"participant {pid} has {n} meetings, cap {problem.participants[pid].cap}")
    for slot, n in per_slot.items():
        if n > problem.tables:
            problems.append(f"slot {slot} has {n} meetings for {problem.tables} tables")
    left_out = {u.request_id for u in schedule.unplaced}
    if placed & left_out or placed | left_out != set(by_id):
        problems.append("placed and unplaced requests do not partition the requests")
    return problems
