"""The plan simulated: a week of staffing run through the simulator with the forecast's arrivals.

Each day of the forecast becomes the simulator's day (sim.required.day_scenario: the forecast
as arrivals, the learned handling and patience), staffed with the plan's agents per quarter
and pool: a roster's coverage, or the required agents when no roster is given. The day is
simulated `replications` times; the answer per day is service level, ASA, abandonment, cost
and (with a wait→NPS curve) predicted NPS, each with its 95% CI over replications, and per
quarter whether the pool met its target. The week's totals come from per-replication sums
over the days, so their CIs are as honest as the days'.

What-ifs are whole weeks: `with_extra_operators` adds people to every staffed quarter of a
pool, and `extra_bot_share` sends that much more of the arrivals to the bot first (as the
sweep does, on the pool's channels that have a bot).

Pure: frames in, frames out; no database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

import polars as pl

from sim.config import Scenario
from sim.demand import POOL_OF
from sim.nps import WaitNpsCurve, predict
from sim.required import day_scenario
from sim.results import confidence
from sim.runner import run
from sim.sweep import SWEEP_LEVEL, bot_channels

QUARTERS = 96
DAY_COLUMNS = ("offered", "queued", "answered", "abandoned", "queue_service_level",
               "service_level", "asa_s", "queue_abandoned_share", "abandoned_share",
               "occupancy", "operator_cost", "bot_cost", "cost")
WEEK_SUMS = ("offered", "queued", "answered", "abandoned", "operator_cost", "bot_cost", "cost")
STAFFING_COLUMNS = ("date", "quarter", "pool", "agents")
ERROR_STAFFING = "staffing: missing column(s) {missing}; expected {expected}"
ERROR_NO_DAYS = "forecast: no day with a simulated channel ({channels})"

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class SimulatedPlan:
    days: pl.DataFrame  # one row per date: DAY_COLUMNS with _ci_low/_ci_high, predicted NPS
    intervals: pl.DataFrame  # date, pool, quarter, agents, SL and its CI, target, meets
    week: pl.DataFrame  # one row: the week's sums and service level with 95% CIs
    replications: int
    seed: int


def with_extra_operators(staffing: pl.DataFrame, pool: str, extra: int) -> pl.DataFrame:
    """The staffing with `extra` more agents in every quarter the pool is staffed at all."""
    return staffing.with_columns(agents=pl.when((pl.col("pool") == pool) & (pl.col("agents") > 0))
                                 .then(pl.col("agents") + extra).otherwise(pl.col("agents")))


def staffed_scenario(scenario: Scenario, day: dt.date, staffing: pl.DataFrame | None
                     ) -> Scenario:
    """The day's scenario with each pool's agents from `staffing` (quarters absent: none).

    Without staffing the scenario keeps its Erlang A plan, i.e. the required agents.
    """
    if staffing is None:
        return scenario
    today = staffing.filter(pl.col("date") == day)
    for pool in scenario.pools:
        agents = [0] * QUARTERS
        for quarter, count in today.filter(pl.col("pool") == pool.name).select(
                "quarter", "agents").iter_rows():
            agents[int(quarter)] = int(count)
        scenario = scenario.with_pool_operators(pool.name, tuple(agents))
    return scenario


def simulate_plan(forecast: pl.DataFrame, handling: pl.DataFrame,
                  staffing: pl.DataFrame | None = None, replications: int = 20, seed: int = 0,
                  curve: WaitNpsCurve | None = None, patience_s: dict[str, float] | None = None,
                  column: str = "forecast", extra_bot_share: float = 0.0,
                  executor: Executor | None = None, progress: Progress | None = None
                  ) -> SimulatedPlan:
    """Simulate every day of the forecast with the plan's staffing.

    `forecast`: sim.forecast's frame (day, channel, quarter, `column`; hi80 for a cautious
    week). `staffing`: date, quarter, pool, agents (scheduled people present; the pool's
    shrinkage applies in the simulator as everywhere), or None for the required agents.
    """
    if staffing is not None and (missing := set(STAFFING_COLUMNS) - set(staffing.columns)):
        raise ValueError(ERROR_STAFFING.format(missing=", ".join(sorted(missing)),
                                               expected=", ".join(STAFFING_COLUMNS)))
    known = forecast.filter(pl.col("channel").is_in(list(POOL_OF)))
    dates = sorted(known.get_column("day").unique().to_list())
    if not dates:
        raise ValueError(ERROR_NO_DAYS.format(channels=", ".join(POOL_OF)))
    day_rows, interval_parts, replication_parts = [], [], []
    for index, day in enumerate(dates):
        if progress is not None:
            progress(index / len(dates), day.isoformat())
        scenario = day_scenario(known.filter(pl.col("day") == day), handling, day, patience_s,
                                column)
        scenario = staffed_scenario(scenario, day, staffing)
        if extra_bot_share > 0:
            for pool in scenario.pools:
                scenario = scenario.with_extra_bot(extra_bot_share, None,
                                                   bot_channels(scenario, pool.name))
        result = run(scenario, replications, seed, executor)
        row = result.summary().select(
            [c for c in result.summary().columns
             if c.removesuffix("_ci_low").removesuffix("_ci_high") in DAY_COLUMNS]
        ).row(0, named=True)
        if curve is not None:
            row |= predict(result.records, curve)
        day_rows.append({"date": day, **row})
        interval_parts.append(_intervals(result.interval_summary(), scenario, day))
        replication_parts.append(result.day.select(
            "replication", *WEEK_SUMS,
            answered_in_target=pl.col(SWEEP_LEVEL) * pl.col("queued")))
    if progress is not None:
        progress(1.0, "")
    return SimulatedPlan(pl.DataFrame(day_rows), pl.concat(interval_parts),
                         week_totals(pl.concat(replication_parts)), replications, seed)


def _intervals(summary: pl.DataFrame, scenario: Scenario, day: dt.date) -> pl.DataFrame:
    """Per pool and quarter: agents, queue service level with its CI, target, met or not."""
    targets = pl.DataFrame({"pool": [p.name for p in scenario.pools],
                            "sl_target": [scenario.pool_targets(p.name)[0]
                                          for p in scenario.pools],
                            "scheduled": [list(scenario.scheduled(p)) for p in scenario.pools]})
    return (summary.join(targets, on="pool")
            .with_columns(agents=pl.col("scheduled").list.get(pl.col("interval")))
            .select(pl.lit(day).alias("date"), "pool",
                    pl.col("interval").cast(pl.Int16).alias("quarter"), "agents", "offered",
                    "queued", SWEEP_LEVEL, f"{SWEEP_LEVEL}_ci_low", f"{SWEEP_LEVEL}_ci_high",
                    "queue_abandoned_share", "asa_s", "sl_target")
            .with_columns(meets=(pl.col("queued") <= 0)
                          | (pl.col(SWEEP_LEVEL) >= pl.col("sl_target"))))


def week_totals(per_day: pl.DataFrame) -> pl.DataFrame:
    """The week per replication (sums over its days), then mean and 95% CI over replications.

    The week's queue service level is answered-within-target over queued contacts.
    """
    week = (per_day.group_by("replication").agg(pl.col(*WEEK_SUMS, "answered_in_target").sum())
            .with_columns(queue_service_level=pl.when(pl.col("queued") > 0)
                          .then(pl.col("answered_in_target") / pl.col("queued"))))
    return confidence(week, (*WEEK_SUMS, "queue_service_level"))
