"""Channels: does the online shift continue, when are the 24/7 channels busy, who serves?"""

import streamlit as st

from data_access.config import SERVICE_LEVEL_TARGETS
from data_access.metrics import automated_share, contact_totals
from data_access.operations import channel_volume, served_by_share
from data_access.queue import service_level_by_channel
from ui import cache, layout, operations_charts, settings
from ui.frame import run_inside_frame

run_inside_frame()

st.title("Channels")
if not st.session_state.get("engine_ready"):
    st.stop()

view = st.session_state["view"]
links = layout.page_header(view)
WAIT_HELP = "Median wait in seconds of the contacts an operator served."
WAIT_CAPTION = ("Seconds from arrival until an operator answered, for operator-served "
                "contacts: median, mean and 90th percentile.")

ABANDONMENT_CAPTION = ("Contacts that gave up waiting for a person ÷ contacts that queued for "
                       "one, by the hour they arrived. Dashed line: the target.")
SERVICE_LEVEL_CAPTION = ("Queued contacts answered within their channel's target (the red "
                         "tick: X% within Y s); an abandon counts as a miss.")
OCCUPANCY_CAPTION = ("Handle time of the contacts answered in the hour ÷ (agents on duty on "
                     "record × contacts an agent holds at once × 1 h). Agents are before "
                     "shrinkage: about 70% is a fully busy pool at 30% shrinkage.")
NO_STAFFING = ("Occupancy per pool and hour needs the agents on duty: no staffing is on record "
               "for this range (import it with `python -m data_access import --kind staffing`).")


def figures() -> None:
    layout.freshness_stamp()
    contacts = cache.contacts_by_period(view.filters, view.granularity)
    earlier = cache.contacts_by_period(view.previous, view.granularity)
    now, before = contact_totals(contacts), contact_totals(earlier)
    layout.kpi_tiles([
        layout.Tile("Contacts online", now["contacts_online"], before["contacts_online"]),
        layout.Tile("Online share", now["online_share"], before["online_share"], digits=1,
                    percent=True),
        layout.Tile("Served by bots or self-service", automated_share(contacts),
                    automated_share(earlier), digits=1, percent=True),
        layout.Tile("Median wait", cache.median_wait_s(view.filters),
                    cache.median_wait_s(view.previous), unit=" s", lower_is_better=True,
                    help=WAIT_HELP),
    ], view,
        comparable=before["contacts_online"] + before["contacts_offline"] > 0)
    left, right = st.columns(2)
    with left:
        layout.show_chart(
            lambda: operations_charts.online_share_trend(
                contacts, f"Online share of contacts per {view.granularity}, {view.label}",
                view),
            contacts, "online_share", view, periods=view,
            caption="Online: messengers, web cabinet, mobile app and e-Otinish; offline: "
                    "offices.")
    with right:
        volume = channel_volume(contacts)
        layout.show_chart(
            lambda: operations_charts.channel_volume(
                volume, f"Contacts per channel per {view.granularity}, {view.label}", view),
            volume, "channel_volume", view, periods=view)
    heatmap = cache.contacts_by_hour_weekday(view.filters, True)
    layout.show_chart(
        lambda: operations_charts.hour_weekday_heatmap(
            heatmap, f"Contacts per hour and weekday in the 24/7 channels (mean per day), "
                     f"{view.label}"),
        heatmap, "hour_weekday", view, counted="contacts",
        caption="Local time. Offices keep opening hours and are left out.",
        empty="No contacts in the 24/7 channels for these filters (offices keep opening "
              "hours and are left out of this chart).")
    left, right = st.columns(2)
    with left:
        waits = cache.wait_by_channel(view.filters)
        layout.show_chart(
            lambda: operations_charts.wait_by_channel(
                waits, f"Wait for an operator by channel, {view.label}"),
            waits, "wait_by_channel", view,
            caption=WAIT_CAPTION)
    with right:
        served = served_by_share(contacts)
        layout.show_chart(
            lambda: operations_charts.served_by_share(
                served, f"Who served the contacts per {view.granularity}, {view.label}", view),
            served, "served_by", view, periods=view,
            caption="Bots and self-service take contacts no operator has to answer: the "
                    "automation lever the Staffing simulator tests.")
    queue()


def queue() -> None:
    """Abandonment per hour, service level against target, occupancy per pool and hour."""
    left, right = st.columns(2)
    with left:
        hours = cache.abandonment_by_channel_hour(view.filters)
        layout.show_chart(
            lambda: operations_charts.abandonment_by_hour(
                hours, f"Abandonment rate per hour of arrival, {view.label}",
                settings.abandonment_target()),
            hours, "abandonment_by_hour", view, counted="queued",
            caption=layout.with_note(ABANDONMENT_CAPTION,
                                     layout.not_filtered(view, "queue_hours")))
    with right:
        levels = service_level_by_channel(cache.queue_by_channel(view.filters),
                                          SERVICE_LEVEL_TARGETS)
        layout.show_chart(
            lambda: operations_charts.service_level_vs_target(
                levels, f"Service level per channel against its target, {view.label}"),
            levels, "service_level", view, counted="queued", caption=SERVICE_LEVEL_CAPTION)
    occupancy = cache.occupancy_by_pool_hour(view.filters)
    if layout.nothing_to_show(occupancy, "staffed_s"):
        st.caption(NO_STAFFING)  # a database without a roster on record: not an empty filter
        return
    layout.show_chart(
        lambda: operations_charts.occupancy_by_hour(
            occupancy, f"Occupancy per pool and hour of the day, {view.label}"),
        occupancy, "occupancy", view, counted="staffed_s",
        caption=layout.with_note(OCCUPANCY_CAPTION, layout.not_filtered(view, "pools")))


cache.live(figures)
layout.page_links(links, view)
