"""A quick roster to start CP-SAT from: greedy passes, then local search (pure, no solver).

On 200 operators x 7 days CP-SAT's own first plans come late and improve slowly; a start that
is already good lets its search spend the time limit improving it. Each move keeps every rule
the model has (one shift a day, weekly hours and days off from `week_limits`, min rest between
any two of a person's shifts), so the start is always a feasible hint.

Candidates are the solver's (`sim.roster.Candidate`): anything with pool, start_q, length_q,
break_q and break_offsets_q.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from sim.roster_config import POOLS, QUARTERS_PER_DAY, RosterProblem, week_limits

# Greedy passes: take a shift only when at least this share of its quarter hours is still
# missing; the last pass (0) takes any shift worth its pay under the objective.
GREEDY_FILL = (0.8, 0.6, 0.4, 0.0)
# Local search stops after this many sweeps over (person, day) without a better objective.
MAX_SWEEPS = 8

Assignment = dict[tuple[int, int], tuple[int, int]]  # (person, day) -> (candidate, break offset)


class StartPlan:
    """The start's state: who works what, coverage per pool and quarter, what each person has
    left. `apply` adds (+1) or removes (-1) one shift and keeps all of it consistent."""

    def __init__(self, problem: RosterProblem, candidates: list[list[Any]],
                 eligible: list[list[list[int]]]) -> None:
        self.problem, self.candidates, self.eligible = problem, candidates, eligible
        self.days = len(problem.dates)
        self.horizon = self.days * QUARTERS_PER_DAY
        self.required = {pool: problem.required[pool].reshape(-1) for pool in POOLS}
        self.cover = {pool: np.zeros(self.horizon, dtype=np.int64) for pool in POOLS}
        self.penalty_q = problem.settings.under_penalty_per_agent_h / 4
        self.assigned: Assignment = {}
        self.hours_left: list[dict[int, int]] = []
        self.days_left: list[dict[int, int]] = []
        for operator in problem.operators:
            limits = {b: week_limits(operator, min(7, self.days - b))
                      for b in range(0, self.days, 7)}
            self.hours_left.append({b: hours_q for b, (hours_q, _) in limits.items()})
            self.days_left.append({b: work_days for b, (_, work_days) in limits.items()})
        self.worked: list[dict[int, tuple[int, int]]] = [{} for _ in problem.operators]
        self.rest_q = [math.ceil(o.min_rest_h * 4 - 1e-9) for o in problem.operators]

    def apply(self, person: int, day: int, choice: tuple[int, int], sign: int) -> None:
        c, offset = choice
        cand = self.candidates[day][c]
        begin = day * QUARTERS_PER_DAY + cand.start_q
        cover = self.cover[cand.pool]
        cover[begin:min(begin + cand.length_q, self.horizon)] += sign
        cover[begin + offset:min(begin + offset + cand.break_q, self.horizon)] -= sign
        block = day - day % 7
        self.hours_left[person][block] -= sign * cand.length_q
        self.days_left[person][block] -= sign
        if sign > 0:
            self.assigned[person, day] = choice
            self.worked[person][day] = (begin, begin + cand.length_q)
        else:
            del self.assigned[person, day]
            del self.worked[person][day]

    def options(self, person: int, day: int) -> list[tuple[int, int, float, int]]:
        """(candidate, best break offset, objective change, missing quarters it covers) for
        each shift the person may take that day, given everything else stays."""
        operator = self.problem.operators[person]
        block = day - day % 7
        if self.days_left[person][block] <= 0:
            return []
        rest_q = self.rest_q[person]
        others = list(self.worked[person].values())
        missing = {pool: np.concatenate(([0], np.cumsum(self.cover[pool] < self.required[pool])))
                   for pool in operator.skills}
        # Ties between break offsets go to the quarter hours with the most people to spare,
        # so breaks spread out instead of piling up at the earliest offset.
        deficit = {pool: np.concatenate(([0], np.cumsum(self.required[pool] - self.cover[pool])))
                   for pool in operator.skills}
        result = []
        for c in self.eligible[person][day]:
            cand = self.candidates[day][c]
            begin = day * QUARTERS_PER_DAY + cand.start_q
            end = begin + cand.length_q
            if cand.length_q > self.hours_left[person][block] or any(
                    begin - rest_q < other_end and other_begin < end + rest_q
                    for other_begin, other_end in others):
                continue
            prefix = missing[cand.pool]
            clip = self.horizon
            short = deficit[cand.pool]
            lost, _deficit, offset = min(
                (int(prefix[min(begin + k + cand.break_q, clip)] - prefix[min(begin + k, clip)]),
                 int(short[min(begin + k + cand.break_q, clip)] - short[min(begin + k, clip)]),
                 k) for k in cand.break_offsets_q)
            gain = int(prefix[min(end, clip)] - prefix[min(begin, clip)]) - lost
            change = operator.cost_per_hour / 4 * cand.length_q - self.penalty_q * gain
            result.append((c, offset, change, gain))
        return result

    def greedy(self) -> None:
        """Passes over the days: each free person (cheapest first) takes the shift that covers
        the most missing quarter hours, if enough of it is needed (GREEDY_FILL)."""
        order = sorted(range(len(self.problem.operators)),
                       key=lambda p: self.problem.operators[p].cost_per_hour)
        for fill in GREEDY_FILL:
            for day in range(self.days):
                for person in order:
                    if (person, day) in self.assigned:
                        continue
                    cand_len = self.candidates[day]
                    best = max(((gain - fill * cand_len[c].length_q if fill else -change, c, k)
                                for c, k, change, gain in self.options(person, day)),
                               default=None)
                    if best is not None and best[0] > 1e-9:
                        self.apply(person, day, (best[1], best[2]), +1)

    def improve(self, deadline: float) -> int:
        """Sweeps of best-response moves: each (person, day) takes its best shift, or none,
        given all others. Returns the number of sweeps run."""
        sweeps = 0
        while sweeps < MAX_SWEEPS and time.perf_counter() < deadline:
            sweeps += 1
            improved = False
            for person in range(len(self.problem.operators)):
                for day in range(self.days):
                    current = self.assigned.get((person, day))
                    if current is not None:
                        self.apply(person, day, current, -1)
                    options = self.options(person, day)
                    now = next((change for c, _k, change, _g in options
                                if current is not None and c == current[0]), 0.0)
                    best = min(((change, c, k) for c, k, change, _g in options),
                               default=(0.0, None, None))
                    if best[1] is not None and best[0] < min(now, 0.0) - 1e-6:
                        self.apply(person, day, (best[1], best[2]), +1)
                        improved = True
                    elif current is None or now >= -1e-6:
                        improved |= current is not None  # dropping a shift worth nothing
                    else:  # the same shift, its break moved where it costs least
                        offset = next(k for c, k, _ch, _g in options if c == current[0])
                        improved |= self.break_loss(day, current) > self.break_loss(
                            day, (current[0], offset))
                        self.apply(person, day, (current[0], offset), +1)
            improved |= self.relocate(deadline)
            if not improved:
                break
        return sweeps

    def break_loss(self, day: int, choice: tuple[int, int]) -> int:
        """Missing quarter hours a break at this offset would leave uncovered."""
        c, offset = choice
        cand = self.candidates[day][c]
        begin = day * QUARTERS_PER_DAY + cand.start_q + offset
        end = min(begin + cand.break_q, self.horizon)
        return int((self.cover[cand.pool][begin:end] < self.required[cand.pool][begin:end])
                   .sum())

    def _value(self, person: int, day: int, candidate: int) -> float:
        return next(change for c, _k, change, _g in self.options(person, day) if c == candidate)

    def relocate(self, deadline: float) -> bool:
        """Moves a person's shift to another day of the same week (their days off move with
        it), when the new day needs them more; best-response moves cannot do that alone."""
        improved = False
        for person in range(len(self.problem.operators)):
            for day in sorted(d for p, d in self.assigned if p == person):
                if time.perf_counter() > deadline:
                    return improved
                current = self.assigned[person, day]
                self.apply(person, day, current, -1)
                now = self._value(person, day, current[0])
                block = day - day % 7
                best = (now - 1e-6, None, None, None)
                for other in range(block, min(block + 7, self.days)):
                    if other == day or (person, other) in self.assigned:
                        continue
                    for c, k, change, _g in self.options(person, other):
                        if change < best[0]:
                            best = (change, other, c, k)
                if best[1] is None:
                    self.apply(person, day, current, +1)
                else:
                    self.apply(person, best[1], (best[2], best[3]), +1)
                    improved = True
        return improved


def start_plan(problem: RosterProblem, candidates: list[list[Any]],
               eligible: list[list[list[int]]], budget_s: float) -> StartPlan:
    """Greedy, then local search within `budget_s` seconds."""
    deadline = time.perf_counter() + budget_s
    plan = StartPlan(problem, candidates, eligible)
    plan.greedy()
    plan.improve(deadline)
    return plan
