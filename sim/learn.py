"""The bridge between the simulator and the database: the only module of `sim` that reads it.

The simulator's core (config, model, results, runner, sweep, optimize, erlang, demand, nps)
imports neither SQLAlchemy nor `data_access`, so it runs where no database driver is installed
(a Dask worker, a notebook with a TOML file). What the history tells it — the baseline day and
the wait→NPS curve — is read here, as plain frames handed to those pure builders.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import polars as pl
from sqlalchemy import Connection

from data_access.metrics import with_nps
from data_access.queries import (
    Filters,
    arrivals_by_interval,
    automated_nps_counts,
    handling_by_channel,
    latest_contact_date,
    nps_by_wait_bucket,
)
from data_access.queue import (
    automation_by_day,
    handle_sums_by_hour,
    queue_history,
    queue_sums_by_channel,
    staffing_by_quarter,
)
from data_access.rollups import QUARTER_MINUTES, WAIT_BUCKETS
from sim.backtest import Backtest, History, backtest
from sim.config import Scenario
from sim.demand import PATIENCE_S, WEEKDAYS, erlang_plan, scenario_from_history
from sim.estimates import handle_by_hour, patience_by_channel
from sim.nps import WaitNpsCurve, fit_curve


def learn_demand(connection: Connection, weekday: int, weeks: int, interval_minutes: int,
                 end: dt.date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Mean arrivals per channel and interval, and handling per channel, from the last weeks."""
    filters = Filters(end - dt.timedelta(days=7 * weeks - 1), end)
    return (arrivals_by_interval(connection, filters, weekday, interval_minutes),
            handling_by_channel(connection, filters))


def baseline_from_database(connection: Connection, weekday: int, weeks: int,
                           interval_minutes: int, end: dt.date | None = None
                           ) -> tuple[Scenario | None, str]:
    """The baseline day up to `end` (default: the newest contact), or why there is none."""
    end = end or latest_contact_date(connection)
    if end is None:
        return None, "the database holds no contacts"
    arrivals, handling = learn_demand(connection, weekday, weeks, interval_minutes, end)
    start = end - dt.timedelta(days=7 * weeks - 1)
    if handling.is_empty() or arrivals.is_empty():
        return None, f"the database has no contacts from {start} to {end}"
    scenario = scenario_from_history(arrivals, handling, weekday, interval_minutes)
    if not scenario.channels:
        return None, f"no simulated channel has contacts from {start} to {end}"
    patience = patience_sources(learned_patience(connection, start, end), weeks)
    staffing = recorded_staffing(connection, weekday, start, end, interval_minutes)
    hourly = learned_handle_by_hour(connection, start, end)
    scenario = with_record(scenario, patience, staffing, hourly)
    label = (STAFFING_LABEL.format(weekday=WEEKDAYS[weekday], start=start, end=end)
             if staffing else STAFFING_ERLANG.format(start=start, end=end))
    return scenario, BASELINE_NOTE.format(weekday=WEEKDAYS[weekday], start=start, end=end,
                                          weeks=weeks, staffing=label)


BASELINE_NOTE = "Baseline: the mean {weekday} of {start} – {end} ({weeks} weeks). {staffing}"


def patience_from_database(connection: Connection, weeks: int, end: dt.date | None = None
                           ) -> dict[str, tuple[float, str]]:
    """Per channel: the patience the baseline uses and its source, for the form."""
    end = end or latest_contact_date(connection)
    if end is None:
        return {code: (value, PATIENCE_ASSUMED.format(assumed=value))
                for code, value in PATIENCE_S.items()}
    start = end - dt.timedelta(days=7 * weeks - 1)
    return patience_sources(learned_patience(connection, start, end), weeks)


def erlang_reference(scenario: Scenario) -> dict[str, tuple[int, ...]]:
    """The Erlang A minimum per pool and interval for the scenario's demand: the reference."""
    return {pool.name: erlang_plan(scenario, pool.name) for pool in scenario.pools
            if any(c.pool == pool.name for c in scenario.channels)}


def curve_from_database(connection: Connection, days: int = 90
                        ) -> tuple[WaitNpsCurve | None, str]:
    """The curve from the last `days` of surveys in the database, or why there is none."""
    latest = latest_contact_date(connection)
    if latest is None:
        return None, "the database holds no contacts"
    filters = Filters(latest - dt.timedelta(days=days - 1), latest)
    buckets = nps_by_wait_bucket(connection, filters)
    if buckets.is_empty() or buckets["responses"].sum() == 0:
        return None, f"no answered surveys from {filters.start} to {filters.end}"
    automated = automated_nps_counts(connection, filters)
    return fit_curve(buckets, WAIT_BUCKETS, with_nps(automated)), (
        f"wait→NPS curve fitted on surveys from {filters.start} to {filters.end}")


# --- The queue on record: patience, handle time, staffing, and the backtest's history --------

PATIENCE_SOURCE = "learned from {weeks} weeks: {mean:.0f} s [{low:.0f}, {high:.0f}]"
PATIENCE_NO_ABANDON = ("learned from {weeks} weeks: nobody abandoned; patience above "
                       "{low:.0f} s (the assumed {assumed:.0f} s is kept)")
PATIENCE_ASSUMED = "assumed {assumed:.0f} s: no queue on record in these weeks"
STAFFING_LABEL = ("Staffing: the recorded agents on duty (mean per interval over the "
                  "{weekday}s of {start} – {end}); the Erlang A minimum is the reference line.")
STAFFING_ERLANG = ("Staffing: the Erlang A minimum for the targets (no staffing on record for "
                   "{start} – {end}).")


def learned_patience(connection: Connection, start: dt.date, end: dt.date) -> pl.DataFrame:
    """Mean patience per channel with its 95% interval, from the queue of `start`–`end`."""
    return patience_by_channel(queue_sums_by_channel(connection, start, end))


def patience_sources(patience: pl.DataFrame, weeks: int) -> dict[str, tuple[float, str]]:
    """Per simulated channel: the patience to use and where it comes from (for the form)."""
    learned = {row["channel"]: row for row in patience.iter_rows(named=True)}
    sources = {}
    for code, assumed in PATIENCE_S.items():
        row = learned.get(code)
        if row is None or row["patience_low_s"] is None:
            sources[code] = (assumed, PATIENCE_ASSUMED.format(assumed=assumed))
        elif row["patience_s"] is None:
            sources[code] = (assumed, PATIENCE_NO_ABANDON.format(
                weeks=weeks, low=row["patience_low_s"], assumed=assumed))
        else:
            sources[code] = (round(row["patience_s"], 1), PATIENCE_SOURCE.format(
                weeks=weeks, mean=row["patience_s"], low=row["patience_low_s"],
                high=row["patience_high_s"]))
    return sources


def learned_handle_by_hour(connection: Connection, start: dt.date, end: dt.date
                           ) -> pl.DataFrame:
    """Mean handle seconds per channel and hour (the channel's mean where an hour is thin)."""
    return handle_by_hour(handle_sums_by_hour(connection, start, end))


def recorded_staffing(connection: Connection, weekday: int, start: dt.date, end: dt.date,
                      interval_minutes: int) -> dict[str, tuple[int, ...]]:
    """Mean agents on duty per pool and interval over the range's days of `weekday`.

    Empty when no such day has staffing on record. Quarters are averaged into the interval.
    """
    staffing = staffing_by_quarter(connection, start, end).filter(
        pl.col("day").dt.weekday() == weekday + 1)
    days = staffing["day"].n_unique()
    if days == 0:
        return {}
    per = interval_minutes // QUARTER_MINUTES
    means = (staffing.group_by("pool", (pl.col("quarter") // per).alias("interval"))
             .agg((pl.col("agents").sum() / (days * per)).alias("agents")))
    intervals = 24 * 60 // interval_minutes
    plan = {}
    for pool in means["pool"].unique().to_list():
        values = [0] * intervals
        for interval, agents in means.filter(pl.col("pool") == pool).select(
                "interval", "agents").iter_rows():
            values[interval] = round(agents)
        plan[pool] = tuple(values)
    return plan


def hourly_aht(aht_s: float, hours: pl.DataFrame, interval_minutes: int
               ) -> tuple[float, ...]:
    """Mean handle seconds per interval: the hours' shape at the channel's own level.

    `hours` is one channel's rows of `estimates.handle_by_hour` (hour, answered, aht_s). The
    channel's `aht_s` (operator-served contacts, escalated ones included) sets the level and
    the hours' answered contacts only the shape, so the day's mean stays the learned one.
    An hour with no row takes the channel's mean. Empty when nothing is known.
    """
    answered = hours["answered"].sum() if not hours.is_empty() else 0
    if answered == 0:
        return ()
    level = float((hours["aht_s"] * hours["answered"]).sum()) / answered
    by_hour = dict(zip(hours["hour"].to_list(), hours["aht_s"].to_list(), strict=True))
    return tuple(round(aht_s * by_hour.get(i * interval_minutes // 60, level) / level, 1)
                 for i in range(24 * 60 // interval_minutes))


def with_record(scenario: Scenario, patience: dict[str, tuple[float, str]],
                staffing: dict[str, tuple[int, ...]],
                handle_hours: pl.DataFrame | None = None) -> Scenario:
    """The baseline with learned patience and handle time per hour per channel, and the
    recorded staffing per pool."""
    def learned(channel):
        if channel.name in patience:
            channel = replace(channel, patience_s=patience[channel.name][0])
        if handle_hours is not None:
            hours = handle_hours.filter(pl.col("channel") == channel.name)
            channel = replace(channel, aht_by_interval_s=hourly_aht(
                channel.aht_s, hours, scenario.interval_minutes))
        return channel

    scenario = replace(scenario, channels=tuple(learned(c) for c in scenario.channels))
    for pool, operators in staffing.items():
        if any(p.name == pool for p in scenario.pools):
            scenario = scenario.with_pool_operators(pool, operators)
    return scenario


def backtest_history(connection: Connection, start: dt.date, end: dt.date) -> History:
    """The record of `start`–`end` the backtest replays, patience learned from the same days."""
    patience = learned_patience(connection, start, end)
    return History(
        intervals=queue_history(connection, start, end),
        automation=automation_by_day(connection, start, end),
        staffing=staffing_by_quarter(connection, start, end),
        patience_s={row["channel"]: row["patience_s"] for row in patience.iter_rows(named=True)},
    )


def backtest_from_database(connection: Connection, start: dt.date, end: dt.date,
                           replications: int = 10, seed: int = 0, patience_scale: float = 1.0,
                           staffing_scale: float = 1.0) -> Backtest:
    """Simulate each recorded day of `start`–`end` and compare it with the record."""
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    return backtest(backtest_history(connection, start, end), replications, seed,
                    patience_scale=patience_scale, staffing_scale=staffing_scale)


def last_weeks(connection: Connection, weeks: int = 4) -> tuple[dt.date, dt.date] | None:
    """The last `weeks` whole weeks of days with contacts, ending on the newest day."""
    end = latest_contact_date(connection)
    if end is None:
        return None
    return end - dt.timedelta(days=7 * weeks - 1), end
