"""A prediction interval for the forecast's total over its horizon (pure: frames in/out).

The per-quarter intervals of sim.forecast cannot be summed: a quarter's 95% bounds are for
that quarter alone, so their sum is far wider than the total's (and at a handful of contacts
a quarter, its lower bounds are all 0). The total's uncertainty has two parts, which this
module adds up from the same daily model (sim.forecast.forecast_daily):
- the daily totals' forecast error, which a local-level model carries from one day to the
  next: taken as moving together over the days of a channel (the standard deviations add;
  an upper bound for a level error shared by the horizon);
- counting noise (Poisson: variance = mean), independent between days and channels.
Channels are taken as independent of each other.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import stats

from sim.forecast import DEFAULT_SETTINGS, ForecastSettings, dense_history, forecast_daily


@dataclass(frozen=True)
class TotalInterval:
    """The horizon's total with a two-sided interval at `level`."""

    total: float
    low: float
    high: float
    level: float


def daily_forecasts(history: pl.DataFrame, origin: dt.date, horizon_days: int,
                    holidays: frozenset[dt.date],
                    settings: ForecastSettings = DEFAULT_SETTINGS) -> pl.DataFrame:
    """Per channel and day after origin: the daily total's mean and standard deviation."""
    history = history.filter(pl.col("day") <= origin)
    first = max(history.get_column("day").min(),
                origin - dt.timedelta(days=settings.fit_days - 1))
    daily = (dense_history(history, first, origin).group_by("channel", "day")
             .agg(pl.col("arrivals").sum()).sort("channel", "day"))
    ahead = [origin + dt.timedelta(days=k) for k in range(1, horizon_days + 1)]
    parts = []
    for (channel,), frame in daily.group_by("channel", maintain_order=True):
        fitted = forecast_daily(frame.get_column("day").to_list(),
                                frame.get_column("arrivals").to_numpy(), horizon_days,
                                holidays, settings)
        parts.append(pl.DataFrame({"channel": channel, "day": ahead, "mean": fitted.mean,
                                   "sd": fitted.sd}))
    return pl.concat(parts)


def total_interval(daily: pl.DataFrame, level: float = 0.95) -> TotalInterval:
    """The total of `daily` (channel, day, mean, sd) with its normal-approximation interval,
    errors moving together over a channel's days, counting noise independent."""
    per_channel = daily.group_by("channel").agg(mean=pl.col("mean").sum(),
                                                sd=pl.col("sd").sum())
    total = float(per_channel.get_column("mean").sum())
    variance = float((per_channel.get_column("sd") ** 2).sum()) + total
    half = float(stats.norm.ppf(0.5 + level / 2)) * float(np.sqrt(variance))
    return TotalInterval(total, max(0.0, total - half), total + half, level)
