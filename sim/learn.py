"""The bridge between the simulator and the database: the only module of `sim` that reads it.

The simulator's core (config, model, results, runner, sweep, optimize, erlang, demand, nps)
imports neither SQLAlchemy nor `data_access`, so it runs where no database driver is installed
(a Dask worker, a notebook with a TOML file). What the history tells it — the baseline day and
the wait→NPS curve — is read here, as plain frames handed to those pure builders.
"""

from __future__ import annotations

import datetime as dt

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
from data_access.rollups import WAIT_BUCKETS
from sim.config import Scenario
from sim.demand import WEEKDAYS, scenario_from_history
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
    return scenario, (f"Baseline: the mean {WEEKDAYS[weekday]} of {start} – {end} "
                      f"({weeks} weeks), staffed at the Erlang A minimum for the targets.")


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
