"""Overview: is NPS on target, are complaints falling, does the online shift continue?"""

import datetime as dt

import streamlit as st

from data_access.config import local_today
from data_access.dates import first_of_month
from data_access.metrics import online_offline_totals
from data_access.queries import Filters
from ui import charts, state
from ui.frame import run_inside_frame

run_inside_frame()

st.title("ServicePulse overview")
if not st.session_state.get("engine_ready"):
    st.stop()

NPS_TARGET = state.nps_target()
today = local_today()
current = Filters(today - dt.timedelta(days=29), today)
previous = Filters(current.start - dt.timedelta(days=30), current.start - dt.timedelta(days=1))
figures = state.kpis(current)
before = state.kpis(previous)


def delta(name: str, digits: int = 1) -> float | None:
    if figures[name] is None or before[name] is None:
        return None
    return round(figures[name] - before[name], digits)


st.caption(f"Last 30 days ({current.start} – {current.end}) against the 30 days before.")
tiles = st.columns(6)
tiles[0].metric("NPS", f"{figures['nps']:.1f} ± {figures['nps_moe']:.1f}"
                if figures["nps"] is not None else "—", delta("nps"))
tiles[1].metric("Survey responses", f"{figures['responses']:,}", delta("responses", 0))
tiles[2].metric("Contacts online", f"{figures['contacts_online']:,}",
                delta("contacts_online", 0))
tiles[3].metric("Online share", f"{(figures['online_share'] or 0):.1%}")
tiles[4].metric("Complaints", f"{figures['complaints']:,}", delta("complaints", 0),
                delta_color="inverse")
tiles[5].metric("Appeals", f"{figures['appeals']:,}", delta("appeals", 0),
                delta_color="inverse")

history = Filters(first_of_month(today - dt.timedelta(days=334)), today)
left, right = st.columns(2)
with left:
    st.subheader("NPS by month")
    st.altair_chart(charts.nps_trend(state.nps_by_period(history, "month"), NPS_TARGET),
                    width="stretch")
    st.caption(f"Band: 95% margin of error. Dashed line: target {NPS_TARGET:.0f}.")
with right:
    st.subheader("Contacts online and offline")
    st.altair_chart(
        charts.online_offline_mix(online_offline_totals(state.contacts_by_period(history))),
        width="stretch")
