"""Shift roster from required agents per quarter hour, with OR-Tools CP-SAT (pure, no database).

The inputs come validated from `sim.roster_config` (requirement, named operators, templates).
The model keeps its size down in three ways:
- candidate shifts per day come from the templates at a start step of 30 or 60 minutes;
- one Boolean per (person, day, candidate shift); the paid break is not chosen per person but
  as how many of a day's crew on a candidate shift take it at each allowed offset (integers),
  since a break changes coverage and nothing about the person. The people on that shift get
  those offsets afterwards, in operator order;
- min rest is one "at most one" per (person, day pair, start time) over the shifts that clash,
  not one per clashing pair.

Objective: pay (cost per hour x paid hours, break included) + `under_penalty_per_agent_h` x
agent-hours short of the requirement, counted per quarter hour. The solver starts from a plan
hinted by `sim.roster_start` (greedy + local search, 15% of the time limit), stops at
`time_limit_s` and the best plan so far comes back with its status and its optimality gap,
(objective − best bound) / objective, the best bound being CP-SAT's or a small linear
relaxation's (`sim.roster_bound`), whichever is higher. If the solver had no plan of its own by
then, the start is returned as HEURISTIC.

`staffing_frame` and `pool_operators` hand the plan to the simulator (sim.plan, Pool.operators).

Everything reported (coverage, cost, shortfall) is recomputed from the shifts handed out, not
read from the solver's variables, so the report says what the plan does.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass

import numpy as np
import polars as pl
from ortools.sat.python import cp_model

from sim.roster_bound import relaxation_bound
from sim.roster_config import (
    POOLS,
    QUARTERS_PER_DAY,
    RosterInputError,
    RosterProblem,
    RosterSettings,
    ShiftTemplate,
    week_limits,
)
from sim.roster_start import StartPlan, start_plan

STATUS_NAMES = {cp_model.OPTIMAL: "OPTIMAL", cp_model.FEASIBLE: "FEASIBLE",
                cp_model.INFEASIBLE: "INFEASIBLE", cp_model.MODEL_INVALID: "MODEL_INVALID",
                cp_model.UNKNOWN: "UNKNOWN"}
ANSWER = ("Roster for {operators} operators, {days} days: covers {coverage:.1%} of required "
          "agent-hours for {cost} {currency}; gap {gap:.1%} after {wall_s:.0f} s ({status}).")
ANSWER_START = ("Roster for {operators} operators, {days} days: covers {coverage:.1%} of "
                "required agent-hours for {cost} {currency}; gap {gap:.1%} after {wall_s:.0f} s "
                "(HEURISTIC: the solver had no plan of its own in time, so this is its greedy "
                "start; raise the time limit).")
HEURISTIC = "HEURISTIC"
ERROR_EMPTY_BREAK = ("templates ({template}).break_minutes: a {break_min}-minute break does not "
                     "fit a {length:g} h shift between break_after_h and break_before_end_h")
# Money in the solver is whole tiyn (1/100 KZT) per quarter hour: cost per hour x 100 / 4.
MONEY_PER_QUARTER_SCALE = 25
# Share of the time limit the greedy + local-search start may take before CP-SAT runs.
START_SHARE = 0.15
SHIFT_SCHEMA = {"operator_id": pl.String, "name": pl.String, "date": pl.Date,
                "pool": pl.String, "template": pl.String, "start": pl.Datetime("us"),
                "end": pl.Datetime("us"), "break_start": pl.Datetime("us"),
                "break_end": pl.Datetime("us"), "paid_h": pl.Float64, "cost": pl.Float64}


@dataclass(frozen=True)
class Candidate:
    """One shift a day can hold: quarters from the day's 00:00 (the end may pass midnight)."""

    template: str
    pool: str
    start_q: int
    length_q: int
    break_q: int
    break_offsets_q: tuple[int, ...]  # allowed break starts, quarters after the shift start

    @property
    def end_q(self) -> int:
        return self.start_q + self.length_q


@dataclass(frozen=True)
class RosterPlan:
    """The plan: shifts per person and day, coverage per quarter hour and pool, and totals."""

    shifts: pl.DataFrame
    coverage: pl.DataFrame
    summary: dict

    def answer(self) -> str:
        """The answer first: how much of the requirement, for what cost, how far from optimal."""
        values = self.summary
        text = ANSWER_START if values["status"] == HEURISTIC else ANSWER
        return text.format(operators=values["operators"], days=values["days"],
                             coverage=values["coverage_share"],
                             cost=money_text(values["cost"]), currency=values["currency"],
                             gap=values["gap"], wall_s=values["wall_s"],
                             status=values["status"])


def money_text(amount: float) -> str:
    """12,400,000 -> '12.4M'; 84,000 -> '84.0k'; small sums as they are."""
    if abs(amount) >= 1e6:
        return f"{amount / 1e6:.1f}M"
    if abs(amount) >= 1e4:
        return f"{amount / 1e3:.1f}k"
    return f"{amount:,.0f}"


def _q(hours: float) -> int:
    return round(hours * 4)


def template_candidates(template: ShiftTemplate, settings: RosterSettings) -> list[Candidate]:
    """Every shift one template allows on a day it is offered (starts on the start step)."""
    step_q = settings.start_step_minutes // 15
    break_step_q = settings.break_step_minutes // 15
    break_q = template.break_minutes // 15
    result = []
    for start_q in range(_q(template.start_from_h), _q(template.start_to_h) + 1, step_q):
        for length_h in template.lengths_h:
            length_q = _q(length_h)
            if template.end_by_h is not None and start_q + length_q > _q(template.end_by_h):
                continue
            latest = length_q - _q(template.break_before_end_h) - break_q
            offsets = tuple(range(_q(template.break_after_h), latest + 1, break_step_q))
            if not offsets:
                raise RosterInputError(ERROR_EMPTY_BREAK.format(
                    template=template.name, break_min=template.break_minutes,
                    length=length_h))
            result.append(Candidate(template.name, template.pool, start_q, length_q, break_q,
                                    offsets))
    return result


def day_candidates(settings: RosterSettings, weekday: int) -> list[Candidate]:
    """The shifts offered on a weekday (0 = Monday), duplicates across templates dropped."""
    seen, result = set(), []
    for template in settings.templates:
        if weekday not in template.weekdays:
            continue
        for candidate in template_candidates(template, settings):
            key = (candidate.pool, candidate.start_q, candidate.length_q)
            if key not in seen:
                seen.add(key)
                result.append(candidate)
    return result


@dataclass
class _Model:
    """The CP-SAT model and the handles needed to read a solution back."""

    model: cp_model.CpModel
    candidates: list[list[Candidate]]
    x: dict[tuple[int, int, int], cp_model.IntVar]  # (person, day, candidate)
    breaks: dict[tuple[int, int], list[tuple[int, cp_model.IntVar]]]  # (day, cand) -> offsets
    start: StartPlan  # the hint: the answer if the solver finds nothing in time


def _person_rules(model: cp_model.CpModel, x: dict, person: int, operator, days: int,
                  candidates: list[list[Candidate]], eligible: list[list[int]]) -> None:
    """Max hours and days worked per 7-day block, and min rest between shifts."""
    for day in range(days):
        if eligible[day]:
            model.AddAtMostOne(x[person, day, c] for c in eligible[day])
    for block in range(0, days, 7):
        span = min(7, days - block)
        hours_q, work_days = week_limits(operator, span)
        shifts = [(x[person, d, c], candidates[d][c].length_q)
                  for d in range(block, block + span) for c in eligible[d]]
        if not shifts:
            continue
        model.Add(sum(q * var for var, q in shifts) <= hours_q)
        if work_days < span:
            model.Add(sum(var for var, _ in shifts) <= work_days)
    rest_q = math.ceil(operator.min_rest_h * 4 - 1e-9)
    for day in range(days):
        if not eligible[day]:
            continue
        latest_end = max(candidates[day][c].end_q for c in eligible[day])
        for later in range(day + 1, days):
            gap = QUARTERS_PER_DAY * (later - day)
            starts = sorted({candidates[later][c].start_q for c in eligible[later]})
            if not starts or gap + starts[0] - latest_end >= rest_q:
                if gap - latest_end >= rest_q:
                    break
                continue
            for start in starts:
                clashing = [x[person, day, c] for c in eligible[day]
                            if gap + start - candidates[day][c].end_q < rest_q]
                if not clashing:
                    continue
                starting = [x[person, later, c] for c in eligible[later]
                            if candidates[later][c].start_q <= start]
                model.AddAtMostOne(clashing + starting)


def build_model(problem: RosterProblem, start_budget_s: float = 1.0) -> _Model:
    """Variables, rules and objective (see the module docstring), hinted with the start from
    `sim.roster_start` (greedy and local search within `start_budget_s`), so the solver holds
    a good plan from its first second."""
    settings = problem.settings
    days = len(problem.dates)
    horizon = days * QUARTERS_PER_DAY
    model = cp_model.CpModel()
    candidates = [day_candidates(settings, date.weekday()) for date in problem.dates]
    eligible = [[[c for c, cand in enumerate(candidates[d]) if cand.pool in operator.skills
                  and cand.length_q <= operator.max_hours_week * 4] for d in range(days)]
                for operator in problem.operators]
    start = start_plan(problem, candidates, eligible, start_budget_s)
    x: dict[tuple[int, int, int], cp_model.IntVar] = {}
    cost_terms = []
    crews: dict[tuple[int, int], list] = {}
    for person, operator in enumerate(problem.operators):
        per_quarter = round(operator.cost_per_hour * MONEY_PER_QUARTER_SCALE)
        for day in range(days):
            for c in eligible[person][day]:
                var = model.NewBoolVar(f"x_{person}_{day}_{c}")
                model.AddHint(var, start.assigned.get((person, day), (None,))[0] == c)
                x[person, day, c] = var
                crews.setdefault((day, c), []).append(var)
                cost_terms.append(per_quarter * candidates[day][c].length_q * var)
        _person_rules(model, x, person, operator, days, candidates, eligible[person])
    hinted_crews: dict[tuple[int, int], int] = {}
    hinted_breaks: dict[tuple[int, int, int], int] = {}
    for (_person, day), (c, offset) in start.assigned.items():
        hinted_crews[day, c] = hinted_crews.get((day, c), 0) + 1
        hinted_breaks[day, c, offset] = hinted_breaks.get((day, c, offset), 0) + 1
    coverage: dict[str, list[list]] = {pool: [[] for _ in range(horizon)] for pool in POOLS}
    breaks: dict[tuple[int, int], list[tuple[int, cp_model.IntVar]]] = {}
    for (day, c), members in crews.items():
        cand = candidates[day][c]
        crew = model.NewIntVar(0, len(members), f"crew_{day}_{c}")
        model.Add(crew == sum(members))
        model.AddHint(crew, hinted_crews.get((day, c), 0))
        base = day * QUARTERS_PER_DAY + cand.start_q
        for q in range(base, min(base + cand.length_q, horizon)):
            coverage[cand.pool][q].append(crew)
        offsets = cand.break_offsets_q
        if len(offsets) == 1:
            breaks[day, c] = [(offsets[0], crew)]
        else:
            breaks[day, c] = [(k, model.NewIntVar(0, len(members), f"b_{day}_{c}_{k}"))
                              for k in offsets]
            model.Add(sum(var for _, var in breaks[day, c]) == crew)
        for offset, var in breaks[day, c]:
            if len(offsets) > 1:
                model.AddHint(var, hinted_breaks.get((day, c, offset), 0))
            for q in range(base + offset, min(base + offset + cand.break_q, horizon)):
                coverage[cand.pool][q].append(-var)
    penalty_q = round(settings.under_penalty_per_agent_h * MONEY_PER_QUARTER_SCALE)
    short_terms = []
    for pool in POOLS:
        need = problem.required[pool].reshape(-1)
        for q in np.flatnonzero(need):
            short = model.NewIntVar(0, int(need[q]), f"short_{pool}_{q}")
            model.Add(sum(coverage[pool][q]) + short >= int(need[q]))
            model.AddHint(short, max(0, int(need[q] - start.cover[pool][q])))
            short_terms.append(short)
    model.Minimize(sum(cost_terms) + penalty_q * sum(short_terms))
    return _Model(model, candidates, x, breaks, start)


def solve_roster(problem: RosterProblem) -> RosterPlan:
    """Build, solve within the time limit on `num_workers` workers, and report the plan.

    The gap is measured against the better of two lower bounds: CP-SAT's own and the small
    linear relaxation of `sim.roster_bound` (solved in about a second, so the stated gap does
    not depend on how far CP-SAT's LP got on a busy machine). When the solver ends before a
    plan of its own (a short limit on a busy machine can end in presolve), the start plan it
    was hinted with is the answer, status HEURISTIC.
    """
    began = time.perf_counter()
    built = build_model(problem, START_SHARE * problem.settings.time_limit_s)
    relaxed = relaxation_bound(problem, built.candidates)
    solver = cp_model.CpSolver()
    # The limit is for the whole answer: building the model counts against it.
    solver.parameters.max_time_in_seconds = max(
        1.0, problem.settings.time_limit_s - (time.perf_counter() - began))
    solver.parameters.num_workers = problem.settings.num_workers
    solver.parameters.random_seed = problem.settings.seed
    # Probing took half of presolve (6 of 13 s) on the 200 x 7 benchmark for no better plan.
    solver.parameters.cp_model_probing_level = 0
    status = solver.Solve(built.model)
    wall_s = time.perf_counter() - began
    bounds = {"relaxation_bound": relaxed, "solver_bound": math.nan}
    start = report(problem, _shift_records(problem, built, built.start.assigned),
                   status=HEURISTIC, wall_s=wall_s, bounds=bounds)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return start
    bounds["solver_bound"] = solver.BestObjectiveBound() / (MONEY_PER_QUARTER_SCALE * 4)
    plan = report(problem, _shift_records(problem, built, _solved_assignment(built, solver)),
                  status=STATUS_NAMES.get(status, str(status)), wall_s=wall_s, bounds=bounds)
    plan.summary["start_objective"] = start.summary["objective"]
    return plan


def _solved_assignment(built: _Model, solver: cp_model.CpSolver
                       ) -> dict[tuple[int, int], tuple[int, int]]:
    """(person, day) -> (candidate, break offset): each crew's break offsets handed to its
    members in operator order."""
    crews: dict[tuple[int, int], list[int]] = {}
    for (person, day, c), var in built.x.items():
        if solver.BooleanValue(var):
            crews.setdefault((day, c), []).append(person)
    assignment = {}
    for (day, c), people in crews.items():
        offsets = [k for k, var in built.breaks[day, c] for _ in range(solver.Value(var))]
        for person, offset in zip(sorted(people), offsets, strict=True):
            assignment[person, day] = (c, offset)
    return assignment


def _shift_records(problem: RosterProblem, built: _Model,
                   assignment: dict[tuple[int, int], tuple[int, int]]) -> pl.DataFrame:
    """Who works which shift, with their break, as flat records."""
    rows = []
    for (person, day), (c, offset) in assignment.items():
        cand = built.candidates[day][c]
        operator = problem.operators[person]
        midnight = dt.datetime.combine(problem.dates[day], dt.time())
        start = midnight + dt.timedelta(minutes=15 * cand.start_q)
        break_start = start + dt.timedelta(minutes=15 * offset)
        paid_h = cand.length_q / 4
        rows.append({"operator_id": operator.operator_id, "name": operator.name,
                     "date": problem.dates[day], "pool": cand.pool,
                     "template": cand.template, "start": start,
                     "end": start + dt.timedelta(minutes=15 * cand.length_q),
                     "break_start": break_start,
                     "break_end": break_start + dt.timedelta(minutes=15 * cand.break_q),
                     "paid_h": paid_h, "cost": operator.cost_per_hour * paid_h})
    return pl.DataFrame(rows, schema=SHIFT_SCHEMA).sort("date", "operator_id")


def coverage_from_shifts(shifts: pl.DataFrame, dates: tuple[dt.date, ...]
                         ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per pool: (people on duty, people on break) per quarter hour of the plan, flattened.
    Hours past the plan's last day are not counted."""
    horizon = len(dates) * QUARTERS_PER_DAY
    origin = dt.datetime.combine(dates[0], dt.time())
    result = {pool: (np.zeros(horizon + 1, dtype=np.int64), np.zeros(horizon + 1,
                                                                     dtype=np.int64))
              for pool in POOLS}
    for row in shifts.iter_rows(named=True):
        duty, rest = result[row["pool"]]
        for array, begin, end in ((duty, row["start"], row["end"]),
                                  (rest, row["break_start"], row["break_end"])):
            first = int((begin - origin).total_seconds() // 900)
            last = int((end - origin).total_seconds() // 900)
            array[min(first, horizon)] += 1  # difference array: +1 at start, -1 at end
            array[min(last, horizon)] -= 1
    return {pool: (np.cumsum(duty)[:horizon], np.cumsum(rest)[:horizon])
            for pool, (duty, rest) in result.items()}


def report(problem: RosterProblem, shifts: pl.DataFrame, *, status: str, wall_s: float,
           bounds: dict[str, float]) -> RosterPlan:
    """Coverage against the requirement per quarter hour and the plan's totals; the gap from
    the best of `bounds` (lower bounds on the objective, NaN when unknown)."""
    counted = coverage_from_shifts(shifts, problem.dates)
    days = len(problem.dates)
    frames = []
    for pool in POOLS:
        duty, rest = counted[pool]
        frames.append(pl.DataFrame({
            "date": np.repeat(np.array(problem.dates, dtype="datetime64[D]"), QUARTERS_PER_DAY),
            "quarter": np.tile(np.arange(QUARTERS_PER_DAY), days),
            "pool": [pool] * (days * QUARTERS_PER_DAY),
            "required_agents": problem.required[pool].reshape(-1),
            "on_duty": duty, "on_break": rest, "covering": duty - rest,
        }))
    coverage = pl.concat(frames).with_columns(
        pl.col("date").cast(pl.Date),
        short=(pl.col("required_agents") - pl.col("covering")).clip(lower_bound=0),
        over=(pl.col("covering") - pl.col("required_agents")).clip(lower_bound=0))
    totals = coverage.select(
        required_agent_h=pl.col("required_agents").sum() / 4,
        under_agent_h=pl.col("short").sum() / 4, over_agent_h=pl.col("over").sum() / 4).row(
        0, named=True)
    required = totals["required_agent_h"]
    cost = float(shifts["cost"].sum()) if shifts.height else 0.0
    objective = cost + problem.settings.under_penalty_per_agent_h * totals["under_agent_h"]
    known = [b for b in bounds.values() if not math.isnan(b)]
    best_bound = max(known) if known else math.nan
    gap = (max(0.0, (objective - best_bound) / objective) if objective > 0 else 0.0) \
        if known else math.nan
    summary = {
        "status": status, "operators": len(problem.operators), "days": days,
        "first_date": problem.dates[0].isoformat(), "shifts": shifts.height,
        "people_rostered": shifts["operator_id"].n_unique() if shifts.height else 0,
        "paid_h": float(shifts["paid_h"].sum()) if shifts.height else 0.0,
        "cost": cost, "currency": problem.settings.currency,
        **totals,
        "coverage_share": (required - totals["under_agent_h"]) / required if required else 1.0,
        "objective": objective, **bounds, "best_bound": best_bound, "gap": gap,
        "wall_s": wall_s, "time_limit_s": problem.settings.time_limit_s,
        "num_workers": problem.settings.num_workers,
        "start_objective": objective,  # the hinted start's; solve_roster sets it
    }
    return RosterPlan(shifts, coverage, summary)


def pool_operators(plan: RosterPlan, date: dt.date, pool: str,
                   interval_minutes: int = 15) -> tuple[int, ...]:
    """People taking contacts (on duty, not on break) per interval of one day, in the shape of
    `sim.config.Pool.operators`. An interval longer than 15 minutes takes its lowest quarter,
    so the simulator never sees someone who is on a break for part of it."""
    if interval_minutes not in (15, 30, 60):
        raise RosterInputError(f"interval_minutes: {interval_minutes} must be 15, 30 or 60")
    covering = (plan.coverage.filter((pl.col("date") == date) & (pl.col("pool") == pool))
                .sort("quarter")["covering"].to_numpy())
    if covering.size != QUARTERS_PER_DAY:
        raise RosterInputError(f"date: {date} is not a day of the plan")
    per = interval_minutes // 15
    return tuple(int(v) for v in covering.reshape(-1, per).min(axis=1))


def staffing_frame(plan: RosterPlan) -> pl.DataFrame:
    """The plan as `sim.plan.simulate_plan` takes it: date, quarter, pool, agents (people on
    duty and not on a break; the simulator applies the pool's shrinkage)."""
    return plan.coverage.select("date", "quarter", "pool", agents=pl.col("covering"))
