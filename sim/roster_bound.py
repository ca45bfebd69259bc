"""A lower bound on the roster's objective from a small linear relaxation (HiGHS, via SciPy).

CP-SAT's own bound comes from its LP on the full model (one variable per person, day and
shift), which on 200 operators x 7 days on 2 busy cores is often not solved by the time limit,
so the gap it states says more about the machine's load than about the plan. This relaxation
is solved in about a second and is a valid lower bound of the same objective: it groups the
operators by (skills, cost per hour), lets crews be fractional, keeps each group's people per
day, paid hours and days worked per week and the paid breaks, and drops only min rest and the
one-shift-per-person identity. Any roster the model allows maps onto it (count each group's
people per shift and break offset), so its optimum is never above the best roster's objective.

Pure: arrays in, one number out.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from sim.roster_config import POOLS, QUARTERS_PER_DAY, RosterProblem, week_limits

# HiGHS solves to a relative tolerance; shave that much off so the bound stays a bound.
SAFETY = 1e-6


def relaxation_bound(problem: RosterProblem, candidates: list[list[Any]]) -> float:
    """Lower bound (KZT) on pay + penalty x agent-hours short, or NaN if HiGHS fails."""
    days = len(problem.dates)
    horizon = days * QUARTERS_PER_DAY
    groups: dict[tuple, list] = {}
    for operator in problem.operators:
        groups.setdefault((tuple(sorted(operator.skills)), operator.cost_per_hour),
                          []).append(operator)
    cost, rows, cols, vals = [], [], [], []
    b_ub: list[float] = []

    def new_row(bound: float) -> int:
        b_ub.append(bound)
        return len(b_ub) - 1

    cover_row = {}
    for pool in POOLS:
        need = problem.required[pool].reshape(-1)
        for q in np.flatnonzero(need):
            cover_row[pool, int(q)] = new_row(-float(need[q]))
    crew_cols: dict[tuple[int, int], list[int]] = {}
    for (skills, per_hour), members in groups.items():
        longest_q = max(math.floor(o.max_hours_week * 4 + 1e-9) for o in members)
        for block in range(0, days, 7):
            span = min(7, days - block)
            limits = [week_limits(o, span) for o in members]
            hours_row = new_row(float(sum(h for h, _ in limits)))
            days_row = new_row(float(sum(w for _, w in limits)))
            for day in range(block, block + span):
                day_row = new_row(float(len(members)))
                for c, cand in enumerate(candidates[day]):
                    if cand.pool not in skills or cand.length_q > longest_q:
                        continue
                    col = len(cost)
                    cost.append(per_hour / 4 * cand.length_q)
                    crew_cols.setdefault((day, c), []).append(col)
                    for row, value in ((hours_row, cand.length_q), (days_row, 1), (day_row, 1)):
                        rows.append(row)
                        cols.append(col)
                        vals.append(value)
                    begin = day * QUARTERS_PER_DAY + cand.start_q
                    for q in range(begin, min(begin + cand.length_q, horizon)):
                        if (cand.pool, q) in cover_row:
                            rows.append(cover_row[cand.pool, q])
                            cols.append(col)
                            vals.append(-1)
    eq_rows, eq_cols, eq_vals = [], [], []
    for index, ((day, c), crew) in enumerate(crew_cols.items()):
        cand = candidates[day][c]
        begin = day * QUARTERS_PER_DAY + cand.start_q
        for col in crew:
            eq_rows.append(index)
            eq_cols.append(col)
            eq_vals.append(-1)
        for offset in cand.break_offsets_q:
            col = len(cost)
            cost.append(0.0)
            eq_rows.append(index)
            eq_cols.append(col)
            eq_vals.append(1)
            for q in range(begin + offset, min(begin + offset + cand.break_q, horizon)):
                if (cand.pool, q) in cover_row:
                    rows.append(cover_row[cand.pool, q])
                    cols.append(col)
                    vals.append(1)
    penalty_q = problem.settings.under_penalty_per_agent_h / 4
    for row in cover_row.values():
        col = len(cost)
        cost.append(penalty_q)
        rows.append(row)
        cols.append(col)
        vals.append(-1)
    width = len(cost)
    a_ub = sparse.csr_matrix((vals, (rows, cols)), shape=(len(b_ub), width))
    a_eq = sparse.csr_matrix((eq_vals, (eq_rows, eq_cols)), shape=(len(crew_cols), width))
    result = linprog(np.array(cost), A_ub=a_ub, b_ub=np.array(b_ub), A_eq=a_eq,
                     b_eq=np.zeros(len(crew_cols)), bounds=(0, None), method="highs")
    if result.status != 0:
        return math.nan
    return float(result.fun) * (1 - SAFETY)
