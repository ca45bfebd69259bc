"""Chart builders for the "NPS" and "Complaints & appeals" pages: frame in, Altair chart out.

Inputs are the frames of `data_access.queries` and `data_access.customer`; every mark carries a
tooltip, shares use percent axes, colours come from `ui.palette`. They never call streamlit.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from data_access.rollups import WAIT_BUCKETS
from data_access.schema import CASE_STAGES
from ui.charts import (
    Span,
    named_scale,
    partial_opacity,
    period_tips,
    period_x,
    span_of,
    trend_points,
    with_periods,
)
from ui.palette import (
    CASE_KIND_COLORS,
    CHANNEL_COLORS,
    NEUTRAL_COLOR,
    NPS_CLASS_COLORS,
    SERVED_BY_COLORS,
    STAGE_COLORS,
    TARGET_COLOR,
    TEXT_COLOR,
)
from ui.view_state import (
    CODE_COLUMNS,
    KIND_NAMES,
    SCORE_CLASS_NAMES,
    STAGE_NAMES,
    named,
)

HEIGHT = 280
PERCENT = "%"
DASH = [6, 4]
# A split with its own palette keeps it; any other (20 regions, service types) gets a
# categorical scheme with enough distinct colours.
SPLIT_COLORS: dict[str, dict[str, str]] = {"channel": CHANNEL_COLORS,
                                           "served_by": SERVED_BY_COLORS}
SPLIT_SCHEME = "tableau20"
SPLIT_TITLES = {column: CODE_COLUMNS[column][0]
                for column in ("channel", "region", "service_type", "served_by")}
# Solid for what was received, dashed for a year earlier; solid median, dashed p90.
YOY_SERIES = {"received": "received", "received_year_before": "a year earlier"}
RESOLUTION_SERIES = {"median_resolution_h": "median", "p90_resolution_h": "p90"}
_SOLID_DASHED = [[1, 0], DASH]
WAIT_RANGE = "{low}–{high}"
WAIT_OPEN = "{low} or more"
WAIT_BUCKET_AXIS = "Wait before an operator answered (s)"


def _kind_color() -> alt.Color:
    return alt.Color("kind:N", scale=named_scale(CASE_KIND_COLORS, KIND_NAMES), title="Kind")


def _percent_tooltip(field: str, title: str) -> alt.Tooltip:
    return alt.Tooltip(f"{field}:Q", format=".1%", title=title)


def _dashes(labels: dict[str, str], title: str | None) -> alt.StrokeDash:
    return alt.StrokeDash("series:N", title=title, scale=alt.Scale(
        domain=list(labels.values()), range=_SOLID_DASHED),
        legend=alt.Legend(symbolType="stroke", symbolStrokeColor=TEXT_COLOR))


def _long(frame: pl.DataFrame, labels: dict[str, str], value: str) -> pl.DataFrame:
    """Stack the `labels` columns into series (renamed) / `value`, keeping the other columns."""
    index = [name for name in frame.columns if name not in labels]
    return frame.unpivot(on=list(labels), index=index, variable_name="series",
                         value_name=value).with_columns(pl.col("series").replace_strict(labels))


# --- NPS -------------------------------------------------------------------------------------

def nps_split_trend(frame: pl.DataFrame, by: str, target: float | None, title: str,
                    span: Span | None = None) -> alt.LayerChart:
    """NPS per period, one line per value of `by` (`queries.nps_by_period(..., by=by)`)."""
    span = span or span_of(frame)
    if by not in frame.columns:
        raise ValueError(f"frame has no {by!r} column; build it with nps_by_period(by={by!r})")
    colors = SPLIT_COLORS.get(by)
    present = set(frame[by].drop_nulls().to_list())
    names = CODE_COLUMNS[by][1] if by in CODE_COLUMNS else {}
    scale = (named_scale(colors, names, present) if colors else alt.Scale(scheme=SPLIT_SCHEME))
    label = SPLIT_TITLES.get(by, by)
    data = with_periods(named(frame.select("period", by, "nps", "nps_moe", "responses")), span)
    tooltip = [*period_tips(), alt.Tooltip(f"{by}:N", title=label),
               alt.Tooltip("nps:Q", format=".1f", title="NPS"),
               alt.Tooltip("nps_moe:Q", format=".1f", title="± margin"),
               alt.Tooltip("responses:Q", format=",", title="Responses")]
    base = alt.Chart(data).encode(
        x=period_x(span), y=alt.Y("nps:Q", title="NPS"),
        color=alt.Color(f"{by}:N", scale=scale, title=label), tooltip=tooltip)
    layers: list[alt.Chart] = [base.mark_line(), trend_points(base)]
    if target is not None:
        layers.append(alt.Chart(pl.DataFrame({"target": [float(target)]})).mark_rule(
            color=TARGET_COLOR, strokeDash=DASH).encode(
            y="target:Q", tooltip=[alt.Tooltip("target:Q", format=".0f", title="Target NPS")]))
    return alt.layer(*layers).properties(title=title, height=HEIGHT)


def nps_class_long(frame: pl.DataFrame) -> pl.DataFrame:
    """Promoter/passive/detractor counts per period, one row per class, with its share.

    Columns: period, score_class, respondents, share, class_order. Rows of a split (by=...)
    are summed per period first.
    """
    classes = list(NPS_CLASS_COLORS)
    order = pl.DataFrame({"score_class": classes, "class_order": list(range(len(classes)))})
    return (
        frame.group_by("period").agg(pl.col(classes).sum())
        .unpivot(on=classes, index="period", variable_name="score_class",
                 value_name="respondents")
        .with_columns(share=pl.col("respondents") / pl.col("respondents").sum().over("period"))
        .join(order, on="score_class", how="left")
        .sort("period", "class_order")
    )


def nps_class_shares(frame: pl.DataFrame, title: str,
        span: Span | None = None) -> alt.Chart:
    """Each period's answers as 100% bars of promoters, passives and detractors."""
    span = span or span_of(frame)
    data = with_periods(named(nps_class_long(frame)), span)
    return alt.Chart(data).mark_bar().encode(
        x=period_x(span),
        y=alt.Y("respondents:Q", stack="normalize", title="Share of answers",
                axis=alt.Axis(format=PERCENT)),
        color=alt.Color("score_class:N", scale=named_scale(NPS_CLASS_COLORS, SCORE_CLASS_NAMES),
                        title=None),
        opacity=partial_opacity(),
        order=alt.Order("class_order:Q"),
        tooltip=[*period_tips(), alt.Tooltip("score_class:N", title="Class"),
                 alt.Tooltip("respondents:Q", format=",", title="Answers"),
                 _percent_tooltip("share", "Share")],
    ).properties(title=title, height=HEIGHT)


def detractor_pareto(frame: pl.DataFrame, title: str) -> alt.LayerChart:
    """Detractors per reason, largest first, with the cumulative share (`detractor_reasons`)."""
    data = named(frame.sort(["detractors", "reason"], descending=[True, False]))
    base = alt.Chart(data).encode(
        x=alt.X("reason:N", sort=data["reason"].to_list(), title=None,
                axis=alt.Axis(labelAngle=-30)))
    tooltip = [alt.Tooltip("reason:N", title="Reason"),
               alt.Tooltip("detractors:Q", format=",", title="Detractors"),
               _percent_tooltip("share", "Share"),
               _percent_tooltip("cumulative_share", "Cumulative share")]
    bars = base.mark_bar(color=NPS_CLASS_COLORS["detractors"]).encode(
        y=alt.Y("detractors:Q", title="Detractors"), tooltip=tooltip)
    line = base.mark_line(point=True, color=TEXT_COLOR).encode(
        y=alt.Y("cumulative_share:Q", title="Cumulative share", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format=PERCENT, orient="right")),
        tooltip=tooltip)
    return alt.layer(bars, line).resolve_scale(y="independent").properties(
        title=title, height=HEIGHT)


def wait_bucket_names() -> dict[str, str]:
    """The rollup's wait buckets ("1-2 min") in seconds, the app's one unit for waits."""
    return {label: (WAIT_RANGE.format(low=f"{low:,}", high=f"{high:,}") if high is not None
                    else WAIT_OPEN.format(low=f"{low:,}"))
            for label, low, high in WAIT_BUCKETS}


def nps_by_wait(frame: pl.DataFrame, title: str) -> alt.LayerChart:
    """NPS per wait bucket (`nps_by_wait_bucket`, shortest wait first) with 95% error bars."""
    data = frame.select(pl.col("wait_bucket").replace(wait_bucket_names()), "nps", "nps_moe",
                        "responses")
    base = alt.Chart(data).transform_calculate(
        low="datum.nps - datum.nps_moe", high="datum.nps + datum.nps_moe",
    ).encode(x=alt.X("wait_bucket:N", sort=data["wait_bucket"].to_list(),
                     title=WAIT_BUCKET_AXIS, axis=alt.Axis(labelAngle=-30)))
    tooltip = [alt.Tooltip("wait_bucket:N", title="Wait (s)"),
               alt.Tooltip("nps:Q", format=".1f", title="NPS"),
               alt.Tooltip("nps_moe:Q", format=".1f", title="± margin"),
               alt.Tooltip("responses:Q", format=",", title="Responses")]
    bars = base.mark_errorbar(ticks=True, color=NEUTRAL_COLOR).encode(
        y=alt.Y("low:Q", title="NPS"), y2="high:Q", tooltip=tooltip)
    points = base.mark_point(filled=True, size=70, color=TEXT_COLOR).encode(
        y="nps:Q", tooltip=tooltip)
    return alt.layer(bars, points).properties(title=title, height=HEIGHT)


def answer_rate_trend(frame: pl.DataFrame, title: str,
        span: Span | None = None) -> alt.LayerChart:
    """Share of surveys answered per period (`nps_by_period` without a split)."""
    span = span or span_of(frame)
    data = with_periods(frame.select("period", "answer_rate", "responses", "surveys_sent"), span)
    base = alt.Chart(data).encode(
        x=period_x(span),
        y=alt.Y("answer_rate:Q", title="Answer rate", axis=alt.Axis(format=PERCENT),
                scale=alt.Scale(zero=True)),
        tooltip=[*period_tips(), _percent_tooltip("answer_rate", "Answer rate"),
                 alt.Tooltip("responses:Q", format=",", title="Answers"),
                 alt.Tooltip("surveys_sent:Q", format=",", title="Surveys sent")])
    return alt.layer(base.mark_line(color=TEXT_COLOR), trend_points(base, color=TEXT_COLOR)
                     ).properties(title=title, height=HEIGHT)


# --- Cases -----------------------------------------------------------------------------------

def case_counts_yoy(frame: pl.DataFrame, title: str,
        span: Span | None = None) -> alt.LayerChart:
    """Cases received per period and kind (solid) against a year earlier (dashed).

    Input: `customer.case_trend_with_yoy`.
    """
    span = span or span_of(frame)
    data = _long(frame.select("period", "kind", *YOY_SERIES, "yoy_change"), YOY_SERIES, "cases")
    return _solid_and_dashed(
        with_periods(named(data), span), span, alt.Y("cases:Q", title="Cases received"),
        YOY_SERIES, None,
        [alt.Tooltip("series:N", title="Series"),
         alt.Tooltip("cases:Q", format=",", title="Cases"),
         alt.Tooltip("yoy_change:Q", format="+.1%", title="Change on a year earlier")],
    ).properties(title=title, height=HEIGHT)


def _solid_and_dashed(data: pl.DataFrame, span: Span, y: alt.Y, series: dict[str, str],
                      series_title: str | None, tooltip: list[alt.Tooltip]) -> alt.LayerChart:
    """Lines per kind and series (solid / dashed) with points on top for exact tooltips.

    The points sit in their own layer: on a line with point=True the dash legend would draw
    filled dots, hiding which series is dashed.
    """
    tooltip = [*period_tips(), alt.Tooltip("kind:N", title="Kind"), *tooltip]
    base = alt.Chart(data).encode(x=period_x(span), y=y, color=_kind_color(), tooltip=tooltip)
    lines = base.mark_line().encode(strokeDash=_dashes(series, series_title))
    points = trend_points(base).encode(detail="series:N")
    return alt.layer(lines, points)


def case_breakdown(frame: pl.DataFrame, by: str, title: str) -> alt.Chart:
    """Cases received per category, channel or region, largest first, coloured by kind.

    Input: `customer.case_breakdown(..., by=by)`.
    """
    if by not in frame.columns:
        raise ValueError(f"frame has no {by!r} column; build it with case_breakdown(by={by!r})")
    data = named(frame.select("kind", by, "received", "share_of_kind"))
    title_of_by = CODE_COLUMNS[by][0] if by in CODE_COLUMNS else by.title()
    return alt.Chart(data).mark_bar().encode(
        y=alt.Y(f"{by}:N", sort="-x", title=None, axis=alt.Axis(labelLimit=260)),
        x=alt.X("received:Q", stack="zero", title="Cases received"),
        color=_kind_color(),
        tooltip=[alt.Tooltip("kind:N", title="Kind"), alt.Tooltip(f"{by}:N", title=title_of_by),
                 alt.Tooltip("received:Q", format=",", title="Received"),
                 _percent_tooltip("share_of_kind", "Share of its kind")],
    ).properties(title=title, height=alt.Step(20))


def resolution_trend(frame: pl.DataFrame, title: str,
        span: Span | None = None) -> alt.LayerChart:
    """Median (solid) and p90 (dashed) hours to answer per period and kind.

    Input: `queries.cases_by_period(..., by=None)`.
    """
    span = span or span_of(frame)
    data = _long(frame.select("period", "kind", *RESOLUTION_SERIES, "answered"),
                 RESOLUTION_SERIES, "hours")
    return _solid_and_dashed(
        with_periods(named(data), span), span,
        alt.Y("hours:Q", title="Hours from received to answered"), RESOLUTION_SERIES,
        "Statistic",
        [alt.Tooltip("series:N", title="Statistic"),
         alt.Tooltip("hours:Q", format=".1f", title="Hours"),
         alt.Tooltip("answered:Q", format=",", title="Answered cases")],
    ).properties(title=title, height=HEIGHT)


def backlog_trend(frame: pl.DataFrame, title: str,
        span: Span | None = None) -> alt.LayerChart:
    """Cases still open at each period's end, per kind (`cases_by_period(..., by=None)`)."""
    span = span or span_of(frame)
    data = with_periods(named(frame.select("period", "kind", "open_backlog", "received",
                                           "closed")), span)
    base = alt.Chart(data).encode(
        x=period_x(span),
        y=alt.Y("open_backlog:Q", title="Open at period end"),
        color=_kind_color(),
        tooltip=[*period_tips(), alt.Tooltip("kind:N", title="Kind"),
                 alt.Tooltip("open_backlog:Q", format=",", title="Open at end"),
                 alt.Tooltip("received:Q", format=",", title="Received"),
                 alt.Tooltip("closed:Q", format=",", title="Closed")])
    return alt.layer(base.mark_line(), trend_points(base)).properties(title=title,
                                                                      height=HEIGHT)


def stage_funnel(frame: pl.DataFrame, title: str) -> alt.LayerChart:
    """Appeals that reached each stage, in the case flow's order, labelled with their share.

    Input: `customer.e_otinish_funnel`.
    """
    base = alt.Chart(named(frame.select("stage", "cases", "share"))).encode(
        y=alt.Y("stage:N", sort=[STAGE_NAMES[stage] for stage in CASE_STAGES], title=None))
    tooltip = [alt.Tooltip("stage:N", title="Stage"),
               alt.Tooltip("cases:Q", format=",", title="Appeals"),
               _percent_tooltip("share", "Share of received")]
    bars = base.mark_bar().encode(
        x=alt.X("cases:Q", title="Appeals"),
        color=alt.Color("stage:N", scale=named_scale(STAGE_COLORS, STAGE_NAMES), legend=None),
        tooltip=tooltip)
    labels = base.mark_text(align="left", dx=4, color=TEXT_COLOR).encode(
        x="cases:Q", text=alt.Text("share:Q", format=".0%"), tooltip=tooltip)
    return alt.layer(bars, labels).properties(title=title, height=alt.Step(28))
