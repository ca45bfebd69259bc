"""Overview: is NPS on target, are complaints falling, does the online shift continue?"""

import streamlit as st

from data_access.alerts import overview_alerts
from data_access.config import SERVICE_LEVEL_TARGETS
from data_access.metrics import online_offline_totals, open_at_end
from data_access.operations import contacts_served
from data_access.queue import abandonment_total, service_level_by_channel, service_level_total
from ui import cache, charts, customer_charts, layout, settings
from ui.frame import run_inside_frame

run_inside_frame()

st.title("ServicePulse overview")
if not st.session_state.get("engine_ready"):
    st.stop()

CONTACTS_SERVED_HELP = ("All contacts in offices and online channels, whoever finished them: "
                        "operators, bots or self-service (web cabinet and app).")
DELTAS_AGAINST = "Deltas are against the previous {days} days ({start} – {end})."
view = st.session_state["view"]
target = settings.nps_target()
backlog_limit = settings.appeals_backlog_limit()
abandonment_target = settings.abandonment_target()
links = layout.page_header(view)
st.caption(DELTAS_AGAINST.format(days=(view.end - view.start).days + 1,
                                 start=f"{view.previous.start:%d %b %Y}",
                                 end=f"{view.previous.end:%d %b %Y}"))


def figures() -> None:
    layout.freshness_stamp()
    now, before = (cache.kpis(view.filters, rated_share=False),
                   cache.kpis(view.previous, rated_share=False))
    periods = cache.nps_by_period(view.filters, view.granularity)
    cases = cache.cases_by_period(view.filters, view.granularity, by=None)
    for alert in overview_alerts(now["nps"], now["nps_moe"], target, periods, view.granularity,
                                 open_at_end(cases, "appeal"), backlog_limit):
        (st.error if alert.level == "error" else st.warning)(alert.message,
                                                             icon=":material/warning:")
    queue_now, queue_before = (cache.queue_by_channel(view.filters),
                               cache.queue_by_channel(view.previous))
    abandon_now, abandon_before = abandonment_total(queue_now), abandonment_total(queue_before)
    layout.abandonment_alert(abandon_now, abandonment_target)
    layout.kpi_tiles([
        layout.nps_tile(now, before, target),
        layout.Tile("Survey responses", now["responses"], before["responses"],
                    help=f"{now['surveys_sent']:,} surveys sent (one after every contact)."),
        layout.Tile("Answer rate", now["answer_rate"], before["answer_rate"], digits=1,
                    percent=True, help="Share of surveys answered."),
        layout.Tile("Contacts served", contacts_served(now), contacts_served(before),
                    help=CONTACTS_SERVED_HELP),
    ], view, before)
    layout.kpi_tiles([
        layout.Tile("Online share", now["online_share"], before["online_share"], digits=1,
                    percent=True, help="Contacts in online channels over all contacts."),
        layout.not_filtered_tile(
            layout.Tile("Complaints", now["complaints"], before["complaints"],
                        lower_is_better=True, help="Complaints received: the service was bad."),
            view, "cases"),
        layout.not_filtered_tile(
            layout.Tile("Appeals", now["appeals"], before["appeals"], lower_is_better=True,
                        help="Appeals received: solve my problem."), view, "cases"),
        layout.Tile("Median wait", cache.median_wait_s(view.filters),
                    cache.median_wait_s(view.previous), unit=" s", lower_is_better=True,
                    help="Median seconds waited by contacts served by an operator."),
    ], view, before, say_why=False)
    layout.kpi_tiles([
        layout.abandonment_tile(abandon_now, abandon_before, abandonment_target),
        layout.service_level_tile(
            service_level_total(service_level_by_channel(queue_now, SERVICE_LEVEL_TARGETS)),
            service_level_total(service_level_by_channel(queue_before, SERVICE_LEVEL_TARGETS))),
    ], view, before, say_why=False)

    left, right = st.columns(2)
    with left:
        layout.show_chart(
            lambda: charts.nps_trend(periods, target,
                                     f"NPS per {view.granularity}, {view.label}", view),
            periods, "nps_trend", view, periods=view,
            caption=f"Band: 95% margin of error. Dashed line: target {target:g}.")
    with right:
        mix = online_offline_totals(cache.contacts_by_period(view.filters, view.granularity))
        layout.show_chart(
            lambda: charts.online_offline_mix(
                mix, f"Contacts online and offline per {view.granularity}, {view.label}",
                view),
            mix, "channel_mix", view, periods=view)
    trend = cache.case_trend_with_yoy(view.filters, view.granularity)
    layout.show_chart(
        lambda: customer_charts.case_counts_yoy(
            trend, f"Complaints and appeals received per {view.granularity}, {view.label}, "
                   "with the year before", view),
        trend, "cases_yoy", view, periods=view,
        caption=layout.with_note(
            "Dashed: the same period a year earlier; the tooltip gives the change.",
            layout.not_filtered(view, "cases")))


cache.live(figures)
layout.page_links(links, view)
