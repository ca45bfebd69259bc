"""`python -m sim forecast`: next weeks' demand per quarter hour and channel, answer first.

Not part of the simulator's core: like sim/cli.py it reads the database (through
data_access.history, .queries and .holidays) and hands plain frames to the pure modules
sim.forecast, sim.forecast_backtest and sim.required.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from data_access.argtypes import date_arg, int_arg

HISTORY_DAYS = 420  # a year for the daily model plus the backtest's weeks before it
HANDLING_DAYS = 56  # handle times and automation shares: the simulator baseline's 8 weeks
ANSWER = ("Next week ({start} – {end}): {total:,.0f} arrivals forecast across {channels} "
          "channels ({by_pool}).")
ANSWER_ACCURACY = ("Next week ({start} – {end}): {total:,.0f} arrivals forecast across "
                   "{channels} channels ({by_pool}); over the last {weeks} weeks the "
                   "forecast's WAPE per quarter hour was {model:.1%} against {naive:.1%} for "
                   "the same quarter last week and {mean:.1%} for the 8-week weekday mean "
                   "({gain_naive:.0%} and {gain_mean:.0%} lower).")
NO_HISTORY = "the database holds no contacts to forecast from"
HOLIDAYS_UNKNOWN = ("warning: the holiday table ends in {last_year}; days after it are "
                    "forecast as ordinary days")
BY_POOL = "{pool} {total:,.0f}"
PLAN_HEADER = ("The first week simulated at the required agents ({replications} replications a "
               "day, seed {seed}), with 95% CIs:")
PLAN_SHOWN = ("queue_service_level", "asa_s", "abandoned_share", "cost", "predicted_nps")


def add_forecast_parser(commands: argparse._SubParsersAction) -> None:
    """The `forecast` subcommand's options."""
    command = commands.add_parser("forecast", help="demand per quarter hour and channel for "
                                                   "the next weeks, with prediction intervals")
    command.add_argument("--weeks", type=int_arg("--weeks", 1, 4), default=2,
                         help="weeks ahead, 1..4 (default 2)")
    command.add_argument("--backtest", action="store_true",
                         help="also measure accuracy on the last weeks against the baselines")
    command.add_argument("--backtest-weeks", type=int_arg("--backtest-weeks", 1, 26),
                         default=8)
    command.add_argument("--end", type=date_arg("--end"),
                         help="last day of history to forecast from (default: newest contact)")
    command.add_argument("--required", metavar="CSV",
                         help="also write required agents per date, quarter and pool to CSV")
    command.add_argument("--simulate", type=int_arg("--simulate", 1, 200), metavar="REPS",
                         help="also simulate the first week staffed at the required agents, "
                              "REPS replications a day (the plan simulated)")
    command.add_argument("--seed", type=int_arg("--seed", 0), default=0)
    output = command.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true")
    output.add_argument("--csv", action="store_true",
                        help="the forecast per day, channel and quarter as CSV on stdout")
    command.add_argument("--db")


@dataclass(frozen=True)
class Inputs:
    """What the forecast and the required agents read from the database."""

    history: pl.DataFrame  # day, channel, quarter, arrivals
    handling: pl.DataFrame  # per channel: handle time, self-service and bot shares
    patience_s: dict[str, float]  # per channel, learned from abandons (or assumed)
    origin: dt.date  # the last day of history


def load_inputs(db: str | None, end: dt.date | None) -> Inputs:
    """History of arrivals, handling and patience per channel, and the forecast's origin."""
    from data_access.engine import connect_checked, require_schema
    from data_access.history import arrivals_by_quarter
    from data_access.queries import Filters, handling_by_channel, latest_contact_date
    from sim.learn import patience_from_database

    engine = connect_checked(db)
    require_schema(engine)
    with engine.connect() as connection:
        origin = end or latest_contact_date(connection)
        if origin is None:
            raise ValueError(NO_HISTORY)
        history = arrivals_by_quarter(connection, origin - dt.timedelta(days=HISTORY_DAYS - 1),
                                      origin)
        handling = handling_by_channel(connection, Filters(
            origin - dt.timedelta(days=HANDLING_DAYS - 1), origin))
        patience = patience_from_database(connection, HANDLING_DAYS // 7, origin)
    if history.is_empty():
        raise ValueError(f"--end {origin}: no contacts in the {HISTORY_DAYS} days up to it")
    return Inputs(history, handling, {code: value for code, (value, _) in patience.items()},
                  origin)


def answer(forecast: pl.DataFrame, origin: dt.date, accuracy: pl.DataFrame | None,
           weeks: int) -> str:
    """The one-sentence answer: next week's total, and the backtest's WAPE when measured."""
    from sim.demand import POOL_OF

    week = forecast.filter(pl.col("day") <= origin + dt.timedelta(days=7))
    pools = (week.with_columns(pool=pl.col("channel").replace(POOL_OF))
             .group_by("pool").agg(pl.col("forecast").sum()).sort("pool"))
    values = {"start": origin + dt.timedelta(days=1), "end": origin + dt.timedelta(days=7),
              "total": week.get_column("forecast").sum(),
              "channels": week.get_column("channel").n_unique(),
              "by_pool": ", ".join(BY_POOL.format(pool=pool, total=total)
                                   for pool, total in pools.iter_rows())}
    if accuracy is None:
        return ANSWER.format(**values)
    wape = dict(accuracy.select("method", "wape").iter_rows())
    return ANSWER_ACCURACY.format(
        **values, weeks=weeks, model=wape["model"], naive=wape["seasonal_naive"],
        mean=wape["weekday_mean_8w"], gain_naive=1 - wape["model"] / wape["seasonal_naive"],
        gain_mean=1 - wape["model"] / wape["weekday_mean_8w"])


def forecast_command(args: argparse.Namespace) -> None:
    """Read, forecast, optionally backtest and size; print the answer first."""
    from data_access.holidays import LAST_YEAR, holiday_dates
    from sim.forecast import forecast_intervals
    from sim.forecast_backtest import backtest

    inputs = load_inputs(args.db, args.end)
    history, origin = inputs.history, inputs.origin
    holidays = holiday_dates()
    if (origin + dt.timedelta(days=7 * args.weeks)).year > LAST_YEAR:
        print(HOLIDAYS_UNKNOWN.format(last_year=LAST_YEAR), file=sys.stderr)
    forecast = forecast_intervals(history, origin, args.weeks, holidays)
    tested = backtest(history, holidays, args.backtest_weeks) if args.backtest else None
    sentence = answer(forecast, origin, tested.total if tested else None, args.backtest_weeks)
    if args.required:
        from sim.required import required_agents

        required_agents(forecast, inputs.handling, inputs.patience_s).write_csv(args.required)
    plan = simulated_week(args, inputs, forecast) if args.simulate else None
    if args.csv:
        print(sentence, file=sys.stderr)
        sys.stdout.write(forecast.write_csv())
        return
    if args.json:
        document = _json_document(sentence, forecast, tested)
        if plan is not None:
            document["plan"] = {"days": plan.days.with_columns(pl.col("date").cast(pl.String))
                                .to_dicts(), "week": plan.week.to_dicts()}
        print(json.dumps(document))
        return
    print(sentence)
    daily = (forecast.group_by("day", "channel").agg(pl.col("forecast").sum().round(1))
             .pivot("channel", index="day", values="forecast").sort("day"))
    _show(daily)
    if tested is not None:
        for name in ("wape", "bias"):
            print(f"backtest {name} per channel (per quarter hour, {args.backtest_weeks} "
                  "weekly origins):")
            _show(tested.by_channel.pivot("method", index="channel", values=name))
        print("backtest on holidays and other days:")
        _show(tested.by_holiday.pivot("method", index="holiday", values="wape"))
        _show(tested.total)
    if plan is not None:
        print(PLAN_HEADER.format(replications=args.simulate, seed=args.seed))
        _show(plan.days.select("date", *[f"{name}{end}" for name in PLAN_SHOWN
                                         for end in ("", "_ci_low", "_ci_high")
                                         if f"{name}{end}" in plan.days.columns]))
    if args.required:
        print(f"required agents written to {Path(args.required)}")


def simulated_week(args: argparse.Namespace, inputs: Inputs, forecast: pl.DataFrame):
    """The forecast's first week through the simulator at the required agents."""
    from data_access.engine import connect_checked
    from sim.learn import curve_from_database
    from sim.plan import simulate_plan

    engine = connect_checked(args.db)
    with engine.connect() as connection:
        curve, _note = curve_from_database(connection)
    week = forecast.filter(pl.col("day") <= inputs.origin + dt.timedelta(days=7))
    return simulate_plan(week, inputs.handling, None, args.simulate, args.seed, curve,
                         inputs.patience_s)


def _show(frame: pl.DataFrame) -> None:
    with pl.Config(tbl_rows=60, tbl_cols=20, tbl_width_chars=240, float_precision=3):
        print(frame)


def _json_document(sentence: str, forecast: pl.DataFrame, tested) -> dict:
    document = {"answer": sentence,
                "forecast": forecast.with_columns(pl.col("day").cast(pl.String)).to_dicts()}
    if tested is not None:
        document["backtest"] = {"total": tested.total.to_dicts(),
                                "by_channel": tested.by_channel.to_dicts(),
                                "by_holiday": tested.by_holiday.to_dicts(),
                                "by_quarter": tested.by_quarter.to_dicts()}
    return document
