"""Rolling-origin backtest of the demand forecast against the two baselines planners know.

For each of the last N weeks the forecast is made from the history up to the day before that
week, exactly as it would have been then, and compared with what came. Baselines:
- seasonal naive: the same quarter of the same weekday one week earlier;
- weekday mean: the mean of the same quarter and weekday over the 8 weeks before the origin
  (what the simulator's baseline day uses today, sim.learn).
Accuracy: WAPE = Σ|forecast − actual| ÷ Σ actual, and bias = Σ(forecast − actual) ÷ Σ actual
(positive: over-forecast), per channel, per quarter of the day, on holidays and other days,
and in total; with the share of actuals inside the model's 80% and 95% intervals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from sim.forecast import (
    DEFAULT_SETTINGS,
    ForecastSettings,
    dense_history,
    forecast_from_dense,
)

METHODS = ("model", "seasonal_naive", "weekday_mean_8w")
BASELINE_WEEKS = 8


@dataclass(frozen=True)
class Backtest:
    """Per-interval predictions of every origin, and accuracy by channel, quarter and total."""

    predictions: pl.DataFrame  # day, channel, quarter, origin, actual, model, baselines, PI
    by_channel: pl.DataFrame  # channel, method, wape, bias, actual
    by_quarter: pl.DataFrame  # quarter, method, wape, bias, actual (all channels)
    by_holiday: pl.DataFrame  # holiday (bool), method, wape, bias, actual: the holiday effect
    total: pl.DataFrame  # method, wape, bias, actual, and the model's coverage

    def improvement(self, baseline: str) -> float:
        """How much lower the model's total WAPE is than a baseline's, as a share of it."""
        wape = dict(self.total.select("method", "wape").iter_rows())
        return 1 - wape["model"] / wape[baseline]


def weekday_mean(dense: pl.DataFrame, origin: dt.date, days: list[dt.date],
                 weeks: int = BASELINE_WEEKS) -> pl.DataFrame:
    """Mean of the same weekday and quarter over the `weeks` weeks up to origin."""
    start = origin - dt.timedelta(days=7 * weeks - 1)
    means = (dense.filter(pl.col("day").is_between(start, origin))
             .group_by("channel", pl.col("day").dt.weekday().alias("weekday"), "quarter")
             .agg(weekday_mean_8w=pl.col("arrivals").sum() / weeks))
    return (pl.DataFrame({"day": days})
            .with_columns(weekday=pl.col("day").dt.weekday())
            .join(means, on="weekday").drop("weekday"))


def seasonal_naive(dense: pl.DataFrame, origin: dt.date, days: list[dt.date]) -> pl.DataFrame:
    """The same weekday and quarter of the last week up to origin (horizons past a week
    repeat it)."""
    last_week = (dense.filter(pl.col("day").is_between(origin - dt.timedelta(days=6), origin))
                 .with_columns(weekday=pl.col("day").dt.weekday())
                 .select("channel", "weekday", "quarter", seasonal_naive="arrivals"))
    return (pl.DataFrame({"day": days})
            .with_columns(weekday=pl.col("day").dt.weekday())
            .join(last_week, on="weekday").drop("weekday"))


def accuracy(predictions: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """WAPE and bias of each method grouped by `by` (long: one row per group and method)."""
    long = predictions.unpivot(index=[*by, "actual"], on=list(METHODS), variable_name="method",
                               value_name="predicted")
    keys = [*by, "method"]
    return (long.group_by(keys)
            .agg(actual=pl.col("actual").sum(),
                 abs_error=(pl.col("predicted") - pl.col("actual")).abs().sum(),
                 error=(pl.col("predicted") - pl.col("actual")).sum())
            .with_columns(wape=pl.col("abs_error") / pl.col("actual"),
                          bias=pl.col("error") / pl.col("actual"))
            .select(*keys, "wape", "bias", "actual")
            .sort(keys))


def backtest(history: pl.DataFrame, holidays: frozenset[dt.date], weeks: int = 8,
             horizon_days: int = 7, settings: ForecastSettings = DEFAULT_SETTINGS
             ) -> Backtest:
    """Forecast each of the last `weeks` weeks from the data before it; compare with actuals.

    `history`: day, channel, quarter, arrivals (the last day is the newest data).
    """
    if weeks < 1:
        raise ValueError(f"weeks: {weeks!r} must be at least 1")
    last = history.get_column("day").max()
    first = history.get_column("day").min()
    earliest_origin = last - dt.timedelta(days=7 * weeks)
    if (earliest_origin - first).days + 1 < 7 * BASELINE_WEEKS:
        raise ValueError(f"history: {first} to {last} is too short for a {weeks}-week "
                         f"backtest with {BASELINE_WEEKS} weeks before it")
    dense = dense_history(history, max(first, earliest_origin
                                       - dt.timedelta(days=settings.fit_days - 1)), last)
    parts, warm = [], {}
    for step in range(weeks, 0, -1):
        origin = last - dt.timedelta(days=7 * step)
        days = [origin + dt.timedelta(days=k) for k in range(1, horizon_days + 1)
                if origin + dt.timedelta(days=k) <= last]
        model = forecast_from_dense(dense, origin, len(days), holidays, settings, warm)
        keys = ["day", "channel", "quarter"]
        parts.append(
            model.select(*keys, "forecast", "lo80", "hi80", "lo95", "hi95")
            .rename({"forecast": "model"})
            .join(seasonal_naive(dense, origin, days), on=keys, how="left")
            .join(weekday_mean(dense, origin, days), on=keys, how="left")
            .join(dense.select(*keys, actual="arrivals"), on=keys, how="left")
            .with_columns(origin=pl.lit(origin)))
    predictions = pl.concat(parts).with_columns(pl.col(list(METHODS)).fill_null(0.0),
                                                holiday=pl.col("day").is_in(list(holidays)))
    total = accuracy(predictions, []).join(coverage(predictions), how="cross")
    return Backtest(predictions, accuracy(predictions, ["channel"]),
                    accuracy(predictions, ["quarter"]), accuracy(predictions, ["holiday"]),
                    total)


def coverage(predictions: pl.DataFrame) -> pl.DataFrame:
    """Share of actual interval counts inside the model's 80% and 95% intervals."""
    return predictions.select(
        coverage80=pl.col("actual").is_between(pl.col("lo80"), pl.col("hi80")).mean(),
        coverage95=pl.col("actual").is_between(pl.col("lo95"), pl.col("hi95")).mean())
