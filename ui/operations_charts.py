"""Chart builders for the Channels and Agent-performance pages: frame in, Altair chart out.

Every mark carries a tooltip, shares use a percent axis, and colours come from the palette.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from ui.charts import (
    Span,
    monthly,
    named_scale,
    partial_opacity,
    period_tips,
    period_x,
    span_of,
    trend_points,
    with_periods,
)
from ui.palette import (
    CHANNEL_COLORS,
    ONLINE_COLORS,
    POOL_COLORS,
    RATING_COLORS,
    SERVED_BY_COLORS,
    TARGET_COLOR,
    color_scale,
)
from ui.view_state import CHANNEL_NAMES, SERVED_BY_NAMES, named

# Single-series marks take the online blue, which is also the theme's primary colour.
PRIMARY_COLOR = ONLINE_COLORS["online"]
# Waits are in seconds everywhere in the app: tiles, axes, tooltips and CSV headers.
WAIT_AXIS = "Wait of operator-served contacts (s)"
WAIT_TIP = "{statistic} wait (s)"


def _percent_axis(title: str) -> dict:
    """Keyword arguments of an alt.Y for a share on a fixed 0..100% axis."""
    return {"title": title, "axis": alt.Axis(format="%"), "scale": alt.Scale(domain=[0, 1])}


def _channel_color(frame: pl.DataFrame) -> alt.Color:
    """Channel colours from the palette by name; the legend lists only the channels in
    `frame` (its channel column still holds codes)."""
    present = set(frame["channel"].to_list())
    return alt.Color("channel:N", title="Channel",
                     scale=named_scale(CHANNEL_COLORS, CHANNEL_NAMES, present))


def _order(key: str, order: list[str]) -> pl.Expr:
    rank = {item: index for index, item in enumerate(order)}
    return pl.col(key).replace_strict(rank, default=len(rank)).alias("order")


def _target_rule(target: float, title: str) -> alt.Chart:
    return alt.Chart(pl.DataFrame({"target": [target]})).mark_rule(
        color=TARGET_COLOR, strokeDash=[6, 4]).encode(
        y="target:Q", tooltip=[alt.Tooltip("target:Q", format=".0%", title=title)])


def online_share_trend(frame: pl.DataFrame, title: str,
        span: Span | None = None) -> alt.LayerChart:
    """Online share per period, from `queries.contacts_by_period` (one row per period used)."""
    span = span or span_of(frame)
    data = with_periods(frame.select("period", "online_share", "period_contacts").unique(
        "period").sort("period"), span)
    base = alt.Chart(data).encode(
        x=period_x(span),
        y=alt.Y("online_share:Q", **_percent_axis("Online share")),
        tooltip=[*period_tips(),
                 alt.Tooltip("online_share:Q", format=".1%", title="Online share"),
                 alt.Tooltip("period_contacts:Q", format=",", title="All contacts")])
    return alt.layer(base.mark_line(color=PRIMARY_COLOR),
                     trend_points(base, color=PRIMARY_COLOR)).properties(title=title,
                                                                         height=260)


def channel_volume(frame: pl.DataFrame, title: str,
        span: Span | None = None) -> alt.LayerChart:
    """Contacts per period, one line per channel, from `operations.channel_volume`."""
    span = span or span_of(frame)
    data = with_periods(named(frame.select("period", "channel", "contacts", "share")), span)
    base = alt.Chart(data).encode(
        x=period_x(span),
        y=alt.Y("contacts:Q", title="Contacts"),
        color=_channel_color(frame),
        tooltip=[*period_tips(), alt.Tooltip("channel:N", title="Channel"),
                 alt.Tooltip("contacts:Q", format=",", title="Contacts"),
                 alt.Tooltip("share:Q", format=".1%", title="Share of period")])
    return alt.layer(base.mark_line(), trend_points(base)).properties(title=title, height=260)


def hour_weekday_heatmap(frame: pl.DataFrame, title: str) -> alt.Chart:
    """Weekday rows (Mon..Sun) × hour columns, darker = more contacts per day.

    From `operations.contacts_by_hour_weekday`. Intensity is the opacity of the primary
    colour, so the palette needs no sequential scheme; empty weekdays stay blank.
    """
    data = frame.select("weekday", "weekday_name", "hour", "contacts", "days", "mean_contacts")
    return alt.Chart(data).mark_rect(color=PRIMARY_COLOR).encode(
        x=alt.X("hour:O", title="Hour of day", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("weekday_name:O", title=None,
                sort=alt.EncodingSortField("weekday", op="min")),
        opacity=alt.Opacity("mean_contacts:Q", title="Contacts per day",
                            scale=alt.Scale(zero=True, range=[0.03, 1])),
        tooltip=[alt.Tooltip("weekday_name:N", title="Weekday"),
                 alt.Tooltip("hour:O", title="Hour"),
                 alt.Tooltip("mean_contacts:Q", format=",.1f", title="Contacts per day"),
                 alt.Tooltip("contacts:Q", format=",", title="Contacts in range"),
                 alt.Tooltip("days:Q", title="Days")],
    ).properties(title=title, height=300)


_WAIT_STATISTICS: dict[str, str] = {"median": "Median", "mean": "Mean",
                                    "p90": "90th percentile"}


def wait_by_channel(frame: pl.DataFrame, title: str) -> alt.LayerChart:
    """Per channel a bar from median to p90 wait, with the three statistics as points.

    From `operations.wait_by_channel`; waits in seconds (WAIT_AXIS), longest p90 on top.
    """
    data = named(frame.select("channel", "contacts", *[f"{key}_wait_s"
                                                       for key in _WAIT_STATISTICS]))
    long = data.unpivot(index=["channel", "contacts"], variable_name="column",
                        value_name="wait_s").with_columns(
        statistic=pl.col("column").replace_strict(
            {f"{key}_wait_s": label for key, label in _WAIT_STATISTICS.items()}))
    y = alt.Y("channel:N", title=None,
              sort=data.sort("p90_wait_s", descending=True, nulls_last=True)["channel"]
              .to_list())
    color = _channel_color(frame).legend(None)
    spread = alt.Chart(data).mark_bar(height=10, opacity=0.45).encode(
        y=y, x=alt.X("median_wait_s:Q", title=WAIT_AXIS),
        x2="p90_wait_s:Q", color=color,
        tooltip=[alt.Tooltip("channel:N", title="Channel"),
                 alt.Tooltip("contacts:Q", format=",", title="Operator-served"),
                 *[alt.Tooltip(f"{key}_wait_s:Q", format=",.0f",
                               title=WAIT_TIP.format(statistic=label))
                   for key, label in _WAIT_STATISTICS.items()]],
    )
    points = alt.Chart(long).mark_point(filled=True, size=80).encode(
        y=y, x="wait_s:Q", color=color,
        shape=alt.Shape("statistic:N", title=None, sort=list(_WAIT_STATISTICS.values())),
        tooltip=[alt.Tooltip("channel:N", title="Channel"),
                 alt.Tooltip("statistic:N", title="Statistic"),
                 alt.Tooltip("wait_s:Q", format=",.0f", title="Wait (s)")],
    )
    return alt.layer(spread, points).properties(title=title, height=280)


def served_by_share(frame: pl.DataFrame, title: str,
        span: Span | None = None) -> alt.Chart:
    """Operator / bot / self-service share of each period, stacked to 100%.

    From `operations.served_by_share`.
    """
    span = span or span_of(frame)
    data = with_periods(named(frame.select(
        "period", "served_by", "contacts", "share", _order("served_by",
                                                           list(SERVED_BY_COLORS)))), span)
    return alt.Chart(data).mark_bar().encode(
        x=period_x(span),
        y=alt.Y("contacts:Q", stack="normalize", title="Share of contacts",
                axis=alt.Axis(format="%")),
        color=alt.Color("served_by:N", scale=named_scale(SERVED_BY_COLORS, SERVED_BY_NAMES),
                        title="Served by"),
        order=alt.Order("order:Q"),
        opacity=partial_opacity(),
        tooltip=[*period_tips(), alt.Tooltip("served_by:N", title="Served by"),
                 alt.Tooltip("contacts:Q", format=",", title="Contacts"),
                 alt.Tooltip("share:Q", format=".1%", title="Share")],
    ).properties(title=title, height=260)


def rating_distribution(frame: pl.DataFrame, title: str) -> alt.LayerChart:
    """Ratings per score 1..5 with each score's share written on its bar.

    From `operations.rating_distribution`.
    """
    data = frame.select(pl.col("score").cast(pl.String), "ratings", "share")
    tooltip = [alt.Tooltip("score:N", title="Score"),
               alt.Tooltip("ratings:Q", format=",", title="Ratings"),
               alt.Tooltip("share:Q", format=".1%", title="Share")]
    base = alt.Chart(data).encode(
        x=alt.X("score:O", title="Score", sort=list(RATING_COLORS),
                axis=alt.Axis(labelAngle=0)),
        y=alt.Y("ratings:Q", title="Ratings"), tooltip=tooltip)
    bars = base.mark_bar().encode(
        color=alt.Color("score:N", scale=color_scale(RATING_COLORS), legend=None))
    labels = base.mark_text(dy=-6, baseline="bottom").encode(
        text=alt.Text("share:Q", format=".0%"))
    return alt.layer(bars, labels).properties(title=title, height=240)


def rated_share_vs_target(frame: pl.DataFrame, target: float = 0.85,
                          title: str = "Front-line operators rated",
                          span: Span | None = None) -> alt.LayerChart:
    """Monthly share of active front-line operators rated, against the target (dashed).

    From `queries.front_line_coverage`. Months the range cuts are hollow points: their share
    covers only the days inside the range.
    """
    span = span or span_of(frame)
    months = monthly(span)
    data = with_periods(frame.select("period", "active_operators", "rated_operators",
                                     "rated_share"), months)
    tooltip = [*period_tips(),
               alt.Tooltip("rated_share:Q", format=".1%", title="Rated"),
               alt.Tooltip("rated_operators:Q", title="Operators rated"),
               alt.Tooltip("active_operators:Q", title="Operators active")]
    base = alt.Chart(data).encode(
        x=period_x(months), y=alt.Y("rated_share:Q", **_percent_axis("Operators rated")),
        tooltip=tooltip)
    return alt.layer(base.mark_line(color=PRIMARY_COLOR),
                     trend_points(base, color=PRIMARY_COLOR, size=70),
                     _target_rule(target, "Target")).properties(title=title, height=260)


def operator_trend(frame: pl.DataFrame, title: str,
        span: Span | None = None) -> alt.LayerChart:
    """One operator by month: ratings stacked by score (bars) and the mean score (line, 1..5).

    From `operations.operator_trend`. Only the range's months are drawn; a month the range
    cuts is pale (bars) and hollow (point).
    """
    span = span or span_of(frame)
    months = monthly(span)
    scores = list(RATING_COLORS)
    counts = with_periods(frame.select("period", *[f"score_{score}" for score in scores]).unpivot(
        index="period", variable_name="column", value_name="ratings").with_columns(
        score=pl.col("column").str.strip_prefix("score_")).with_columns(
        _order("score", scores)), months)
    bars = alt.Chart(counts).mark_bar().encode(
        x=period_x(months),
        y=alt.Y("ratings:Q", title="Ratings", stack="zero"),
        color=alt.Color("score:N", scale=color_scale(RATING_COLORS), title="Score"),
        order=alt.Order("order:Q"),
        opacity=partial_opacity(),
        tooltip=[*period_tips(), alt.Tooltip("score:N", title="Score"),
                 alt.Tooltip("ratings:Q", title="Ratings")],
    )
    means = with_periods(frame.select("period", "ratings", "mean_score"), months)
    base = alt.Chart(means).encode(
        x=period_x(months, band=0.5),
        y=alt.Y("mean_score:Q", title="Mean score", scale=alt.Scale(domain=[1, 5]),
                axis=alt.Axis(orient="right", tickCount=5)),
        tooltip=[*period_tips(),
                 alt.Tooltip("mean_score:Q", format=".2f", title="Mean score"),
                 alt.Tooltip("ratings:Q", title="Ratings")])
    line = alt.layer(base.mark_line(color=PRIMARY_COLOR),
                     trend_points(base, color=PRIMARY_COLOR))
    return alt.layer(bars, line).resolve_scale(y="independent").properties(
        title=title, height=260)


# --- The queue: abandonment, service level, occupancy ----------------------------------------

ABANDONMENT_AXIS = "Abandoned ÷ queued"
_EVERY_3H = list(range(0, 24, 3))
POOL_NAMES = {"digital": "Digital team (chats)", "office": "Service offices"}


def abandonment_by_hour(frame: pl.DataFrame, title: str, target: float) -> alt.LayerChart:
    """Abandonment rate per channel and hour of arrival, with the target as a dashed rule.

    From `queue.abandonment_by_channel_hour`; hours nobody queued are left out.
    """
    data = named(frame.filter(pl.col("queued") > 0))
    lines = alt.Chart(data).mark_line(point=True).encode(
        x=alt.X("hour:O", title="Hour of arrival (local time)", axis=alt.Axis(labelAngle=0,
                                                                              values=_EVERY_3H)),
        y=alt.Y("abandonment_rate:Q", title=ABANDONMENT_AXIS, axis=alt.Axis(format="%")),
        color=_channel_color(frame),
        tooltip=[alt.Tooltip("channel:N", title="Channel"), alt.Tooltip("hour:O", title="Hour"),
                 alt.Tooltip("queued:Q", format=",", title="Queued"),
                 alt.Tooltip("abandoned:Q", format=",", title="Abandoned"),
                 alt.Tooltip("abandonment_rate:Q", format=".1%", title="Abandonment rate")],
    )
    return alt.layer(lines, _target_rule(target, "Target")).properties(title=title,
                                                                         height=280)


def service_level_vs_target(frame: pl.DataFrame, title: str) -> alt.LayerChart:
    """Recorded service level per channel as a bar, its own target as a tick.

    From `queue.service_level_by_channel` (each channel has its X/Y target).
    """
    data = named(frame.filter(pl.col("queued") > 0)).with_columns(
        target_label=pl.format("{}% in {} s", (pl.col("sl_target") * 100).round(0)
                               .cast(pl.Int64), pl.col("sl_target_s")))
    y = alt.Y("channel:N", title=None, sort=data.sort("service_level")["channel"].to_list())
    tips = [alt.Tooltip("channel:N", title="Channel"),
            alt.Tooltip("service_level:Q", format=".1%", title="Service level"),
            alt.Tooltip("target_label:N", title="Target"),
            alt.Tooltip("queued:Q", format=",", title="Queued"),
            alt.Tooltip("asa_s:Q", format=",.0f", title="ASA (s)"),
            alt.Tooltip("abandonment_rate:Q", format=".1%", title="Abandonment rate")]
    bars = alt.Chart(data).mark_bar(height=14).encode(
        y=y, x=alt.X("service_level:Q", **_percent_axis("Answered within target ÷ queued")),
        color=_channel_color(frame).legend(None), tooltip=tips)
    ticks = alt.Chart(data).mark_tick(color=TARGET_COLOR, thickness=3, size=22).encode(
        y=y, x="sl_target:Q", tooltip=tips)
    return alt.layer(bars, ticks).properties(title=title, height=240)


def occupancy_by_hour(frame: pl.DataFrame, title: str) -> alt.Chart:
    """Occupancy (work ÷ staffed places) per pool and hour, from `queue.occupancy_by_pool_hour`.
    """
    data = frame.filter(pl.col("staffed_s") > 0).with_columns(
        pool_name=pl.col("pool").replace(POOL_NAMES))
    present = set(data["pool_name"].to_list())
    names = {name: POOL_COLORS.get(code) for code, name in POOL_NAMES.items()
             if name in present}
    return alt.Chart(data).mark_line(point=True).encode(
        x=alt.X("hour:O", title="Hour of the day (local time)",
                axis=alt.Axis(labelAngle=0, values=_EVERY_3H)),
        y=alt.Y("occupancy:Q", title="Work ÷ staffed time", axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, max(1.0, float(data["occupancy"].max() or 0))])),
        color=alt.Color("pool_name:N", title="Pool",
                        scale=alt.Scale(domain=list(names), range=list(names.values()))),
        tooltip=[alt.Tooltip("pool_name:N", title="Pool"), alt.Tooltip("hour:O", title="Hour"),
                 alt.Tooltip("occupancy:Q", format=".1%", title="Occupancy"),
                 alt.Tooltip("mean_agents:Q", format=",.1f", title="Agents on duty (mean)"),
                 alt.Tooltip("work_s:Q", format=",.0f", title="Work (s)")],
    ).properties(title=title, height=260)
