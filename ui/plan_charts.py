"""Altair charts of the Plan page: builders return charts and never call Streamlit."""

from __future__ import annotations

import altair as alt
import polars as pl

from ui.palette import POOL_COLORS, TARGET_COLOR, color_scale
from ui.plan_results import REQUIRED, ROSTERED

# Heights hold the title, legend and axes (Streamlit fits the whole chart in them).
HEIGHT = 290
CHROME_PX = 230  # the roster chart's title, legend and axis around its rows
ROW_PX = 18  # one person's row in the roster chart
MAX_ROWS = 400  # beyond this the chart is unreadable; the table has everyone
FORECAST_TITLE = "{pool}: contacts per hour"
FORECAST_SUBTITLE = ("Line: forecast; bands: 80% and 95% bounds of the quarter hours, "
                     "summed per hour")
STAFFING_TITLE = "{pool}: agents per quarter hour"
STAFFING_SUBTITLE = "Rostered: on duty and not on a break"
GANTT_TITLE = "Shifts per person"
GANTT_SUBTITLE = "Darker: the paid break"
DAYS_TITLE = "Simulated service level per day"
DAYS_SUBTITLE = "Point: mean; line: 95% CI; red dashes: the lowest target"
TIME_TITLE = "Day and hour"
CONTACTS_TITLE = "Contacts per hour"
AGENTS_TITLE = "Agents"
SL_TITLE = "Service level"
PERSON_TITLE = "Operator"
SERIES_COLORS = {REQUIRED: "#D64545", ROSTERED: "#3B5BDB"}
PART_OPACITY = {"shift": 0.55, "break": 1.0}


def _time_x() -> alt.X:
    return alt.X("time:T", title=TIME_TITLE, axis=alt.Axis(format="%a %d %b", labelAngle=0,
                                                           tickCount=7))


def forecast_chart(hourly: pl.DataFrame, pool: str) -> alt.LayerChart:
    """One pool's forecast per hour: 95% band, 80% band and the mean."""
    data = hourly.filter(pl.col("pool") == pool)
    color = POOL_COLORS.get(pool, "#888888")
    base = alt.Chart(data).encode(x=_time_x())
    tips = [alt.Tooltip("time:T", title="Hour", format="%a %d %b %H:%M"),
            alt.Tooltip("forecast:Q", title="Forecast", format=",.1f"),
            alt.Tooltip("lo80:Q", title="80% low", format=",.0f"),
            alt.Tooltip("hi80:Q", title="80% high", format=",.0f"),
            alt.Tooltip("lo95:Q", title="95% low", format=",.0f"),
            alt.Tooltip("hi95:Q", title="95% high", format=",.0f")]
    outer = base.mark_area(opacity=0.18, color=color).encode(
        y=alt.Y("lo95:Q", title=CONTACTS_TITLE), y2="hi95:Q")
    inner = base.mark_area(opacity=0.35, color=color).encode(y="lo80:Q", y2="hi80:Q")
    mean = base.mark_line(color=color, strokeWidth=1.5).encode(y="forecast:Q", tooltip=tips)
    return (outer + inner + mean).properties(
        title=alt.Title(FORECAST_TITLE.format(pool=pool.capitalize()),
                        subtitle=FORECAST_SUBTITLE), height=HEIGHT)


def staffing_chart(curve: pl.DataFrame, pool: str) -> alt.Chart:
    """One pool's staffing curve: required (red) and rostered (blue) agents, as steps."""
    data = curve.filter(pl.col("pool") == pool)
    return alt.Chart(data).mark_line(interpolate="step-after", strokeWidth=1.3).encode(
        x=_time_x(), y=alt.Y("agents:Q", title=AGENTS_TITLE),
        color=alt.Color("series:N", scale=color_scale(SERIES_COLORS), title=None,
                        legend=alt.Legend(orient="bottom")),
        tooltip=[alt.Tooltip("time:T", title="From", format="%a %d %b %H:%M"),
                 alt.Tooltip("series:N", title="Series"),
                 alt.Tooltip("agents:Q", title=AGENTS_TITLE)],
    ).properties(title=alt.Title(STAFFING_TITLE.format(pool=pool.capitalize()),
                                 subtitle=STAFFING_SUBTITLE), height=HEIGHT + 30)


def gantt_chart(bars: pl.DataFrame) -> alt.Chart:
    """Shifts as bars from start to end per person (y), the break drawn over its shift."""
    people = bars.get_column("person").unique(maintain_order=True).head(MAX_ROWS).to_list()
    data = bars.filter(pl.col("person").is_in(people))
    return alt.Chart(data).mark_bar(height=max(ROW_PX - 4, 4)).encode(
        x=alt.X("start:T", title=TIME_TITLE, axis=alt.Axis(format="%a %d %H:%M",
                                                           labelAngle=0, tickCount=7)),
        x2="end:T",
        y=alt.Y("person:N", title=PERSON_TITLE, sort=people,
                axis=alt.Axis(labelLimit=140, labelFontSize=10)),
        color=alt.Color("pool:N", scale=color_scale(POOL_COLORS), title="Pool",
                        legend=alt.Legend(orient="bottom")),
        opacity=alt.Opacity("part:N", scale=alt.Scale(domain=list(PART_OPACITY),
                                                      range=list(PART_OPACITY.values())),
                            legend=None),
        tooltip=[alt.Tooltip("person:N", title=PERSON_TITLE),
                 alt.Tooltip("part:N", title="Part"),
                 alt.Tooltip("start:T", title="From", format="%a %d %b %H:%M"),
                 alt.Tooltip("end:T", title="To", format="%a %d %b %H:%M")],
    ).properties(title=alt.Title(GANTT_TITLE, subtitle=GANTT_SUBTITLE),
                 height=CHROME_PX + ROW_PX * max(len(people), 1))


def days_chart(days: pl.DataFrame, target: float) -> alt.LayerChart:
    """Service level per day (point) with its 95% CI (rule), and the target."""
    data = days.select("date", "queue_service_level", "queue_service_level_ci_low",
                       "queue_service_level_ci_high")
    base = alt.Chart(data).encode(x=alt.X("date:T", title=None,
                                          axis=alt.Axis(format="%a %d %b", labelAngle=0)))
    y = alt.Y("queue_service_level:Q", title=SL_TITLE, axis=alt.Axis(format=".0%"),
              scale=alt.Scale(zero=False))
    rule = base.mark_rule(color="#1B2A41").encode(y=alt.Y("queue_service_level_ci_low:Q"),
                                                  y2="queue_service_level_ci_high:Q")
    points = base.mark_point(filled=True, size=70, color="#1B2A41").encode(
        y=y, tooltip=[alt.Tooltip("date:T", title="Date", format="%a %d %b"),
                      alt.Tooltip("queue_service_level:Q", title=SL_TITLE, format=".1%"),
                      alt.Tooltip("queue_service_level_ci_low:Q", title="95% CI low",
                                  format=".1%"),
                      alt.Tooltip("queue_service_level_ci_high:Q", title="95% CI high",
                                  format=".1%")])
    goal = alt.Chart(pl.DataFrame({"target": [target]})).mark_rule(
        color=TARGET_COLOR, strokeDash=[6, 4]).encode(y="target:Q")
    return (rule + points + goal).properties(
        title=alt.Title(DAYS_TITLE, subtitle=DAYS_SUBTITLE), height=HEIGHT)
