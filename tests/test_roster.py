"""The roster keeps every rule, checked by an independent checker.

`check_roster` below reads only the inputs (requirement, operators, templates, steps) and the
plan's output records (shifts, coverage, summary). It does not use the solver's model, its
candidate shifts or `sim.roster.coverage_from_shifts`: it walks each shift minute by minute in
plain datetimes, so a bug in the model's constraints cannot hide behind the same bug here.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import math
import re
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import polars as pl
import pytest
from ortools.sat.python import cp_model

from sim.cli import main
from sim.roster import pool_operators, solve_roster, staffing_frame
from sim.roster_config import (
    DEFAULT_TEMPLATES,
    Operator,
    RosterInputError,
    RosterSettings,
    ShiftTemplate,
    build_problem,
    generate_operators,
    read_operators_csv,
    read_requirement_csv,
    requirement_arrays,
)

MONDAY = dt.date(2026, 12, 7)
QUARTER = dt.timedelta(minutes=15)


def hours(delta: dt.timedelta) -> float:
    return delta.total_seconds() / 3600


def matching_template(shift: dict, templates, start_step_min: int, break_step_min: int):
    """The template this shift is an instance of, or None."""
    midnight = dt.datetime.combine(shift["date"], dt.time())
    start_h = hours(shift["start"] - midnight)
    length_h = hours(shift["end"] - shift["start"])
    for template in templates:
        if template.pool != shift["pool"] or shift["date"].weekday() not in template.weekdays:
            continue
        steps = (start_h - template.start_from_h) * 60 / start_step_min
        if not (template.start_from_h <= start_h <= template.start_to_h
                and abs(steps - round(steps)) < 1e-9):
            continue
        if not any(abs(length_h - length) < 1e-9 for length in template.lengths_h):
            continue
        if template.end_by_h is not None and shift["end"] > midnight + dt.timedelta(
                hours=template.end_by_h):
            continue
        earliest = shift["start"] + dt.timedelta(hours=template.break_after_h)
        latest_end = shift["end"] - dt.timedelta(hours=template.break_before_end_h)
        offset_min = (shift["break_start"] - earliest).total_seconds() / 60
        if (shift["break_end"] - shift["break_start"] == dt.timedelta(
                minutes=template.break_minutes)
                and earliest <= shift["break_start"] and shift["break_end"] <= latest_end
                and offset_min % break_step_min == 0):
            return template
    return None


def check_roster(plan, dates, required: dict[str, np.ndarray], operators, settings) -> list[str]:
    """Every rule of the roster, recomputed from the records; returns the violations."""
    problems: list[str] = []
    people = {o.operator_id: o for o in operators}
    shifts = plan.shifts.sort("operator_id", "start").to_dicts()
    origin = dt.datetime.combine(dates[0], dt.time())
    horizon_end = origin + dt.timedelta(days=len(dates))
    for shift in shifts:
        person = people[shift["operator_id"]]
        label = f"{shift['operator_id']} {shift['start']}"
        if matching_template(shift, settings.templates, settings.start_step_minutes,
                             settings.break_step_minutes) is None:
            problems.append(f"{label}: matches no template")
        midnight = dt.datetime.combine(shift["date"], dt.time())
        if shift["start"] < midnight or shift["start"] >= midnight + dt.timedelta(days=1):
            problems.append(f"{label}: does not start on its date")
        if shift["pool"] == "digital" and shift["template"] != "digital_night" and \
                shift["template"] != "digital_dawn" and \
                shift["end"] > midnight + dt.timedelta(hours=23):
            problems.append(f"{label}: digital day shift ends after 23:00")
        if shift["pool"] not in person.skills:
            problems.append(f"{label}: works {shift['pool']} without the skill")
        if not 4 <= hours(shift["end"] - shift["start"]) <= 12:
            problems.append(f"{label}: length outside 4-12 h")
        if abs(shift["cost"] - person.cost_per_hour * hours(shift["end"] - shift["start"])) \
                > 1e-6:
            problems.append(f"{label}: cost {shift['cost']} is not pay x hours")
    by_person: dict[str, list[dict]] = {}
    for shift in shifts:
        by_person.setdefault(shift["operator_id"], []).append(shift)
    for person_id, own in by_person.items():
        person = people[person_id]
        if len({s["date"] for s in own}) != len(own):
            problems.append(f"{person_id}: two shifts on one date")
        for before, after in itertools.pairwise(own):
            rest_h = hours(after["start"] - before["end"])
            if rest_h < person.min_rest_h - 1e-9:
                problems.append(f"{person_id}: {rest_h:g} h rest before {after['start']}, "
                                f"needs {person.min_rest_h:g}")
        for block in range(0, len(dates), 7):
            span = min(7, len(dates) - block)
            first, last = dates[block], dates[block + span - 1]
            week = [s for s in own if first <= s["date"] <= last]
            paid = sum(hours(s["end"] - s["start"]) for s in week)
            if paid > person.max_hours_week + 1e-9:
                problems.append(f"{person_id}: {paid:g} h in the week of {first}")
            off = span - len({s["date"] for s in week})
            if off < person.days_off_week - (7 - span):  # days outside the plan are off
                problems.append(f"{person_id}: {off} days off in the week of {first}")
    # Coverage, walked quarter by quarter in datetimes.
    counted = {pool: np.zeros(len(dates) * 96, dtype=np.int64) for pool in required}
    for shift in shifts:
        moment = shift["start"]
        while moment < shift["end"] and moment < horizon_end:
            on_break = shift["break_start"] <= moment < shift["break_end"]
            if not on_break:
                counted[shift["pool"]][int((moment - origin) / QUARTER)] += 1
            moment += QUARTER
    coverage = plan.coverage.sort("pool", "date", "quarter")
    short = over = 0
    for pool in required:
        reported = coverage.filter(pl.col("pool") == pool)
        if not np.array_equal(reported["covering"].to_numpy(), counted[pool]):
            problems.append(f"{pool}: reported coverage differs from the shifts")
        need = required[pool].reshape(-1)
        if not np.array_equal(reported["required_agents"].to_numpy(), need):
            problems.append(f"{pool}: reported requirement differs from the input")
        short += np.clip(need - counted[pool], 0, None).sum()
        over += np.clip(counted[pool] - need, 0, None).sum()
    summary = plan.summary
    cost = sum(people[s["operator_id"]].cost_per_hour * hours(s["end"] - s["start"])
               for s in shifts)
    if not math.isclose(summary["cost"], cost, rel_tol=1e-12, abs_tol=1e-6):
        problems.append(f"cost {summary['cost']} != recomputed {cost}")
    if not math.isclose(summary["under_agent_h"], short / 4):
        problems.append(f"under {summary['under_agent_h']} != recomputed {short / 4}")
    if not math.isclose(summary["over_agent_h"], over / 4):
        problems.append(f"over {summary['over_agent_h']} != recomputed {over / 4}")
    return problems


def operator(op_id: str, skills=("digital",), cost: float = 2_500.0, max_h: float = 40.0,
             rest_h: float = 11.0, days_off: int = 2) -> Operator:
    return Operator(op_id, f"Name {op_id}", frozenset(skills), max_h, rest_h, days_off, cost)


def requirement(days: int, profile: dict[str, dict[int, int]]) -> dict[str, np.ndarray]:
    """{pool: {hour: agents}} the same every day -> (days, 96) arrays."""
    result = {}
    for pool in ("digital", "office"):
        day = np.zeros(96, dtype=np.int64)
        for hour, agents in profile.get(pool, {}).items():
            day[hour * 4:hour * 4 + 4] = agents
        result[pool] = np.tile(day, (days, 1))
    return result


def solved(dates, required, operators, settings):
    plan = solve_roster(build_problem(dates, {k: v.copy() for k, v in required.items()},
                                      operators, settings))
    # HEURISTIC: the solver had no plan of its own in time (a busy machine), the start is kept.
    assert plan.summary["status"] in ("OPTIMAL", "FEASIBLE", "HEURISTIC")
    return plan


def test_seeded_small_week_keeps_every_rule():
    dates = tuple(MONDAY + dt.timedelta(days=i) for i in range(7))
    rng = np.random.default_rng(np.random.SeedSequence(7))
    digital_hours = {h: int(rng.integers(2, 5)) for h in range(24)}
    office_hours = {h: int(rng.integers(1, 3)) for h in range(9, 18)}
    required = requirement(7, {"digital": digital_hours, "office": office_hours})
    required["office"][5:, :] = 0  # weekend: offices (Saturday's hours are shorter) closed
    operators = generate_operators(24, seed=3)
    settings = RosterSettings(time_limit_s=10, start_step_minutes=60)
    plan = solved(dates, required, operators, settings)
    assert check_roster(plan, dates, required, operators, settings) == []
    assert plan.shifts.height > 20
    assert plan.summary["paid_h"] > 0
    # Night cover exists: someone covers 02:00 on a weekday.
    assert plan.coverage.filter((pl.col("pool") == "digital") & (pl.col("quarter") == 8)
                                & (pl.col("date") == dates[2]))["covering"].item() > 0
    assert 0 <= plan.summary["gap"] <= 1
    assert plan.summary["relaxation_bound"] <= plan.summary["objective"]
    # The solver starts from the hinted plan, so it never returns a worse one.
    assert plan.summary["objective"] <= plan.summary["start_objective"] + 1e-6


def test_without_a_solver_plan_the_start_plan_is_returned_and_keeps_the_rules(monkeypatch):
    """A solver stopped before its first plan: the greedy start is the answer, said so."""
    dates = tuple(MONDAY + dt.timedelta(days=i) for i in range(3))
    required = requirement(3, {"digital": {h: 3 for h in range(24)},
                               "office": {h: 2 for h in range(9, 18)}})
    operators = generate_operators(12, seed=5)
    settings = RosterSettings(time_limit_s=5)
    monkeypatch.setattr(cp_model.CpSolver, "Solve", lambda self, model: cp_model.UNKNOWN)
    plan = solve_roster(build_problem(dates, required, operators, settings))
    assert plan.summary["status"] == "HEURISTIC"
    assert math.isnan(plan.summary["solver_bound"])
    assert 0 <= plan.summary["gap"] < 1  # against the linear relaxation's bound
    assert plan.summary["best_bound"] == plan.summary["relaxation_bound"]
    assert plan.shifts.height > 0
    assert check_roster(plan, dates, required, operators, settings) == []
    assert "greedy start" in plan.answer()


def test_a_checker_catches_a_broken_plan():
    """The checker can fail: a plan with a shift moved into a forbidden rest is reported."""
    dates = (MONDAY, MONDAY + dt.timedelta(days=1))
    required = requirement(2, {"digital": {h: 1 for h in range(8, 16)}})
    operators = (operator("A"),)
    settings = RosterSettings(time_limit_s=10)
    plan = solved(dates, required, operators, settings)
    assert check_roster(plan, dates, required, operators, settings) == []
    broken_shifts = plan.shifts.with_columns(
        pl.col("cost") * 2, pl.col("break_start") - dt.timedelta(hours=1),
        pl.col("break_end") - dt.timedelta(hours=1))
    broken = type(plan)(broken_shifts, plan.coverage, plan.summary)
    found = check_roster(broken, dates, required, operators, settings)
    assert any("pay x hours" in p for p in found)
    assert any("coverage differs" in p for p in found)


def test_known_optimum_takes_the_three_cheapest_digital_people():
    """09:00-17:00, 2 agents, one 8 h template with a 30-min break: two people leave gaps at
    their breaks, so at a high penalty the optimum is three shifts with staggered breaks, from
    the three cheapest people with the digital skill (the cheapest office-only one cannot)."""
    dates = (MONDAY,)
    required = requirement(1, {"digital": {h: 2 for h in range(9, 17)}})
    operators = (operator("A", cost=2_000), operator("B", cost=2_500),
                 operator("C", cost=3_000), operator("D", cost=3_500),
                 operator("E", skills=("office",), cost=1_000))
    template = ShiftTemplate("digital_day", "digital", 9.0, 9.0, (8.0,), end_by_h=23.0)
    settings = RosterSettings(templates=(template,), time_limit_s=20,
                              under_penalty_per_agent_h=100_000)
    plan = solved(dates, required, operators, settings)
    assert plan.summary["status"] == "OPTIMAL"
    assert plan.summary["gap"] == pytest.approx(0.0, abs=1e-9)
    # The relaxation is a lower bound: at most the optimum (60,000), and here it is tight
    # but for the two staggered breaks a fractional crew could avoid.
    assert plan.summary["relaxation_bound"] <= 60_000 + 1e-6
    assert sorted(plan.shifts["operator_id"]) == ["A", "B", "C"]
    assert plan.summary["cost"] == pytest.approx(8 * (2_000 + 2_500 + 3_000))
    assert plan.summary["under_agent_h"] == 0
    assert plan.summary["coverage_share"] == 1.0
    assert check_roster(plan, dates, required, operators, settings) == []


def test_requirement_beyond_the_roster_is_reported_short_honestly():
    """Five agents all day with two people: most of the day cannot be covered."""
    dates = (MONDAY, MONDAY + dt.timedelta(days=1))
    required = requirement(2, {"digital": {h: 5 for h in range(24)}})
    operators = (operator("A"), operator("B", rest_h=12))
    settings = RosterSettings(time_limit_s=20)
    plan = solved(dates, required, operators, settings)
    assert check_roster(plan, dates, required, operators, settings) == []
    summary = plan.summary
    # At most 2 people x 2 shifts x 12 h of coverage exist against 240 required agent-hours.
    assert summary["under_agent_h"] >= 240 - 48
    assert summary["coverage_share"] <= 48 / 240
    assert summary["coverage_share"] == pytest.approx(
        (summary["required_agent_h"] - summary["under_agent_h"]) / summary["required_agent_h"])
    assert "covers" in plan.answer()


def test_rest_across_midnight_keeps_the_cheap_night_worker_off_the_morning():
    """Night 22:00-06:00 then 07:00-15:00 the next day is 1 h rest: the cheap operator
    cannot work both, so the expensive one takes one of them."""
    dates = (MONDAY, MONDAY + dt.timedelta(days=1))
    required = requirement(2, {})
    required["digital"][0, 22 * 4:] = 1
    required["digital"][1, :6 * 4] = 1
    required["digital"][1, 7 * 4:15 * 4] = 1
    night = ShiftTemplate("digital_night", "digital", 22.0, 22.0, (8.0,), break_minutes=15,
                          break_after_h=3.0, break_before_end_h=2.0)
    day = ShiftTemplate("digital_day", "digital", 7.0, 7.0, (8.0,), break_minutes=15,
                        end_by_h=23.0)
    operators = (operator("cheap", cost=1_000, days_off=0), operator("dear", cost=5_000,
                                                                     days_off=0))
    settings = RosterSettings(templates=(night, day), time_limit_s=20,
                              under_penalty_per_agent_h=100_000)
    plan = solved(dates, required, operators, settings)
    assert check_roster(plan, dates, required, operators, settings) == []
    assert sorted(plan.shifts["operator_id"]) == ["cheap", "dear"]


def test_days_off_and_weekly_hours_bind():
    """One person, 8 h needed every day of a week: 5 days at most (2 days off), 30 h cap."""
    dates = tuple(MONDAY + dt.timedelta(days=i) for i in range(7))
    required = requirement(7, {"digital": {h: 1 for h in range(9, 17)}})
    operators = (operator("A", max_h=30.0),)
    template = ShiftTemplate("digital_day", "digital", 9.0, 9.0, (4.0, 8.0), end_by_h=23.0)
    settings = RosterSettings(templates=(template,), time_limit_s=20)
    plan = solved(dates, required, operators, settings)
    assert check_roster(plan, dates, required, operators, settings) == []
    assert plan.shifts.height <= 5
    assert plan.summary["paid_h"] <= 30


def test_pool_operators_is_the_simulators_shape():
    dates = (MONDAY,)
    required = requirement(1, {"digital": {h: 1 for h in range(9, 17)}})
    template = ShiftTemplate("digital_day", "digital", 9.0, 9.0, (8.0,), end_by_h=23.0)
    settings = RosterSettings(templates=(template,), time_limit_s=10)
    plan = solved(dates, required, (operator("A"),), settings)
    per_quarter = pool_operators(plan, MONDAY, "digital")
    hourly = pool_operators(plan, MONDAY, "digital", 60)
    assert len(per_quarter) == 96 and len(hourly) == 24
    assert sum(per_quarter) == 8 * 4 - 2  # 8 h on duty less a 30-minute break
    assert hourly[8] == 0 and hourly[17] == 0 and min(hourly[9:17]) == 0  # the break hour
    assert sum(hourly) == 7
    staffing = staffing_frame(plan)
    assert staffing.columns == ["date", "quarter", "pool", "agents"]
    assert tuple(staffing.filter(pl.col("pool") == "digital")["agents"]) == per_quarter


def test_bad_inputs_name_the_field_and_value(tmp_path):
    frame = pl.DataFrame({"date": ["2026-12-07"], "quarter": ["96"], "pool": ["digital"],
                          "required_agents": ["3"]})
    with pytest.raises(RosterInputError, match=re.escape("quarter: '96' must be within 0..95")):
        requirement_arrays(frame)
    with pytest.raises(RosterInputError, match="pool: 'phone' must be one of"):
        requirement_arrays(frame.with_columns(quarter=pl.lit("4"), pool=pl.lit("phone")))
    with pytest.raises(RosterInputError, match="required_agents"):
        requirement_arrays(frame.drop("required_agents"))
    path = tmp_path / "ops.csv"
    path.write_text("operator_id,name,skills,max_hours_week,min_rest_h,days_off_week,"
                    "cost_per_hour\nA,Aigerim,digital+phone,40,11,2,2500\n")
    with pytest.raises(RosterInputError, match="row 1, skills: 'digital\\+phone'"):
        read_operators_csv(path)
    path.write_text("operator_id,name,skills,max_hours_week,min_rest_h,days_off_week,"
                    "cost_per_hour\nA,Aigerim,digital,forty,11,2,2500\n")
    with pytest.raises(RosterInputError, match="max_hours_week: 'forty' is not a number"):
        read_operators_csv(path)
    with pytest.raises(RosterInputError, match="no such file"):
        read_requirement_csv(tmp_path / "missing.csv")
    broken = ShiftTemplate("x", "digital", 9.0, 9.0, (13.0,))
    with pytest.raises(RosterInputError, match=re.escape("lengths_h: 13 h must be within 4..12")):
        build_problem((MONDAY,), requirement(1, {}), (operator("A"),),
                      RosterSettings(templates=(broken,)))


def test_default_templates_end_digital_day_shifts_by_23():
    day = next(t for t in DEFAULT_TEMPLATES if t.name == "digital_day")
    assert day.end_by_h == 23.0
    assert {t.pool for t in DEFAULT_TEMPLATES if t.end_by_h is None} == {"digital"}


def sim_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def test_cli_roster_answers_first_and_writes_json_and_csv(tmp_path):
    forecast = tmp_path / "forecast.csv"
    rows = [{"date": "2026-12-07", "quarter": q, "pool": "digital", "required_agents": 2.4}
            for q in range(36, 68)]
    pl.DataFrame(rows).write_csv(forecast)
    code, out, err = sim_cli("roster", "--forecast", str(forecast), "--generate", "6",
                             "--time-limit", "10")
    assert code == 0, err
    assert out.startswith("Roster for 6 operators, 1 days: covers ")
    code, out, _ = sim_cli("roster", "--forecast", str(forecast), "--generate", "6",
                           "--time-limit", "10", "--json")
    data = json.loads(out)
    assert data["summary"]["operators"] == 6 and data["summary"]["required_agent_h"] == 24.0
    assert {row["pool"] for row in data["shifts"]} == {"digital"}
    code, out, _ = sim_cli("roster", "--forecast", str(forecast), "--generate", "6",
                           "--time-limit", "10", "--csv")
    assert out.splitlines()[0].startswith("operator_id,name,date,pool,template,start,end")
    operators = tmp_path / "operators.csv"
    operators.write_text("operator_id,name,skills,max_hours_week,min_rest_h,days_off_week,"
                         "cost_per_hour\nA,Aigerim Akhmetova,digital,40,11,2,2500\n"
                         "B,Yerlan Omarov,digital+office,40,11,2,2700\n")
    coverage = tmp_path / "coverage.csv"
    code, out, err = sim_cli("roster", "--forecast", str(forecast), "--operators",
                             str(operators), "--time-limit", "10", "--coverage", str(coverage))
    assert code == 0, err
    assert out.startswith("Roster for 2 operators")
    assert pl.read_csv(coverage).height == 2 * 96
    operators.write_text("operator_id,name,skills,max_hours_week,min_rest_h,days_off_week,"
                         "cost_per_hour\nA,Aigerim Akhmetova,digital,40,-3,2,2500\n")
    code, _, err = sim_cli("roster", "--forecast", str(forecast), "--operators", str(operators))
    assert code == 2
    assert "row 1, min_rest_h: '-3' must be within 0..48" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("date,quarter,pool,required_agents\n2026-13-07,1,digital,2\n")
    code, _, err = sim_cli("roster", "--forecast", str(bad))
    assert code == 2
    assert "date: '2026-13-07' is not a date" in err


def test_generated_roster_is_seeded_and_plausible():
    first, again = generate_operators(400, seed=11), generate_operators(400, seed=11)
    assert first == again and first != generate_operators(400, seed=12)
    digital_only = sum(o.skills == frozenset({"digital"}) for o in first) / len(first)
    both = sum(o.skills == frozenset({"digital", "office"}) for o in first) / len(first)
    assert 0.58 < digital_only < 0.72 and 0.06 < both < 0.15  # 65% and 10% by design
    assert {o.max_hours_week for o in first} == {30.0, 40.0}
    assert all(2_200 <= o.cost_per_hour <= 3_100 * 1.1 for o in first)
    assert len({o.operator_id for o in first}) == 400
