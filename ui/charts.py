"""Altair chart builders: data in, `alt.Chart` out; they never call streamlit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import altair as alt
import polars as pl

from data_access.dates import month_end, period_starts
from sim.config import clock_expr
from ui.palette import (
    CHANNEL_COLORS,
    DOMINATED_COLOR,
    FRONTIER_COLOR,
    HIGHLIGHT_COLOR,
    NEUTRAL_COLOR,
    ONLINE_COLORS,
    POOL_COLORS,
    SERIES_COLORS,
    SWEEP_HEATMAPS,
    TARGET_COLOR,
    TEXT_COLOR,
    color_scale,
)
from ui.view_state import CHANNEL_NAMES, MODE_NAMES, named

# --------------------------------------------------------------------------- dashboards' periods
# One date axis per granularity for every dashboard chart: each period is one labelled point
# or bar ("3 Nov", "week of 3 Nov", "Nov 2026"), the axis holds exactly the periods the range
# touches (nothing drawn past its end), and a period the range cuts is marked as partial.

PERIOD_LABELS: dict[str, str] = {"day": "{day} {month}", "week": "week of {day} {month}",
                                 "month": "{month} {year}"}
PERIOD_LABELS_WITH_YEAR: dict[str, str] = {"day": "{day} {month} {year}",
                                           "week": "week of {day} {month} {year}",
                                           "month": "{month} {year}"}
PERIOD_TIP = "Period"
DAYS_TIP = "Days in range"
WHOLE_NOTE = "whole"
PARTIAL_NOTE = "partial: {days} of {total} days"
WHOLE_PERIOD = "Whole period"
PARTIAL_PERIOD = "Partial period"
PERIOD_KINDS = [WHOLE_PERIOD, PARTIAL_PERIOD]
MAX_TICKS = 8
HEIGHT = 280


@dataclass(frozen=True)
class Span:
    """The range a chart covers and its granularity (a ViewState is one too)."""

    start: dt.date
    end: dt.date
    granularity: str


def monthly(span: Span) -> Span:
    """The same range counted per month (ratings coverage and one operator's trend)."""
    return Span(span.start, span.end, "month")


def period_last_day(period: dt.date, granularity: str) -> dt.date:
    if granularity == "month":
        return month_end(period)
    return period + dt.timedelta(days=6 if granularity == "week" else 0)


def period_coverage(period: dt.date, granularity: str, start: dt.date, end: dt.date
                    ) -> tuple[int, int]:
    """(days of the period inside start..end, days of the period): pure, from the period's
    first day and granularity; a period is partial when the first is smaller."""
    last = period_last_day(period, granularity)
    total = (last - period).days + 1
    inside = (min(last, end) - max(period, start)).days + 1
    return max(inside, 0), total


def period_label(period: dt.date, granularity: str, with_year: bool = False) -> str:
    labels = PERIOD_LABELS_WITH_YEAR if with_year else PERIOD_LABELS
    return labels[granularity].format(day=period.day, month=f"{period:%b}", year=period.year)


def period_labels(span: Span) -> dict[dt.date, str]:
    """Every period of the span, in order, with its axis label (years added only when a
    label would repeat, as the same day of two years)."""
    periods = period_starts(span.start, span.end, span.granularity)
    labels = {period: period_label(period, span.granularity) for period in periods}
    if len(set(labels.values())) < len(labels):
        labels = {period: period_label(period, span.granularity, True) for period in periods}
    return labels


def partial_periods(span: Span) -> list[tuple[dt.date, int, int]]:
    """The span's first and last periods when the range cuts them: (period, days, total)."""
    periods = period_starts(span.start, span.end, span.granularity)
    edges = [periods[0], periods[-1]] if len(periods) > 1 else periods
    found = []
    for period in edges:
        days, total = period_coverage(period, span.granularity, span.start, span.end)
        if days < total:
            found.append((period, days, total))
    return found


def with_periods(frame: pl.DataFrame, span: Span, column: str = "period") -> pl.DataFrame:
    """`frame` with period_label, partial, period_kind and period_note (for the tooltip:
    "partial: 4 of 31 days"); rows of periods outside the span are dropped."""
    labels = period_labels(span)
    notes = []
    for period, label in labels.items():
        days, total = period_coverage(period, span.granularity, span.start, span.end)
        notes.append({"_period": period, "period_label": label, "partial": days < total,
                      "period_kind": PARTIAL_PERIOD if days < total else WHOLE_PERIOD,
                      "period_note": (PARTIAL_NOTE.format(days=days, total=total)
                                      if days < total else WHOLE_NOTE)})
    table = pl.DataFrame(notes, schema={"_period": pl.Date, "period_label": pl.String,
                                        "partial": pl.Boolean, "period_kind": pl.String,
                                        "period_note": pl.String})
    return frame.join(table, left_on=pl.col(column).cast(pl.Date), right_on="_period",
                      how="inner", maintain_order="left").drop("_period", strict=False)


def span_of(frame: pl.DataFrame, column: str = "period") -> Span:
    """A frame's own span, for a builder called without one: its first period to the last
    day of its last, the granularity read from the smallest gap (28 days and more: months)."""
    periods = frame[column].drop_nulls().unique().sort()
    if periods.is_empty():
        today = dt.date.today()
        return Span(today, today, "day")
    gaps = periods.diff().drop_nulls().dt.total_days()
    step = int(gaps.min()) if gaps.len() else 28
    granularity = "month" if step >= 28 else "week" if step >= 7 else "day"
    first, last = periods[0], periods[-1]
    return Span(first, period_last_day(last, granularity), granularity)


def period_x(span: Span, band: float | None = None) -> alt.X:
    """The one date axis: the span's periods in order, labelled by granularity, at most
    MAX_TICKS labels, ticks on the points (or bar centres). `band` places a line over bars."""
    labels = list(period_labels(span).values())
    step = max(1, -(-len(labels) // MAX_TICKS))
    shown = labels[::step]
    extra = {"bandPosition": band} if band is not None else {}
    return alt.X("period_label:O", title=None, sort=labels,
                 scale=alt.Scale(domain=labels),
                 axis=alt.Axis(values=shown, labelAngle=0, labelOverlap="greedy",
                               labelFlush=False), **extra)


def period_tips() -> list[alt.Tooltip]:
    return [alt.Tooltip("period_label:N", title=PERIOD_TIP),
            alt.Tooltip("period_note:N", title=DAYS_TIP)]


def partial_fill() -> alt.FillOpacity:
    """Points of partial periods are hollow; the legend says what hollow means."""
    return alt.FillOpacity("period_kind:N", title=None, scale=alt.Scale(
        domain=PERIOD_KINDS, range=[1, 0]), legend=alt.Legend(orient="bottom"))


def partial_opacity() -> alt.Opacity:
    """Bars of partial periods are pale."""
    return alt.Opacity("period_kind:N", title=None, scale=alt.Scale(
        domain=PERIOD_KINDS, range=[1, 0.35]), legend=alt.Legend(orient="bottom"))


def trend_points(base: alt.Chart, **mark: object) -> alt.Chart:
    """The points over a trend line: filled for whole periods, hollow for partial ones.

    The outline takes the series' colour (the mark's `color`, or the base's colour
    encoding), so a hollow point stays visible."""
    style = {"filled": True, "size": 55, "strokeWidth": 1.5} | mark
    if "color" in mark:  # one series: its colour outlines the hollow points too
        style["stroke"] = mark["color"]
        return base.mark_point(**style).encode(fillOpacity=partial_fill())
    color = base.encoding.color
    kept = ({key: value for key, value in color.to_dict().items()
             if key in ("field", "type", "scale")} if color is not alt.Undefined else {})
    outline = {"stroke": alt.Stroke(**kept)} if kept else {}  # merges with the colour legend
    return base.mark_point(**style).encode(fillOpacity=partial_fill(), **outline)


def named_scale(colors: dict[str, str], names: dict[str, str],
                present: set[str] | None = None) -> alt.Scale:
    """A palette keyed by code, as a scale of display names (only `present` codes listed)."""
    kept = {code: color for code, color in colors.items() if present is None or code in present}
    return alt.Scale(domain=[names.get(code, code) for code in kept], range=list(kept.values()))


def with_subtitle(chart: alt.TopLevelMixin, subtitle: str) -> alt.TopLevelMixin:
    """Add a line (the active filters) under a chart's title, after any subtitle it has.

    Legend labels are cut at 140 px, so that on a phone the plot keeps most of the width."""
    chart = chart.configure_legend(labelLimit=140)
    title = chart.title
    if isinstance(title, str):
        return chart.properties(title=alt.Title(title, subtitle=subtitle))
    if isinstance(title, alt.Title):
        old = title.subtitle
        lines = ([old] if isinstance(old, str) else list(old)) if old is not alt.Undefined \
            else []
        return chart.properties(title=alt.Title(title.text, subtitle=[*lines, subtitle]))
    return chart


def nps_trend(frame: pl.DataFrame, target: float, title: str, span: Span | None = None
              ) -> alt.LayerChart:
    """NPS per period with its 95% margin-of-error band and the target line."""
    span = span or span_of(frame)
    data = with_periods(frame.select("period", "nps", "nps_moe", "responses"), span)
    tooltip = [*period_tips(),
               alt.Tooltip("nps:Q", format=".1f", title="NPS"),
               alt.Tooltip("nps_moe:Q", format=".1f", title="± margin (95%)"),
               alt.Tooltip("responses:Q", format=",", title="Responses")]
    base = alt.Chart(data).transform_calculate(
        low="datum.nps - datum.nps_moe", high="datum.nps + datum.nps_moe",
    ).encode(x=period_x(span))
    color = ONLINE_COLORS["online"]  # the theme's primary colour
    band = base.mark_area(opacity=0.2, color=color).encode(
        y=alt.Y("low:Q", title="NPS"), y2="high:Q", tooltip=tooltip)
    line = base.mark_line(color=color).encode(y="nps:Q", tooltip=tooltip)
    points = trend_points(base, color=color).encode(y="nps:Q", tooltip=tooltip)
    rule = alt.Chart(pl.DataFrame({"target": [target]})).mark_rule(
        color=TARGET_COLOR, strokeDash=[6, 4]).encode(
        y="target:Q", tooltip=[alt.Tooltip("target:Q", title="Target NPS")])
    return alt.layer(band, line, points, rule).properties(height=HEIGHT, title=title)


def online_offline_mix(frame: pl.DataFrame, title: str,
        span: Span | None = None) -> alt.Chart:
    """Contacts per period stacked online/offline (from `online_offline_totals`)."""
    span = span or span_of(frame)
    data = with_periods(named(frame), span)
    return alt.Chart(data).mark_bar().encode(
        x=period_x(span),
        y=alt.Y("contacts:Q", stack="zero", title="Contacts"),
        color=alt.Color("mode:N", scale=named_scale(ONLINE_COLORS, MODE_NAMES), title=None),
        opacity=partial_opacity(),
        tooltip=[*period_tips(), alt.Tooltip("mode:N", title="Mode"),
                 alt.Tooltip("contacts:Q", format=",", title="Contacts"),
                 alt.Tooltip("share:Q", format=".1%", title="Share of period")],
    ).properties(height=HEIGHT, title=title)


# --------------------------------------------------------------------------- staffing simulator
# Titles name what is measured and over what: the simulated day, the interval length, and
# scenario vs baseline. Every mark carries a tooltip, its fields titled with their units.

SERIES_TIP = alt.Tooltip("series:N", title="Series")
FROM_TIP = alt.Tooltip("start:N", title="Interval from")
TARGET_NOTE = "Dashed red: the service-level target"


def _hour_axis() -> alt.X:
    """Intervals as pre-binned ranges [start_h, end_h): bars fill their interval."""
    return alt.X("start_h:Q", bin="binned", title="Hour of day",
                 scale=alt.Scale(domain=[0, 24], nice=False),
                 axis=alt.Axis(values=list(range(0, 25, 3))))


def _target_rule(targets: pl.DataFrame, y: alt.Y | str = "sl_target:Q") -> alt.Chart:
    """Dashed red rules at the service-level targets; `targets` has sl_target and pool."""
    rules = targets.group_by("sl_target").agg(
        pl.col("pool").unique().sort().str.join(", ").alias("pools"))
    return alt.Chart(rules).mark_rule(color=TARGET_COLOR, strokeDash=[6, 4]).encode(
        y=y, tooltip=[
            alt.Tooltip("sl_target:Q", format=".0%",
                        title="Service-level target (share answered within target time)"),
            alt.Tooltip("pools:N", title="Target of pool")])


def erlang_preview(frame: pl.DataFrame, day: str, interval_minutes: int) -> alt.LayerChart:
    """Erlang A service level per interval and pool (solid: scenario, dashed: baseline).

    Instant and analytic: it shows where the plan is thin while the simulation runs.
    """
    data = frame.filter(pl.col("service_level").is_not_null()).with_columns(
        mid_h=(pl.col("start_h") + pl.col("end_h")) / 2, start=clock_expr(pl.col("start_h") * 60))
    lines = alt.Chart(data).mark_line(point=alt.OverlayMarkDef(size=18)).encode(
        x=alt.X("mid_h:Q", title="Hour of day", scale=alt.Scale(domain=[0, 24], nice=False),
                axis=alt.Axis(values=list(range(0, 25, 3)))),
        y=alt.Y("service_level:Q", title="Erlang A service level",
                scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        color=alt.Color("pool:N", scale=color_scale(POOL_COLORS), title="Pool"),
        strokeDash=alt.StrokeDash("series:N", title=None,
                                  scale=alt.Scale(domain=["scenario", "baseline"],
                                                  range=[[1, 0], [5, 4]])),
        detail="series:N",
        tooltip=[SERIES_TIP, alt.Tooltip("pool:N", title="Pool"), FROM_TIP,
                 alt.Tooltip("operators:Q", title="Scheduled operators"),
                 alt.Tooltip("human_contacts:Q", format=".1f",
                             title="Contacts to operators (in interval)"),
                 alt.Tooltip("service_level:Q", format=".1%", title="Service level (Erlang A)"),
                 alt.Tooltip("abandoned_share:Q", format=".1%", title="Abandoned (Erlang A)")],
    )
    return alt.layer(lines, _target_rule(data.select("sl_target", "pool"))).properties(
        height=270, title=alt.Title(  # the height holds the title: the plot keeps ~170 px
            f"Erlang A service level per {interval_minutes}-min interval, {day}",
            subtitle=f"Scenario (solid) vs baseline (dashed). {TARGET_NOTE}."))


def staffing_service_level(frame: pl.DataFrame, pool: str, day: str,
                           interval_minutes: int) -> alt.LayerChart:
    """One pool's day: bars = scheduled operators (ticks: baseline), line = simulated service
    level per interval for baseline and scenario with the scenario's 95% band and the target."""
    data = frame.filter(pl.col("pool") == pool).with_columns(
        mid_h=(pl.col("start_h") + pl.col("end_h")) / 2)
    scenario = data.filter(pl.col("series") == "scenario")
    baseline = data.filter(pl.col("series") == "baseline")
    bars = alt.Chart(scenario).mark_bar(opacity=0.35, color=POOL_COLORS.get(pool, NEUTRAL_COLOR)
                                        ).encode(
        x=_hour_axis(), x2="end_h:Q",
        y=alt.Y("operators:Q", title="Scheduled operators"),
        tooltip=[FROM_TIP, alt.Tooltip("operators:Q", title="Scheduled operators (scenario)")],
    )
    ticks = alt.Chart(baseline).mark_rule(color=SERIES_COLORS["baseline"], strokeWidth=2
                                          ).encode(
        x=alt.X("start_h:Q"), x2="end_h:Q", y="operators:Q",
        tooltip=[FROM_TIP, alt.Tooltip("operators:Q", title="Scheduled operators (baseline)")])
    staffing = alt.layer(bars, ticks)
    measured = data.filter(pl.col("service_level").is_not_null())
    sl_scale = alt.Scale(domain=[0, 1])
    sl_axis = alt.Axis(format="%", orient="right", title="Service level")
    band = alt.Chart(measured.filter(pl.col("series") == "scenario")).mark_area(
        opacity=0.15, color=SERIES_COLORS["scenario"]).encode(
        x="mid_h:Q", y=alt.Y("service_level_ci_low:Q", scale=sl_scale, axis=sl_axis),
        y2="service_level_ci_high:Q",
        tooltip=[FROM_TIP,
                 alt.Tooltip("service_level_ci_low:Q", format=".1%",
                             title="Scenario service level, 95% CI low"),
                 alt.Tooltip("service_level_ci_high:Q", format=".1%",
                             title="Scenario service level, 95% CI high")])
    lines = alt.Chart(measured).mark_line(point=alt.OverlayMarkDef(size=18)).encode(
        x="mid_h:Q", y=alt.Y("service_level:Q", scale=sl_scale, axis=sl_axis),
        color=alt.Color("series:N", scale=color_scale(SERIES_COLORS), title=None),
        tooltip=[SERIES_TIP, FROM_TIP,
                 alt.Tooltip("service_level:Q", format=".1%", title="Service level"),
                 alt.Tooltip("service_level_ci_low:Q", format=".1%", title="95% CI low"),
                 alt.Tooltip("service_level_ci_high:Q", format=".1%", title="95% CI high"),
                 alt.Tooltip("queued:Q", format=".1f", title="Queued contacts (per day)"),
                 alt.Tooltip("asa_s:Q", format=".0f", title="Average speed of answer (s)")],
    )
    rule = _target_rule(data.select("sl_target", "pool"),
                        alt.Y("sl_target:Q", scale=sl_scale, axis=sl_axis))
    service = alt.layer(band, lines, rule)
    return alt.layer(staffing, service).resolve_scale(y="independent").properties(
        height=310, title=alt.Title(
            f"Pool {pool}, {day}: operators and service level",
            subtitle=f"Per {interval_minutes}-min interval; scenario dark, baseline grey."))


def wait_histogram(frame: pl.DataFrame, cap_s: int, day: str) -> alt.LayerChart:
    """Answered waits per day: scenario bars stacked by channel, baseline total as a step line."""
    present = set(frame["channel"].unique().to_list()) if frame.height else set()
    scenario = named(frame.filter(pl.col("series") == "scenario"))
    baseline = (frame.filter(pl.col("series") == "baseline")
                .group_by("wait_from_s", "wait_to_s").agg(pl.col("contacts_per_day").sum())
                .sort("wait_from_s"))
    upper = float(frame["wait_to_s"].max() or cap_s) if frame.height else float(cap_s)
    x = alt.X("wait_from_s:Q", bin="binned",
              title=f"Wait of answered contacts, s (last bar: {cap_s} s or more)",
              scale=alt.Scale(domain=[0, upper], nice=False))
    waited = [alt.Tooltip("wait_from_s:Q", title="Wait from (s)"),
              alt.Tooltip("wait_to_s:Q", title="Wait up to (s)")]
    bars = alt.Chart(scenario).mark_bar().encode(
        x=x, x2="wait_to_s:Q",
        y=alt.Y("contacts_per_day:Q", stack="zero", title="Contacts per day"),
        color=alt.Color("channel:N", scale=named_scale(CHANNEL_COLORS, CHANNEL_NAMES, present),
                        title="Channel"),
        tooltip=[alt.Tooltip("channel:N", title="Channel"), *waited,
                 alt.Tooltip("contacts_per_day:Q", format=".1f",
                             title="Contacts per day (scenario)")],
    )
    line = alt.Chart(baseline).mark_line(interpolate="step-after",
                                         color=SERIES_COLORS["baseline"], strokeWidth=2).encode(
        x=alt.X("wait_from_s:Q"), y="contacts_per_day:Q",
        tooltip=[*waited, alt.Tooltip("contacts_per_day:Q", format=".1f",
                                      title="Contacts per day (baseline, all channels)")])
    return alt.layer(bars, line).properties(height=310, title=alt.Title(
        f"Answered contacts by wait, per simulated {day}",
        subtitle="Scenario stacked by channel; grey line: baseline total."))


def _mix_labels(grid: pl.DataFrame) -> pl.DataFrame:
    return grid.with_columns(
        operators=pl.format("× {}", pl.col("operator_factor").round(2)),
        extra_bot=pl.format("+{}%",
                            (pl.col("extra_bot_share") * 100).round(0).cast(pl.Int64)))


def _mix_tooltip(grid: pl.DataFrame, currency: str) -> list[alt.Tooltip]:
    """One mix of the sweep, as every sweep mark shows it."""
    tooltip = [alt.Tooltip("operators:N", title="Operators (× scheduled)"),
               alt.Tooltip("extra_bot:N", title="Extra bot share (of chats)"),
               alt.Tooltip("queue_service_level:Q", format=".1%",
                           title="Service level (of the queue)"),
               alt.Tooltip("asa_s:Q", format=".0f", title="Average speed of answer (s)"),
               alt.Tooltip("cost:Q", format=",.0f", title=f"Cost per day ({currency})")]
    if "predicted_nps" in grid.columns:
        tooltip.append(alt.Tooltip("predicted_nps:Q", format=".1f",
                                   title="Predicted NPS (model estimate)"))
    return [*tooltip, alt.Tooltip("on_frontier:N", title="On the cost frontier"),
            alt.Tooltip("is_baseline:N", title="The baseline")]


def _chosen(data: pl.DataFrame, best: dict) -> pl.DataFrame:
    return data.filter((pl.col("operator_factor") == best["operator_factor"])
                       & (pl.col("extra_bot_share") == best["extra_bot_share"])
                       ).with_columns(chosen=pl.lit("cheapest frontier mix reaching the target"))


CHOSEN_TIP = alt.Tooltip("chosen:N", title="Outlined")
BASELINE_MIX = "the baseline (operators × 1, no extra bot share)"


def sweep_heatmaps(grid: pl.DataFrame, best: dict | None, pool: str, day: str,
                   currency: str) -> dict[str, alt.LayerChart]:
    """Service level, ASA and cost over the grid, each in its palette scheme, by metric."""
    return {metric: sweep_heatmap(grid, metric, title, value_format, scheme, best, reverse,
                                  pool=pool, day=day, currency=currency)
            for metric, (title, value_format, scheme, reverse) in SWEEP_HEATMAPS.items()}


def sweep_heatmap(grid: pl.DataFrame, metric: str, title: str, value_format: str,
                  scheme: str, best: dict | None = None, reverse: bool = False, *,
                  pool: str, day: str, currency: str) -> alt.LayerChart:
    """Operator factor × extra bot share, coloured by one metric; the chosen mix outlined, the
    baseline cell dashed."""
    data = _mix_labels(grid)
    x_order = data.sort("extra_bot_share")["extra_bot"].unique(maintain_order=True).to_list()
    y_order = data.sort("operator_factor", descending=True)["operators"].unique(
        maintain_order=True).to_list()
    tooltip = _mix_tooltip(data, currency)
    base = alt.Chart(data).encode(
        x=alt.X("extra_bot:O", sort=x_order, title="Extra bot share (of chats)",
                axis=alt.Axis(labelAngle=0)),
        y=alt.Y("operators:O", sort=y_order, title="Operators (factor)"))
    cells = base.mark_rect().encode(  # every cell carries its value: no legend needed
        color=alt.Color(f"{metric}:Q", title=title,
                        scale=alt.Scale(scheme=scheme, reverse=reverse), legend=None),
        tooltip=tooltip)
    text = base.mark_text(fontSize=10).encode(
        text=alt.Text(f"{metric}:Q", format=value_format),
        color=alt.value(TEXT_COLOR), tooltip=tooltip)
    layers = [cells, text]
    baseline = data.filter(pl.col("is_baseline")).with_columns(marked=pl.lit(BASELINE_MIX))
    layers.append(alt.Chart(baseline).mark_rect(
        fill=None, stroke=TEXT_COLOR, strokeWidth=2, strokeDash=[4, 3]).encode(
        x=alt.X("extra_bot:O", sort=x_order), y=alt.Y("operators:O", sort=y_order),
        tooltip=[alt.Tooltip("marked:N", title="Dashed"), *tooltip]))
    if best is not None:
        layers.append(alt.Chart(_chosen(data, best)).mark_rect(
            fill=None, stroke=HIGHLIGHT_COLOR, strokeWidth=3).encode(
            x=alt.X("extra_bot:O", sort=x_order), y=alt.Y("operators:O", sort=y_order),
            tooltip=[CHOSEN_TIP, *tooltip]))
    unit = f" ({currency})" if metric == "cost" else ""
    return alt.layer(*layers).properties(height=370, title=alt.Title(
        f"{title}{unit}", subtitle=f"Per mix, {pool} pool, {day} (sweep). Dashed: the "
                                   "baseline."))


def cost_frontier(grid: pl.DataFrame, target: float, currency: str, best: dict | None,
                  pool: str, day: str) -> alt.LayerChart:
    """Cost against service level for every mix; the frontier (mixes nobody beats on both)
    is joined and coloured, the chosen mix ringed, the target drawn."""
    data = _mix_labels(grid).with_columns(
        mark=pl.when(pl.col("on_frontier")).then(pl.lit("frontier")).otherwise(
            pl.lit("dominated")))
    tooltip = _mix_tooltip(data, currency)
    x = alt.X("cost:Q", title=f"Cost per day ({currency})", scale=alt.Scale(zero=False))
    y = alt.Y("queue_service_level:Q", title="Service level (of the queue)",
              axis=alt.Axis(format="%"))
    points = alt.Chart(data).mark_circle(size=70, opacity=0.9).encode(
        x=x, y=y, color=alt.Color("mark:N", title=None, scale=color_scale(
            {"frontier": FRONTIER_COLOR, "dominated": DOMINATED_COLOR})), tooltip=tooltip)
    frontier = alt.Chart(data.filter(pl.col("on_frontier")).sort("cost")).mark_line(
        color=FRONTIER_COLOR).encode(x=x, y=y, order="cost:Q", tooltip=tooltip)
    rule = _target_rule(pl.DataFrame({"sl_target": [target], "pool": [pool]}))
    layers = [frontier, points, rule]
    if best is not None:
        layers.append(alt.Chart(_chosen(data, best)).mark_point(
            size=320, shape="circle", filled=False, color=HIGHLIGHT_COLOR, strokeWidth=2.5
        ).encode(x=x, y=y, tooltip=[CHOSEN_TIP, *tooltip]))
    return alt.layer(*layers).properties(height=370, title=alt.Title(
        f"Cost per day against service level per mix, {pool} pool, {day}",
        subtitle="Orange: the cost frontier; ringed: the cheapest frontier mix reaching the "
                 f"target. {TARGET_NOTE}."))


def nps_estimates(frame: pl.DataFrame, day: str) -> alt.LayerChart:
    """Predicted NPS per series with its 95% interval (a model estimate, not a measurement)."""
    tooltip = [SERIES_TIP, alt.Tooltip("nps:Q", format=".1f", title="Predicted NPS"),
               alt.Tooltip("low:Q", format=".1f", title="95% interval low"),
               alt.Tooltip("high:Q", format=".1f", title="95% interval high")]
    color = alt.Color("series:N", scale=color_scale(SERIES_COLORS), legend=None)
    base = alt.Chart(frame).encode(y=alt.Y("series:N", title=None, sort=["baseline",
                                                                         "scenario"]))
    bars = base.mark_rule(strokeWidth=3).encode(
        x=alt.X("low:Q", title="Predicted NPS (95% interval)", scale=alt.Scale(zero=False),
                axis=alt.Axis(tickCount=6)),
        x2="high:Q", color=color, tooltip=tooltip)
    dots = base.mark_point(filled=True, size=90).encode(x="nps:Q", color=color,
                                                        tooltip=tooltip)
    return alt.layer(bars, dots).properties(height=200, title=alt.Title(
        f"Predicted NPS of a simulated {day}: scenario vs baseline",
        subtitle="A model estimate with its 95% interval, not a measurement."))
