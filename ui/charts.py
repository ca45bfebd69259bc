"""Altair chart builders: data in, `alt.Chart` out; they never call streamlit."""

from __future__ import annotations

import altair as alt
import polars as pl

from ui.palette import ONLINE_COLORS, TARGET_COLOR, color_scale


def nps_trend(frame: pl.DataFrame, target: float) -> alt.LayerChart:
    """NPS per period with its 95% margin-of-error band and the target line."""
    base = alt.Chart(frame.select("period", "nps", "nps_moe", "responses")).transform_calculate(
        low="datum.nps - datum.nps_moe", high="datum.nps + datum.nps_moe",
    ).encode(x=alt.X("period:T", title=None))
    band = base.mark_area(opacity=0.2).encode(
        y=alt.Y("low:Q", title="NPS"), y2="high:Q")
    line = base.mark_line(point=True).encode(
        y="nps:Q",
        tooltip=[alt.Tooltip("period:T"), alt.Tooltip("nps:Q", format=".1f"),
                 alt.Tooltip("nps_moe:Q", format=".1f", title="± margin"),
                 alt.Tooltip("responses:Q", format=",")],
    )
    rule = alt.Chart(pl.DataFrame({"target": [target]})).mark_rule(
        color=TARGET_COLOR, strokeDash=[6, 4]).encode(y="target:Q")
    return alt.layer(band, line, rule).properties(height=280)


def online_offline_mix(frame: pl.DataFrame) -> alt.Chart:
    """Contacts per period stacked online/offline (from `online_offline_totals`)."""
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("period:T", title=None),
        y=alt.Y("contacts:Q", stack="zero", title="Contacts"),
        color=alt.Color("mode:N", scale=color_scale(ONLINE_COLORS), title=None),
        tooltip=["period:T", "mode:N", alt.Tooltip("contacts:Q", format=",")],
    ).properties(height=280)
