"""Chart builders for the Channels and Agent-performance pages: frame in, Altair chart out.

Every mark carries a tooltip, shares use a percent axis, and colours come from the palette.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from ui.palette import (
    CHANNEL_COLORS,
    ONLINE_COLORS,
    RATING_COLORS,
    SERVED_BY_COLORS,
    TARGET_COLOR,
    color_scale,
)

# Single-series marks take the online blue, which is also the theme's primary colour.
PRIMARY_COLOR = ONLINE_COLORS["online"]
_PERIOD = alt.X("period:T", title=None)
_PERIOD_TIP = alt.Tooltip("period:T", title="Period")


def _percent_axis(title: str) -> dict:
    """Keyword arguments of an alt.Y for a share on a fixed 0..100% axis."""
    return {"title": title, "axis": alt.Axis(format="%"), "scale": alt.Scale(domain=[0, 1])}


def _channel_color(frame: pl.DataFrame) -> alt.Color:
    """Channel colours from the palette; the legend lists only the channels in `frame`."""
    present = set(frame["channel"].to_list())
    return alt.Color("channel:N", title="Channel", scale=color_scale(
        {code: color for code, color in CHANNEL_COLORS.items() if code in present}))


def _with_period_end(frame: pl.DataFrame) -> pl.DataFrame:
    """Add period_end (the next period's start) so bars span their day, week or month.

    The granularity is read from the smallest gap between periods; a single period or gaps of
    28 days and more are months.
    """
    gaps = frame["period"].unique().sort().diff().drop_nulls().dt.total_days()
    step = int(gaps.min()) if gaps.len() else 28
    offset = "1mo" if step >= 28 else f"{step}d"
    return frame.with_columns(period_end=pl.col("period").dt.offset_by(offset))


def _stacked(frame: pl.DataFrame, value: str, key: str, order: list[str]) -> pl.DataFrame:
    """Add low/high: `value` stacked per period in `order` of `key`.

    Bars that span their period (x to x2) cannot use Vega-Lite's stack, so they stack here.
    """
    rank = {item: index for index, item in enumerate(order)}
    return (
        frame.with_columns(order=pl.col(key).replace_strict(rank, default=len(rank)))
        .sort("period", "order")
        .with_columns(high=pl.col(value).fill_null(0).cum_sum().over("period"))
        .with_columns(low=pl.col("high") - pl.col(value).fill_null(0))
    )


def _target_rule(target: float, title: str) -> alt.Chart:
    return alt.Chart(pl.DataFrame({"target": [target]})).mark_rule(
        color=TARGET_COLOR, strokeDash=[6, 4]).encode(
        y="target:Q", tooltip=[alt.Tooltip("target:Q", format=".0%", title=title)])


def online_share_trend(frame: pl.DataFrame, title: str) -> alt.Chart:
    """Online share per period, from `queries.contacts_by_period` (one row per period used)."""
    data = frame.select("period", "online_share", "period_contacts").unique("period").sort(
        "period")
    return alt.Chart(data).mark_line(point=True, color=PRIMARY_COLOR).encode(
        x=_PERIOD,
        y=alt.Y("online_share:Q", **_percent_axis("Online share")),
        tooltip=[_PERIOD_TIP, alt.Tooltip("online_share:Q", format=".1%", title="Online share"),
                 alt.Tooltip("period_contacts:Q", format=",", title="All contacts")],
    ).properties(title=title, height=260)


def channel_volume(frame: pl.DataFrame, title: str) -> alt.Chart:
    """Contacts per period, one line per channel, from `operations.channel_volume`."""
    return alt.Chart(frame.select("period", "channel", "contacts", "share")).mark_line(
        point=True).encode(
        x=_PERIOD,
        y=alt.Y("contacts:Q", title="Contacts"),
        color=_channel_color(frame),
        tooltip=[_PERIOD_TIP, alt.Tooltip("channel:N", title="Channel"),
                 alt.Tooltip("contacts:Q", format=",", title="Contacts"),
                 alt.Tooltip("share:Q", format=".1%", title="Share of period")],
    ).properties(title=title, height=260)


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

    From `operations.wait_by_channel`; waits are shown in minutes, longest p90 on top.
    """
    data = frame.select("channel", "contacts", *[
        (pl.col(f"{key}_wait_s") / 60).alias(f"{key}_wait_min") for key in _WAIT_STATISTICS])
    long = data.unpivot(index=["channel", "contacts"], variable_name="column",
                        value_name="wait_min").with_columns(
        statistic=pl.col("column").replace_strict(
            {f"{key}_wait_min": label for key, label in _WAIT_STATISTICS.items()}))
    y = alt.Y("channel:N", title=None,
              sort=data.sort("p90_wait_min", descending=True, nulls_last=True)["channel"]
              .to_list())
    color = _channel_color(frame).legend(None)
    spread = alt.Chart(data).mark_bar(height=10, opacity=0.45).encode(
        y=y, x=alt.X("median_wait_min:Q", title="Wait of operator-served contacts, min"),
        x2="p90_wait_min:Q", color=color,
        tooltip=[alt.Tooltip("channel:N", title="Channel"),
                 alt.Tooltip("contacts:Q", format=",", title="Operator-served"),
                 *[alt.Tooltip(f"{key}_wait_min:Q", format=".1f", title=f"{label}, min")
                   for key, label in _WAIT_STATISTICS.items()]],
    )
    points = alt.Chart(long).mark_point(filled=True, size=80).encode(
        y=y, x="wait_min:Q", color=color,
        shape=alt.Shape("statistic:N", title=None, sort=list(_WAIT_STATISTICS.values())),
        tooltip=[alt.Tooltip("channel:N", title="Channel"),
                 alt.Tooltip("statistic:N", title="Statistic"),
                 alt.Tooltip("wait_min:Q", format=".1f", title="Wait, min")],
    )
    return alt.layer(spread, points).properties(title=title, height=280)


def served_by_share(frame: pl.DataFrame, title: str) -> alt.Chart:
    """Operator / bot / self-service share of each period, stacked to 100%.

    From `operations.served_by_share`.
    """
    data = _stacked(_with_period_end(frame.select("period", "served_by", "contacts", "share")),
                    "share", "served_by", list(SERVED_BY_COLORS))
    return alt.Chart(data).mark_rect().encode(
        x=_PERIOD, x2="period_end:T",
        y=alt.Y("low:Q", **_percent_axis("Share of contacts")), y2="high:Q",
        color=alt.Color("served_by:N", scale=color_scale(SERVED_BY_COLORS), title="Served by"),
        tooltip=[_PERIOD_TIP, alt.Tooltip("served_by:N", title="Served by"),
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
                          title: str = "Front-line operators rated") -> alt.LayerChart:
    """Monthly share of active front-line operators rated, against the target (dashed).

    From `queries.front_line_coverage`. Months the range cuts are drawn as hollow diamonds:
    their share covers only the days inside the range.
    """
    data = frame.select("period", "active_operators", "rated_operators", "rated_share",
                        "partial_month").with_columns(
        month=pl.when(pl.col("partial_month")).then(pl.lit("Partial month"))
        .otherwise(pl.lit("Whole month")))
    y = alt.Y("rated_share:Q", **_percent_axis("Operators rated"))
    tooltip = [alt.Tooltip("period:T", title="Month", format="%b %Y"),
               alt.Tooltip("rated_share:Q", format=".1%", title="Rated"),
               alt.Tooltip("rated_operators:Q", title="Operators rated"),
               alt.Tooltip("active_operators:Q", title="Operators active"),
               alt.Tooltip("month:N", title="Month in range")]
    line = alt.Chart(data).mark_line(color=PRIMARY_COLOR).encode(
        x=_PERIOD, y=y, tooltip=tooltip)
    points = alt.Chart(data).mark_point(size=70, filled=True, color=PRIMARY_COLOR,
                                        stroke=PRIMARY_COLOR, strokeWidth=1.5).encode(
        x=_PERIOD, y=y, tooltip=tooltip,
        shape=alt.Shape("month:N", title=None, scale=alt.Scale(
            domain=["Whole month", "Partial month"], range=["circle", "diamond"])),
        fillOpacity=alt.FillOpacity("month:N", legend=None, scale=alt.Scale(
            domain=["Whole month", "Partial month"], range=[1, 0])))
    return alt.layer(line, points, _target_rule(target, "Target")).properties(
        title=title, height=260)


def operator_trend(frame: pl.DataFrame, title: str) -> alt.LayerChart:
    """One operator by month: ratings stacked by score (bars) and the mean score (line, 1..5).

    From `operations.operator_trend`.
    """
    scores = list(RATING_COLORS)
    counts = frame.select("period", *[f"score_{score}" for score in scores]).unpivot(
        index="period", variable_name="column", value_name="ratings").with_columns(
        score=pl.col("column").str.strip_prefix("score_"),
        period_end=pl.col("period").dt.offset_by("1mo"))
    bars = alt.Chart(_stacked(counts, "ratings", "score", scores)).mark_rect(
        opacity=0.6).encode(
        x=_PERIOD, x2="period_end:T",
        y=alt.Y("low:Q", title="Ratings"), y2="high:Q",
        color=alt.Color("score:N", scale=color_scale(RATING_COLORS), title="Score"),
        tooltip=[alt.Tooltip("period:T", title="Month", format="%b %Y"),
                 alt.Tooltip("score:N", title="Score"),
                 alt.Tooltip("ratings:Q", title="Ratings")],
    )
    middle = frame.select("period", "ratings", "mean_score").with_columns(
        middle=pl.col("period").dt.offset_by("14d"))  # the point sits over its month's bar
    line = alt.Chart(middle).mark_line(point=True, color=PRIMARY_COLOR).encode(
        x="middle:T",
        y=alt.Y("mean_score:Q", title="Mean score", scale=alt.Scale(domain=[1, 5]),
                axis=alt.Axis(orient="right", tickCount=5)),
        tooltip=[alt.Tooltip("period:T", title="Month", format="%b %Y"),
                 alt.Tooltip("mean_score:Q", format=".2f", title="Mean score"),
                 alt.Tooltip("ratings:Q", title="Ratings")],
    )
    return alt.layer(bars, line).resolve_scale(y="independent").properties(
        title=title, height=260)
