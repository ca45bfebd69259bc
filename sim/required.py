"""Required agents per quarter hour and pool from the demand forecast (pure: frames in/out).

Each forecast day becomes a simulator scenario (sim.demand.scenario_from_history with the
forecast as the day's arrivals and the learned handling: handle times, self-service and bot
shares), so the required agents follow exactly the simulator's view of a pool: its channels'
human demand merged, concurrency for chats, patience, the strictest service-level target.
Erlang A gives the agents needed on the queue (`agents_before_shrinkage`); the scheduled
agents after shrinkage (`required_agents`, what a roster must cover) are the simulator's own
Erlang plan (sim.demand.erlang_plan), so the two cannot drift apart. `simulation_check` then
runs chosen days through the simulator with those agents and reports per interval whether
the targets hold, because Erlang A assumes a stationary queue that a real day with its
carry-over between quarters is not.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace

import polars as pl

from sim.config import Scenario
from sim.demand import (
    POOL_OF,
    erlang_plan,
    pool_demand,
    scenario_from_history,
)
from sim.runner import run

INTERVAL_MINUTES = 15
REQUIRED_SCHEMA = {"date": pl.Date, "quarter": pl.Int16, "pool": pl.String,
                   "forecast_contacts": pl.Float64, "human_contacts": pl.Float64,
                   "agents_before_shrinkage": pl.Int64, "required_agents": pl.Int64,
                   "shrinkage": pl.Float64}


def day_scenario(forecast_day: pl.DataFrame, handling: pl.DataFrame, day: dt.date,
                 patience_s: dict[str, float] | None = None, column: str = "forecast"
                 ) -> Scenario:
    """The simulator's day for one forecast day: arrivals per quarter from `column`.

    `forecast_day`: channel, quarter and `column` (forecast, or hi80 … for a cautious plan);
    `handling`: per channel, as data_access.queries.handling_by_channel returns it.
    `patience_s` replaces the default patience of the channels it names (learned values).
    """
    arrivals = forecast_day.select("channel", interval=pl.col("quarter").cast(pl.Int64),
                                   mean_contacts=pl.col(column))
    scenario = scenario_from_history(arrivals, handling, day.weekday(), INTERVAL_MINUTES,
                                     name=f"forecast {day.isoformat()}")
    if patience_s:
        channels = tuple(replace(c, patience_s=patience_s.get(c.name, c.patience_s))
                         for c in scenario.channels)
        scenario = replace(scenario, channels=channels)
        for pool in scenario.pools:  # the plan follows the new patience
            scenario = scenario.with_pool_operators(pool.name, erlang_plan(scenario, pool.name))
    return scenario


def agents_before_shrinkage(scheduled: int, shrinkage: float) -> int:
    """The agents on the queue behind a scheduled count of sim.demand.erlang_plan.

    erlang_plan schedules ceil(a / (1 − shrinkage) − 1e-9) for a agents; for shrinkage in
    [0, 1) exactly one whole a gives each count, the largest a with a / (1 − s) − 1e-9 ≤ n.
    Reading it back halves the Erlang A searches (the scenario already ran them);
    tests/test_required.py checks it equals sim.demand.agents_on_queue.
    """
    return math.floor((scheduled + 1e-9) * (1 - shrinkage) + 1e-9)


def required_for_day(scenario: Scenario, day: dt.date, arrivals: pl.DataFrame
                     ) -> pl.DataFrame:
    """One day's rows of REQUIRED_SCHEMA from its scenario and forecast arrivals per pool."""
    rows = []
    for pool in scenario.pools:
        if not any(c.pool == pool.name for c in scenario.channels):
            continue
        demand = pool_demand(scenario, pool.name)
        scheduled = scenario.scheduled(pool)
        on_queue = [agents_before_shrinkage(n, pool.shrinkage) for n in scheduled]
        for quarter in range(scenario.intervals):
            item = demand[quarter]
            rows.append((day, quarter, pool.name,
                         item.arrivals_per_hour * INTERVAL_MINUTES / 60 if item else 0.0,
                         on_queue[quarter], scheduled[quarter], pool.shrinkage))
    frame = pl.DataFrame(rows, orient="row", schema={
        "date": pl.Date, "quarter": pl.Int16, "pool": pl.String, "human_contacts": pl.Float64,
        "agents_before_shrinkage": pl.Int64, "required_agents": pl.Int64,
        "shrinkage": pl.Float64})
    return (frame.join(arrivals, on=["pool", "quarter"], how="left")
            .with_columns(pl.col("forecast_contacts").fill_null(0.0))
            .select(list(REQUIRED_SCHEMA)).cast(REQUIRED_SCHEMA))


def required_agents(forecast: pl.DataFrame, handling: pl.DataFrame,
                    patience_s: dict[str, float] | None = None, column: str = "forecast"
                    ) -> pl.DataFrame:
    """Required agents per date, quarter (0..95) and pool for every day of the forecast.

    `forecast`: sim.forecast's frame (day, channel, quarter, forecast, intervals). Columns:
    REQUIRED_SCHEMA; forecast_contacts are all arrivals of the pool's channels (served by
    anyone), human_contacts those that need a person after self-service and the bot;
    agents_before_shrinkage take contacts; required_agents are the scheduled (paid) agents,
    ÷ (1 − shrinkage): the requirement a roster covers (sim.roster_config reads it).
    """
    known = forecast.filter(pl.col("channel").is_in(list(POOL_OF)))
    parts = []
    for (day,), frame in known.group_by("day", maintain_order=True):
        scenario = day_scenario(frame, handling, day, patience_s, column)
        arrivals = (frame.with_columns(pool=pl.col("channel").replace_strict(POOL_OF))
                    .group_by("pool", "quarter").agg(forecast_contacts=pl.col(column).sum()))
        parts.append(required_for_day(scenario, day, arrivals))
    if not parts:
        return pl.DataFrame(schema=REQUIRED_SCHEMA)
    return pl.concat(parts).sort("date", "pool", "quarter")


def simulation_check(forecast: pl.DataFrame, handling: pl.DataFrame, days: list[dt.date],
                     replications: int = 10, seed: int = 0,
                     patience_s: dict[str, float] | None = None) -> pl.DataFrame:
    """Simulate `days` staffed at the required agents; per pool and quarter: SL vs target.

    Columns: date, pool, quarter, required_agents (scheduled), offered, queue_service_level (mean of
    the replications), its 95% CI, sl_target, queue_abandoned_share, meets (service level at
    or above target, or no queue at all).
    """
    parts = []
    for day in days:
        frame = forecast.filter(pl.col("day") == day, pl.col("channel").is_in(list(POOL_OF)))
        if frame.is_empty():
            raise ValueError(f"days: {day} is not in the forecast")
        scenario = day_scenario(frame, handling, day, patience_s)
        targets = pl.DataFrame({"pool": [p.name for p in scenario.pools],
                                "sl_target": [scenario.pool_targets(p.name)[0]
                                              for p in scenario.pools],
                                "scheduled": [list(scenario.scheduled(p))
                                              for p in scenario.pools]})
        summary = run(scenario, replications, seed).interval_summary()
        parts.append(
            summary.join(targets, on="pool")
            .with_columns(date=pl.lit(day),
                          required_agents=pl.col("scheduled").list.get(pl.col("interval")))
            .select("date", "pool", quarter=pl.col("interval").cast(pl.Int16),
                    required_agents="required_agents", offered="offered",
                    queue_service_level="queue_service_level",
                    sl_ci_low="queue_service_level_ci_low",
                    sl_ci_high="queue_service_level_ci_high", sl_target="sl_target",
                    queue_abandoned_share="queue_abandoned_share")
            .with_columns(meets=pl.col("queue_service_level").is_null()
                          | (pl.col("queue_service_level") >= pl.col("sl_target")))
        )
    return pl.concat(parts).sort("date", "pool", "quarter")
