"""Demand forecast per 15-minute interval and channel for the next weeks (pure: frames in/out).

How: each channel's daily total is forecast by a structural time-series model (statsmodels'
UnobservedComponents: a random-walk level, a stochastic weekly season and a holiday
regressor, fitted by maximum likelihood on the last year), and split over the day by the
channel's intraday profile for that weekday (the share of the day's arrivals per quarter over
the last weeks, smoothed over neighbouring quarters). Why this and not MSTL on the interval
series: at 96 quarters a day most quarters hold a handful of contacts, so the interval series
is mostly counting noise; the daily total is where level, weekly pattern and holidays show,
and the intraday shape is stable enough to be averaged over many days. Why statsmodels and
not statsforecast (measured in benchmarks/forecast.py on the scale-1 demo): statsforecast
2.1.1's AutoETS is no faster here (2.9 s first call, 2.7 s second, for 5 channels' daily
totals), takes no holiday regressor, and installing it with its dependencies replaced the
project's pandas 3.1.1 by 2.3.3. UnobservedComponents takes the holiday regressor and missing
days (closed offices) and gives prediction intervals from the same fit; on daily totals it
was as accurate as statsmodels' ETS (WAPE 16.9% vs 16.2% whatsapp, 10.9% vs 12.7% offices,
8 weekly origins at scale 0.05), which has no regressor.

Prediction intervals per interval come from a negative binomial whose mean is the forecast
and whose variance adds the daily total's forecast variance (share² × var) to the counting
noise of the interval (its mean): 80% and 95% two-sided.

Holidays are an input (a set of dates, from data_access.holidays in the CLI), never read here.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import stats

QUARTERS = 96
LEVELS = (0.8, 0.95)
MIN_HISTORY_DAYS = 28

FORECAST_SCHEMA = {"day": pl.Date, "channel": pl.String, "quarter": pl.Int16,
                   "weekday": pl.Int8, "holiday": pl.Boolean, "forecast": pl.Float64,
                   "lo80": pl.Float64, "hi80": pl.Float64, "lo95": pl.Float64,
                   "hi95": pl.Float64}


@dataclass(frozen=True)
class ForecastSettings:
    """Knobs of the model; the defaults were chosen on the demo's backtest (see README)."""

    fit_days: int = 364  # daily model's window: a year sees every holiday once
    profile_weeks: int = 12  # intraday profile's window, per weekday
    smooth_quarters: int = 2  # profile kernel half-width (±30 min)
    closed_weeks: int = 4  # a weekday with no arrival in this many weeks is a closed day


DEFAULT_SETTINGS = ForecastSettings()


def dense_history(history: pl.DataFrame, start: dt.date, end: dt.date) -> pl.DataFrame:
    """Every day × channel × quarter from start to end with its arrivals (zeros filled).

    `history` has day, channel, quarter, arrivals (data_access.history.arrivals_by_quarter).
    """
    channels = history.select(pl.col("channel").unique().sort())
    grid = (pl.DataFrame({"day": pl.date_range(start, end, eager=True)})
            .join(channels, how="cross")
            .join(pl.DataFrame({"quarter": pl.arange(0, QUARTERS, eager=True,
                                                     dtype=pl.Int16)}), how="cross"))
    counts = (history.filter(pl.col("day").is_between(start, end))
              .group_by("day", "channel", "quarter").agg(pl.col("arrivals").sum()))
    return (grid.join(counts, on=["day", "channel", "quarter"], how="left")
            .with_columns(pl.col("arrivals").fill_null(0).cast(pl.Float64))
            .sort("channel", "day", "quarter"))


def _days(start: dt.date, count: int) -> list[dt.date]:
    return [start + dt.timedelta(days=offset) for offset in range(count)]


def _closed_weekdays(days: list[dt.date], totals: np.ndarray, weeks: int) -> set[int]:
    """Weekdays with no arrival at all in the last `weeks` weeks (an office on Sunday)."""
    recent = slice(max(0, len(days) - 7 * weeks), len(days))
    open_days = {day.weekday() for day, total in zip(days[recent], totals[recent],
                                                     strict=True) if total > 0}
    return set(range(7)) - open_days


@dataclass(frozen=True)
class DailyForecast:
    """One channel's next daily totals: mean and standard deviation, and the fitted
    parameters (a later fit on a week more of data starts from them)."""

    mean: np.ndarray
    sd: np.ndarray
    params: np.ndarray


def forecast_daily(days: list[dt.date], totals: np.ndarray, horizon_days: int,
                   holidays: frozenset[dt.date], settings: ForecastSettings = DEFAULT_SETTINGS,
                   start_params: np.ndarray | None = None) -> DailyForecast:
    """Mean and standard deviation of the next `horizon_days` daily totals of one channel.

    `days` are consecutive and end on the forecast's origin. Closed weekdays (and holidays,
    when every holiday in the window was closed) are missing in the fit and zero after it.
    `start_params` (a previous fit's) start the likelihood search nearer its optimum: the
    backtest's weekly refits then take fewer steps.
    """
    from statsmodels.tsa.statespace.structural import UnobservedComponents

    if len(days) < MIN_HISTORY_DAYS:
        raise ValueError(f"history: {len(days)} days, the forecast needs at least "
                         f"{MIN_HISTORY_DAYS}")
    keep = slice(max(0, len(days) - settings.fit_days), len(days))
    days, y = days[keep], totals[keep].astype(float)
    ahead = _days(days[-1] + dt.timedelta(days=1), horizon_days)
    closed = _closed_weekdays(days, y, settings.closed_weeks)
    if len(closed) == 7:  # nothing came for weeks (a channel closed down): nothing will
        return DailyForecast(np.zeros(horizon_days), np.zeros(horizon_days), np.array([]))
    past_holiday = np.array([day in holidays for day in days])
    next_holiday = np.array([day in holidays for day in ahead])
    closed_on_holidays = past_holiday.any() and not y[past_holiday].any()
    missing = np.array([day.weekday() in closed for day in days])
    if closed_on_holidays:
        missing |= past_holiday
    fitted = np.where(missing, np.nan, y)
    exog = past_holiday.astype(float)[:, None] if past_holiday.any() else None
    model = UnobservedComponents(fitted, level="local level", seasonal=7, exog=exog)
    with warnings.catch_warnings():  # convergence chatter on short or flat series
        warnings.simplefilter("ignore")
        if start_params is not None and len(start_params) != len(model.start_params):
            start_params = None  # the holiday regressor came or went: start afresh
        result = model.fit(start_params=start_params, disp=False)
        prediction = result.get_forecast(
            horizon_days, exog=next_holiday.astype(float)[:, None] if exog is not None
            else None)
    mean = np.clip(np.asarray(prediction.predicted_mean), 0.0, None)
    sd = np.sqrt(np.clip(np.asarray(prediction.var_pred_mean), 0.0, None))
    shut = np.array([day.weekday() in closed or (closed_on_holidays and day in holidays)
                     for day in ahead])
    return DailyForecast(np.where(shut, 0.0, mean), np.where(shut, 0.0, sd),
                         np.asarray(result.params))


def intraday_profile(dense: pl.DataFrame, origin: dt.date, holidays: frozenset[dt.date],
                     settings: ForecastSettings = DEFAULT_SETTINGS) -> pl.DataFrame:
    """Share of a day's arrivals per quarter, per channel and weekday, over the last weeks.

    Holidays are left out (their day is unusual). Shares are smoothed by a triangular kernel
    over ±smooth_quarters, then kept only where the window saw an arrival (so an office's
    closed hours stay empty), and normalised to 1 per channel and weekday.
    """
    start = origin - dt.timedelta(days=7 * settings.profile_weeks - 1)
    window = (dense.filter(pl.col("day").is_between(start, origin),
                           ~pl.col("day").is_in(list(holidays)))
              .with_columns(weekday=pl.col("day").dt.weekday().cast(pl.Int8) - 1)
              .group_by("channel", "weekday", "quarter").agg(pl.col("arrivals").sum())
              .sort("channel", "weekday", "quarter"))
    width = settings.smooth_quarters
    weights = [width + 1 - abs(k) for k in range(-width, width + 1)]
    smoothed = pl.sum_horizontal([
        pl.col("arrivals").shift(-k).over("channel", "weekday").fill_null(0) * weight
        for k, weight in zip(range(-width, width + 1), weights, strict=True)])
    return (window.with_columns(share=pl.when(_seen_nearby(width)).then(smoothed)
                                .otherwise(0.0))
        .with_columns(share=pl.col("share") / pl.col("share").sum().over("channel", "weekday"))
        .with_columns(pl.col("share").fill_nan(0.0))
        .select("channel", "weekday", "quarter", "share"))


def _seen_nearby(width: int) -> pl.Expr:
    """A quarter had arrivals itself, or lies between quarters that had (inside open hours)."""
    seen = pl.col("arrivals") > 0
    if width == 0:
        return seen
    before = pl.any_horizontal([seen.shift(k).over("channel", "weekday").fill_null(False)
                                for k in range(1, width + 1)])
    after = pl.any_horizontal([seen.shift(-k).over("channel", "weekday").fill_null(False)
                               for k in range(1, width + 1)])
    return seen | (before & after)


def forecast_intervals(history: pl.DataFrame, origin: dt.date, weeks: int,
                       holidays: frozenset[dt.date],
                       settings: ForecastSettings = DEFAULT_SETTINGS) -> pl.DataFrame:
    """Arrivals per day, channel and quarter for `weeks` weeks after `origin`, with intervals.

    `history`: day, channel, quarter, arrivals up to `origin` (later rows are ignored).
    Columns: FORECAST_SCHEMA.
    """
    if not 1 <= weeks <= 4:
        raise ValueError(f"weeks: {weeks!r} is not within 1..4")
    history = history.filter(pl.col("day") <= origin)
    if history.is_empty():
        raise ValueError(f"history: no arrivals up to {origin}")
    first = max(history.get_column("day").min(),
                origin - dt.timedelta(days=settings.fit_days - 1))
    dense = dense_history(history, first, origin)
    return forecast_from_dense(dense, origin, weeks * 7, holidays, settings)


def forecast_from_dense(dense: pl.DataFrame, origin: dt.date, horizon_days: int,
                        holidays: frozenset[dt.date], settings: ForecastSettings,
                        warm: dict[str, np.ndarray] | None = None) -> pl.DataFrame:
    """forecast_intervals on an already dense grid (the backtest reuses one grid).

    `warm`, when given, maps channel → fitted parameters: read as start values and updated.
    """
    dense = dense.filter(pl.col("day") <= origin)
    daily = dense.group_by("channel", "day").agg(pl.col("arrivals").sum()).sort("channel",
                                                                                "day")
    ahead = _days(origin + dt.timedelta(days=1), horizon_days)
    parts = []
    for channel, frame in daily.group_by("channel", maintain_order=True):
        code = channel[0]
        daily_forecast = forecast_daily(frame.get_column("day").to_list(),
                                        frame.get_column("arrivals").to_numpy(), horizon_days,
                                        holidays, settings,
                                        warm.get(code) if warm is not None else None)
        if warm is not None:
            warm[code] = daily_forecast.params
        parts.append(pl.DataFrame({"channel": code, "day": ahead, "daily": daily_forecast.mean,
                                   "daily_sd": daily_forecast.sd}))
    profile = intraday_profile(dense, origin, holidays, settings)
    frame = (pl.concat(parts)
             .with_columns(weekday=pl.col("day").dt.weekday().cast(pl.Int8) - 1,
                           holiday=pl.col("day").is_in(list(holidays)))
             .join(profile, on=["channel", "weekday"], how="left")
             .with_columns(pl.col("quarter").fill_null(0), pl.col("share").fill_null(0.0))
             .with_columns(forecast=pl.col("daily") * pl.col("share"),
                           variance=pl.col("daily") * pl.col("share")
                           + (pl.col("daily_sd") * pl.col("share")) ** 2))
    return with_intervals(frame).select(list(FORECAST_SCHEMA)).cast(FORECAST_SCHEMA).sort(
        "channel", "day", "quarter")


def with_intervals(frame: pl.DataFrame) -> pl.DataFrame:
    """lo80/hi80/lo95/hi95 from `forecast` and `variance`: negative binomial quantiles.

    Where the variance does not exceed the mean (no day-level uncertainty) the counts are
    Poisson; a zero forecast has a zero interval.
    """
    mean = frame.get_column("forecast").to_numpy()
    variance = np.maximum(frame.get_column("variance").to_numpy(), mean * (1 + 1e-9))
    positive = mean > 0
    size = np.where(positive, mean ** 2 / np.maximum(variance - mean, 1e-12), 1.0)
    probability = np.where(positive, mean / np.where(positive, variance, 1.0), 1.0)
    columns = {}
    for level in LEVELS:
        tail = (1 - level) / 2
        label = round(level * 100)
        low = stats.nbinom.ppf(tail, size, probability)
        high = stats.nbinom.ppf(1 - tail, size, probability)
        columns[f"lo{label}"] = np.where(positive, low, 0.0)
        columns[f"hi{label}"] = np.where(positive, high, 0.0)
    return frame.with_columns(**{name: pl.Series(values, dtype=pl.Float64)
                                 for name, values in columns.items()})
