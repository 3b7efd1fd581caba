"""The event scheduler: every constraint on random instances, pinned meetings kept, priorities, reasons, greedy."""

from __future__ import annotations

import random

import pytest

from matchmaker.scheduling import (
    REASONS,
    Participant,
    Placement,
    Problem,
    Request,
    greedy,
    request_weight,
    solve,
    violations,
)


def random_problem(rng: random.Random, *, people: int, requests: int, slots: int, tables: int) -> Problem:
    """Participants with random availability (some with none in common) and caps; random distinct pairs."""
    participants = {}
    for pid in range(1, people + 1):
        available = None if rng.random() < 0.5 else frozenset(rng.sample(range(slots), rng.randint(0, slots)))
        participants[pid] = Participant(pid, cap=rng.randint(1, slots), available=available)
    pairs: set[tuple[int, int]] = set()
    requests = min(requests, people * (people - 1) // 2)
    while len(pairs) < requests:
        a, b = rng.sample(range(1, people + 1), 2)
        pairs.add((min(a, b), max(a, b)))
    reqs = [
        Request(
            i, a, b, request_weight(mutual=rng.random() < 0.1, asked=rng.random() < 0.3, score=rng.uniform(0.2, 1.0))
        )
        for i, (a, b) in enumerate(sorted(pairs), start=1)
    ]
    return Problem(slots=slots, tables=tables, participants=participants, requests=reqs)


def pin_some(rng: random.Random, schedule_placements: list[Placement], n: int) -> list[Placement]:
    """Pin n placements of an earlier schedule where they are."""
    return rng.sample(schedule_placements, min(n, len(schedule_placements)))


@pytest.mark.parametrize("seed", range(12))
def test_random_instances_respect_every_constraint(seed: int) -> None:
    rng = random.Random(seed)
    problem = random_problem(
        rng, people=rng.randint(4, 30), requests=rng.randint(5, 60), slots=rng.randint(1, 8), tables=rng.randint(1, 6)
    )
    result = solve(problem, time_limit_s=5, workers=1)
    assert violations(problem, result) == []
    baseline = greedy(problem)
    assert violations(problem, baseline) == []
    assert result.objective >= baseline.objective
    assert all(u.reason in REASONS for u in result.unplaced)
    # Re-solve with some meetings pinned (and the last schedule as the hint): the pinned ones stay exactly.
    problem.pinned = pin_some(rng, result.placements, 3)
    problem.previous = {p.request_id: (p.slot, p.table) for p in result.placements}
    again = solve(problem, time_limit_s=5, workers=1)
    assert violations(problem, again) == []
    placed = {(p.request_id, p.slot, p.table) for p in again.placements}
    assert all((p.request_id, p.slot, p.table) in placed for p in problem.pinned)
    assert again.objective == result.objective  # the old optimum is still reachable with those pins


def test_small_instance_is_solved_to_optimality_and_beats_greedy() -> None:
    # Two slots, one table. Greedy puts the heaviest request (1-2) in slot 0, then 1-3 cannot go anywhere: participant
    # 3 is only available in slot 0. CP-SAT moves 1-2 to slot 1 and places both.
    participants = {
        1: Participant(1, cap=2),
        2: Participant(2, cap=2),
        3: Participant(3, cap=2, available=frozenset({0})),
    }
    requests = [Request(1, 1, 2, 500), Request(2, 1, 3, 400)]
    problem = Problem(slots=2, tables=1, participants=participants, requests=requests)
    assert [(p.request_id, p.slot) for p in greedy(problem).placements] == [(1, 0)]
    result = solve(problem, workers=1)
    assert result.status == "OPTIMAL"
    assert sorted((p.request_id, p.slot, p.table) for p in result.placements) == [(1, 1, 1), (2, 0, 1)]
    assert result.objective == 900


def test_unplaced_requests_say_why() -> None:
    participants = {
        1: Participant(1, cap=1),
        2: Participant(2, cap=3),
        3: Participant(3, cap=3, available=frozenset({0})),
        4: Participant(4, cap=3, available=frozenset({1})),
        5: Participant(5, cap=3, available=frozenset({0})),
        6: Participant(6, cap=3, available=frozenset({0})),
    }
    requests = [
        Request(1, 1, 2, 900),  # placed
        Request(2, 1, 3, 100),  # 1 has reached its cap of one
        Request(3, 3, 4, 100),  # 3 and 4 share no slot
        Request(4, 5, 6, 100),  # slot 0 is their only one, and it has one table
    ]
    problem = Problem(slots=2, tables=1, participants=participants, requests=requests)
    result = solve(problem, workers=1)
    reasons = {u.request_id: (u.reason, u.participant_id) for u in result.unplaced}
    assert reasons[2] == ("cap_reached", 1)
    assert reasons[3] == ("no_common_slot", None)
    placed = {p.request_id: p.slot for p in result.placements}
    # 1-2 goes to slot 1 so that 5-6 can take slot 0's one table: both placed.
    assert placed == {1: 1, 4: 0}


def test_tables_full_and_participant_busy() -> None:
    participants = {i: Participant(i, cap=5, available=frozenset({0})) for i in range(1, 6)}
    requests = [Request(1, 1, 2, 500), Request(2, 3, 4, 400), Request(3, 1, 5, 100)]
    result = solve(Problem(slots=1, tables=1, participants=participants, requests=requests), workers=1)
    assert {u.request_id: u.reason for u in result.unplaced} == {2: "tables_full", 3: "tables_full"}
    result = solve(Problem(slots=1, tables=3, participants=participants, requests=requests), workers=1)
    assert {u.request_id: u.reason for u in result.unplaced} == {3: "participant_busy"}


def test_mutual_requests_come_first() -> None:
    assert request_weight(mutual=True, asked=False, score=0.0) > request_weight(mutual=False, asked=True, score=1.5)
    assert request_weight(mutual=False, asked=True, score=0.0) > request_weight(mutual=False, asked=False, score=1.0)
    participants = {i: Participant(i, cap=1) for i in range(1, 4)}
    requests = [
        Request(1, 1, 2, request_weight(mutual=False, asked=False, score=0.95)),
        Request(2, 1, 3, request_weight(mutual=True, asked=False, score=0.40)),
    ]
    result = solve(Problem(slots=3, tables=3, participants=participants, requests=requests), workers=1)
    assert [p.request_id for p in result.placements] == [2]


def test_bad_pins_are_refused() -> None:
    participants = {i: Participant(i, cap=3) for i in range(1, 4)}
    requests = [Request(1, 1, 2, 100), Request(2, 1, 3, 100)]
    problem = Problem(
        slots=2, tables=2, participants=participants, requests=requests, pinned=[Placement(1, 0, 1), Placement(2, 0, 2)]
    )
    with pytest.raises(ValueError, match="participant 1 has two pinned meetings"):
        solve(problem)
