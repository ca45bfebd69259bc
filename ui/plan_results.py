"""The Plan page's answer and tables (pure: frames in, frames and text out; no Streamlit).

The answer sentence is one template filled in one place; the tables are what the page shows
and what its CSV buttons download (readable headers, intervals beside each figure).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from sim.demand import POOL_OF
from sim.forecast_total import TotalInterval
from sim.roster import HEURISTIC, money_text

ANSWER = ("{horizon} ({start} – {end}): {total:,.0f} contacts forecast [{low:,.0f}, "
          "{high:,.0f}]; the roster of {operators:,} operators covers {coverage:.0%} of "
          "required agent-hours for {cost} {currency}; simulated SL {sl:.0%} "
          "[{sl_low:.0%}, {sl_high:.0%}], target met on {met} of {days} days.")
ANSWER_NO_ROSTER = ("{horizon} ({start} – {end}): {total:,.0f} contacts forecast "
                    "[{low:,.0f}, {high:,.0f}]; the roster of {operators:,} operators found no "
                    "plan in the time limit: raise it.")
PLANNED = ("OPTIMAL", "FEASIBLE", HEURISTIC)  # solver statuses that come with shifts
HORIZON_ONE = "Next week"
HORIZON_MANY = "Next {weeks} weeks"
INTERVAL_NOTE = ("In brackets: the 95% prediction interval of the contacts (the daily model's "
                 "error taken as shared by the days, plus counting noise), and the simulated "
                 "service level's 95% confidence interval over replications. A day meets the "
                 "target when every pool's day service level reaches its target.")
REQUIRED, ROSTERED = "Required", "Rostered"
BASE_PLAN = "The roster"
MORE_PLAN = "+{extra} agents per staffed quarter ({pools})"
BOT_PLAN = "Bot share +{points} points"
NO_BACKTEST = "—"
METHOD_LABELS = {"model": "Forecast model", "seasonal_naive": "Same quarter last week",
                 "weekday_mean_8w": "8-week weekday mean"}
CI = " [{low}, {high}]"
ACCURACY_NOTE = ("Backtest over the last {weeks} weeks (a forecast made each week from the data "
                 "before it): WAPE per quarter hour {model:.1%} against {naive:.1%} for the "
                 "same quarter last week and {mean:.1%} for the 8-week weekday mean.")


def horizon_text(weeks: int) -> str:
    return HORIZON_ONE if weeks == 1 else HORIZON_MANY.format(weeks=weeks)


@dataclass(frozen=True)
class ForecastTotal:
    """The horizon's contacts forecast, with the quarters' 95% bounds summed."""

    start: dt.date
    end: dt.date
    total: float
    low: float
    high: float


def forecast_total(forecast: pl.DataFrame, interval: TotalInterval) -> ForecastTotal:
    """All channels' contacts over the forecast's days, with the total's 95% interval."""
    row = forecast.select(start=pl.col("day").min(), end=pl.col("day").max(),
                          total=pl.col("forecast").sum()).row(0, named=True)
    return ForecastTotal(**row, low=interval.low, high=interval.high)


def days_meeting_target(intervals: pl.DataFrame) -> pl.DataFrame:
    """Per date: each pool's day service level (queued-weighted over quarters) against its
    target, and whether every pool met it. Columns: date, met, pools_met, pools."""
    per_pool = (intervals.filter(pl.col("queued") > 0)
                .group_by("date", "pool")
                .agg(sl=(pl.col("queue_service_level") * pl.col("queued")).sum()
                     / pl.col("queued").sum(), target=pl.col("sl_target").first())
                .with_columns(met=pl.col("sl") >= pl.col("target")))
    return (per_pool.group_by("date")
            .agg(met=pl.col("met").all(), pools_met=pl.col("met").sum(), pools=pl.len())
            .sort("date"))


def lowest_target(intervals: pl.DataFrame) -> float:
    """The lowest service-level target of the pools (the days chart's reference line)."""
    return float(intervals.get_column("sl_target").min())


def answer(weeks: int, total: ForecastTotal, roster_summary: dict, week: pl.DataFrame,
           met: pl.DataFrame) -> str:
    """The page's one-sentence answer, every figure with its uncertainty."""
    values = {"horizon": horizon_text(weeks), "start": total.start.strftime("%-d %b"),
              "end": total.end.strftime("%-d %b %Y"), "total": total.total,
              "low": total.low, "high": total.high, "operators": roster_summary["operators"]}
    if roster_summary["status"] not in PLANNED:
        return ANSWER_NO_ROSTER.format(**values)
    sl = week.row(0, named=True)
    return ANSWER.format(
        **values, coverage=roster_summary["coverage_share"],
        cost=money_text(roster_summary["cost"]), currency=roster_summary["currency"],
        sl=sl["queue_service_level"] or 0.0, sl_low=sl["queue_service_level_ci_low"] or 0.0,
        sl_high=sl["queue_service_level_ci_high"] or 0.0,
        met=int(met["met"].sum()), days=total.end.toordinal() - total.start.toordinal() + 1)


def hourly_forecast(forecast: pl.DataFrame, pools: tuple[str, ...]) -> pl.DataFrame:
    """Per pool and hour: forecast contacts and the quarters' 80%/95% bounds summed."""
    return (forecast.with_columns(pool=pl.col("channel").replace_strict(POOL_OF, default=None))
            .filter(pl.col("pool").is_in(list(pools)))
            .with_columns(time=pl.col("day").cast(pl.Datetime("us"))
                          + pl.duration(hours=pl.col("quarter") // 4))
            .group_by("pool", "time")
            .agg(pl.col("forecast", "lo80", "hi80", "lo95", "hi95").sum())
            .sort("pool", "time"))


def accuracy_table(total: pl.DataFrame, by_channel: pl.DataFrame) -> pl.DataFrame:
    """WAPE and bias per method, in total and per channel, in percent (one row per method)."""
    wide_wape = by_channel.pivot("channel", index="method", values="wape")
    channels = [c for c in wide_wape.columns if c != "method"]
    table = (total.select("method", "wape", "bias")
             .join(wide_wape.rename({c: f"WAPE {c}" for c in channels}), on="method")
             .with_columns((pl.col(pl.Float64) * 100).round(1)))
    return (table.with_columns(pl.col("method").replace_strict(METHOD_LABELS,
                                                                default=pl.col("method")))
            .rename({"method": "Method", "wape": "WAPE total (%)", "bias": "Bias (%)"}))


def accuracy_note(total: pl.DataFrame, weeks: int) -> str:
    """One line: the model's WAPE against both baselines, and how much lower."""
    wape = dict(total.select("method", "wape").iter_rows())
    return ACCURACY_NOTE.format(weeks=weeks, model=wape["model"],
                                naive=wape["seasonal_naive"], mean=wape["weekday_mean_8w"])


def staffing_curve(coverage: pl.DataFrame, pools: tuple[str, ...]) -> pl.DataFrame:
    """Long frame for the staffing curve: pool, time, series (required / rostered), agents."""
    timed = (coverage.filter(pl.col("pool").is_in(list(pools)))
             .with_columns(time=pl.col("date").cast(pl.Datetime("us"))
                           + pl.duration(minutes=pl.col("quarter") * 15)))
    return (timed.select("pool", "time", pl.col("required_agents").alias(REQUIRED),
                         pl.col("covering").alias(ROSTERED))
            .unpivot(index=["pool", "time"], variable_name="series", value_name="agents")
            .sort("pool", "series", "time"))


def coverage_table(coverage: pl.DataFrame, pools: tuple[str, ...]) -> pl.DataFrame:
    """Per date, quarter and pool: required, rostered on duty, on break, covering, short."""
    return (coverage.filter(pl.col("pool").is_in(list(pools)))
            .with_columns(start=pl.format("{}:{}", (pl.col("quarter") // 4).cast(pl.String)
                                          .str.zfill(2),
                                          (pl.col("quarter") % 4 * 15).cast(pl.String)
                                          .str.zfill(2)))
            .select("date", "start", "pool", "required_agents", "on_duty", "on_break",
                    "covering", "short", "over"))


def roster_table(shifts: pl.DataFrame, pools: tuple[str, ...]) -> pl.DataFrame:
    """One row per person and shift, times as HH:MM."""
    return (shifts.filter(pl.col("pool").is_in(list(pools)))
            .select(pl.col("date").dt.strftime("%Y-%m-%d %a").alias("date"), "operator_id",
                    "name", "pool", "template",
                    pl.col("start").dt.strftime("%H:%M").alias("start"),
                    pl.col("end").dt.strftime("%H:%M").alias("end"),
                    pl.col("break_start").dt.strftime("%H:%M").alias("break"),
                    "paid_h", pl.col("cost").round(0))
            .sort("date", "pool", "start", "operator_id"))


def gantt_frame(shifts: pl.DataFrame, pools: tuple[str, ...]) -> pl.DataFrame:
    """Bars per person: the shift, and its break on top (part: shift / break)."""
    chosen = shifts.filter(pl.col("pool").is_in(list(pools)))
    person = pl.format("{} {}", pl.col("operator_id"), pl.col("name")).alias("person")
    return pl.concat([
        chosen.select(person, "pool", "date", pl.lit("shift").alias("part"), "start", "end"),
        chosen.select(person, "pool", "date", pl.lit("break").alias("part"),
                      pl.col("break_start").alias("start"), pl.col("break_end").alias("end")),
    ]).sort("person", "start")


def _number(value: pl.Expr, decimals: int) -> pl.Expr:
    rounded = value.round(decimals)
    return rounded.cast(pl.Int64) if decimals == 0 else rounded


def _with_ci(value: pl.Expr, low: pl.Expr, high: pl.Expr, decimals: int) -> pl.Expr:
    return pl.format("{} [{}, {}]", _number(value, decimals), _number(low, decimals),
                     _number(high, decimals))


DAY_FIGURES = (("queue_service_level", "Service level (%)", 100, 1),
               ("asa_s", "ASA (s)", 1, 0),
               ("queue_abandoned_share", "Abandoned (%)", 100, 1),
               ("cost", "Cost", 1, 0),
               ("predicted_nps", "Predicted NPS", 1, 1))


def day_table(days: pl.DataFrame, met: pl.DataFrame) -> pl.DataFrame:
    """The simulated week per day: each figure with its 95% CI, and whether the target held."""
    columns = []
    for name, label, scale, decimals in DAY_FIGURES:
        if name not in days.columns:
            continue
        columns.append(_with_ci(pl.col(name) * scale, pl.col(f"{name}_ci_low") * scale,
                                pl.col(f"{name}_ci_high") * scale, decimals).alias(label))
    return (days.join(met.select("date", "met"), on="date", how="left")
            .select(pl.col("date").dt.strftime("%Y-%m-%d").alias("Date"),
                    pl.col("date").dt.strftime("%a").alias("Day"),
                    pl.col("offered").round(0).cast(pl.Int64).alias("Contacts"), *columns,
                    pl.col("met").fill_null(True).alias("Target met")))


def comparison_table(weeks: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Whole weeks side by side: service level, abandoned share, cost (each with its CI)."""
    rows = []
    for label, week in weeks.items():
        row = week.row(0, named=True)
        rows.append({
            "Plan": label,
            "Service level (%)": _ci_text(row, "queue_service_level", 100, 1),
            "Abandoned": _ci_text(row, "abandoned", 1, 0),
            "Answered": _ci_text(row, "answered", 1, 0),
            "Cost": _ci_text(row, "cost", 1, 0),
        })
    return pl.DataFrame(rows)


def _ci_text(row: dict, name: str, scale: float, decimals: int) -> str:
    value, low, high = (row.get(name), row.get(f"{name}_ci_low"), row.get(f"{name}_ci_high"))
    if value is None:
        return NO_BACKTEST
    shown = [f"{v * scale:,.{decimals}f}" for v in (value, low or 0.0, high or 0.0)]
    return shown[0] + CI.format(low=shown[1], high=shown[2])
