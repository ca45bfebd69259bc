"""How good a roster CP-SAT finds for 200 operators x 7 days on 2 cores within 60 s.

The requirement is the forecast's CSV (`--forecast`, columns date, quarter, pool,
required_agents) or, without one, a plausible week built here (`demo_week`): the digital team's
24/7 day curve (5 agents at night, peaks of about 45 before noon and in the evening, weekends
lighter) and the offices' hours (09:00-18:00 weekdays, 10:00-15:00 Saturday, about 30 agents),
with seeded noise. The operators are `sim.roster_config.generate_operators(200, seed)` unless
`--operators` names a CSV.

Prints the time to the plan, coverage of the required agent-hours, cost, under/over staffing
and the solver's optimality gap, against the target of 60 s with a stated gap.

    python benchmarks/roster.py [--forecast FILE.csv] [--operators FILE.csv] [--time-limit 60]
                                [--start-step 60] [--write-forecast FILE.csv]

Measured on 2026-12-04 (2 shared cores, load average 7-10 from other jobs), 60 s limit:
- demo week (5,072 agent-h), start step 60: coverage 99.65%, 14.95M KZT, gap 3.9%;
- demo week, start step 30: coverage 99.60%, 14.69M KZT, gap 3.6%;
- the forecast's required agents (`python -m sim forecast --weeks 1 --required`, demo at
  scale 0.6, 2,340 agent-h): coverage 99.65%, 6.83M KZT, gap 2.9%.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OPERATORS = 200
DAYS = 7
TARGET_S = 60.0
WORKERS = 2
FIRST_DATE = dt.date(2026, 12, 7)  # a Monday
# Scheduled digital agents per hour of the day (already grossed up for shrinkage).
DIGITAL_BY_HOUR = (7, 5, 4, 4, 4, 5, 7, 12, 20, 29, 36, 38, 37, 36, 34, 34, 34, 34, 36, 37, 34,
                   27, 19, 12)
DIGITAL_WEEKDAY = (1.1, 1.05, 1.0, 1.0, 0.95, 0.8, 0.75)
OFFICE_WEEKDAY_BY_HOUR = {9: 20, 10: 28, 11: 32, 12: 30, 13: 26, 14: 28, 15: 32, 16: 30, 17: 24}
OFFICE_SATURDAY_BY_HOUR = {10: 18, 11: 20, 12: 20, 13: 18, 14: 14}


def demo_week(first: dt.date = FIRST_DATE, days: int = DAYS, seed: int = 0) -> pl.DataFrame:
    """A plausible requirement: (date, quarter, pool, required_agents), quarter-hour steps."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    hours = np.arange(96) / 4
    digital_day = np.interp(hours, np.arange(25), (*DIGITAL_BY_HOUR, DIGITAL_BY_HOUR[0]))
    rows = []
    for offset in range(days):
        date = first + dt.timedelta(days=offset)
        weekday = date.weekday()
        digital = digital_day * DIGITAL_WEEKDAY[weekday] * rng.normal(1, 0.05, 96)
        office_hours = (OFFICE_WEEKDAY_BY_HOUR if weekday < 5 else
                        OFFICE_SATURDAY_BY_HOUR if weekday == 5 else {})
        office = np.array([office_hours.get(int(h), 0) for h in hours], dtype=float)
        office *= rng.normal(1, 0.05, 96)
        for pool, values in (("digital", digital), ("office", office)):
            rows += [{"date": date, "quarter": q, "pool": pool,
                      "required_agents": round(max(0.0, float(v)), 1)}
                     for q, v in enumerate(values)]
    return pl.DataFrame(rows)


def main() -> None:
    from sim.roster import solve_roster
    from sim.roster_config import (
        RosterSettings,
        build_problem,
        generate_operators,
        read_operators_csv,
        read_requirement_csv,
        requirement_arrays,
    )

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forecast", help="required agents CSV (default: the demo week)")
    parser.add_argument("--operators", help="operators CSV (default: 200 generated, seed 0)")
    parser.add_argument("--time-limit", type=float, default=TARGET_S)
    parser.add_argument("--start-step", type=int, default=60, choices=(15, 30, 60))
    parser.add_argument("--write-forecast", help="write the demo week to this CSV and stop")
    args = parser.parse_args()
    if args.write_forecast:
        demo_week().write_csv(args.write_forecast)
        print(f"wrote {args.write_forecast}")
        return
    if args.forecast:
        dates, required = read_requirement_csv(args.forecast)
    else:
        dates, required = requirement_arrays(demo_week())
    operators = (read_operators_csv(args.operators) if args.operators
                 else generate_operators(OPERATORS, seed=0))
    settings = RosterSettings(time_limit_s=args.time_limit, num_workers=WORKERS,
                              start_step_minutes=args.start_step)
    plan = solve_roster(build_problem(dates, required, operators, settings))
    s = plan.summary
    print(plan.answer())
    print(f"  operators {s['operators']}, days {s['days']}, workers {s['num_workers']}, "
          f"start step {args.start_step} min, time limit {s['time_limit_s']:g} s")
    print(f"  time to plan      {s['wall_s']:8.1f} s   (target {TARGET_S:g} s)")
    print(f"  status            {s['status']:>8}")
    print(f"  coverage          {s['coverage_share']:8.2%}   of {s['required_agent_h']:,.0f} "
          "required agent-hours")
    print(f"  under-staffed     {s['under_agent_h']:8,.1f} agent-h")
    print(f"  over-staffed      {s['over_agent_h']:8,.1f} agent-h")
    print(f"  cost              {s['cost']:12,.0f} {s['currency']}  "
          f"({s['shifts']} shifts, {s['paid_h']:,.0f} paid h, {s['people_rostered']} people)")
    print(f"  objective         {s['objective']:12,.0f}   (pay + penalty x agent-hours short)")
    print(f"  lower bounds      {s['solver_bound']:12,.0f}   CP-SAT's own")
    print(f"                    {s['relaxation_bound']:12,.0f}   linear relaxation (HiGHS)")
    print(f"  optimality gap    {s['gap']:8.2%}   (objective - best bound) / objective")
    print(f"  start objective   {s['start_objective']:12,.0f}   (greedy + local search hint; "
          f"CP-SAT's plan is {s['objective'] / s['start_objective']:.3f} x it)")


if __name__ == "__main__":
    main()
