"""Complaints & appeals: are they falling, where from, how fast are they resolved?"""

import streamlit as st

from data_access.customer import minute_now
from data_access.metrics import open_at_end
from ui import cache, customer_charts, layout, settings
from ui.filters import url_choice
from ui.frame import run_inside_frame
from ui.view_state import named

run_inside_frame()

st.title("Complaints & appeals")
if not st.session_state.get("engine_ready"):
    st.stop()

BREAKDOWNS = {"category": "Category", "channel": "Channel", "region": "Region"}
OVERDUE_LABEL = "Overdue"
OVERDUE_HELP = ("Cases open now, received up to {end}, and older than their answer target: "
                "complaints {complaint:g} days, appeals {appeal:g} days, e-Otinish appeals "
                "{e_otinish:g} days. The targets are settings (SERVICEPULSE_DEADLINE_DAYS_"
                "COMPLAINT, _APPEAL and _E_OTINISH), not a law built into the app.")
OVERDUE_ALERT = ("{total:,} open cases are past their answer target: {complaint:,} complaints "
                 "(target {complaint_days:g} days), {appeal:,} appeals (target {appeal_days:g} "
                 "days) and {e_otinish:,} e-Otinish appeals (target {e_otinish_days:g} days).")
RESOLUTION_CAPTION = ("Hours from receipt to the answer, for answered cases only (nearest "
                      "rank). Cases still open are not in it, so recent periods read faster "
                      "than they are: see the table below, which counts them.")
ESTIMATES_HEADING = "Resolution time with the open cases counted"
ESTIMATES_CAPTION = (
    "Per period of receipt: the median and 90th percentile hours to an answer and the share "
    "answered within the target, estimated with a life table (Kaplan–Meier style) in which a "
    "case still open now counts as not answered up to its age so far, measured from midday "
    "of the day it arrived. Withdrawn cases are left out. Hours are read from the rollup's "
    "resolution-time buckets, placed linearly inside a bucket. A blank median or 90th "
    "percentile means too many cases are still open to tell; a blank share means the "
    "period's cases are not yet as old as the target. Targets (settings): complaints "
    "{complaint:g} days, appeals {appeal:g} days.")
OPEN_APPEALS_CAPTION = ("Open now, received up to {end}, oldest first (at most 200). Overdue: "
                        "older than the e-Otinish target of {days:g} days (a setting); due is "
                        "the date received plus the target.")
view = st.session_state["view"]
links = layout.page_header(view)


def figures() -> None:
    layout.freshness_stamp()
    now, before = (cache.kpis(view.filters, rated_share=False),
                   cache.kpis(view.previous, rated_share=False))
    cases = cache.cases_by_period(view.filters, view.granularity, by=None)
    note = layout.not_filtered(view, "cases")
    deadlines = settings.deadline_days()
    overdue = cache.overdue_cases(view.filters, minute_now(), deadlines)
    overdue_total = sum(overdue.values())
    if overdue_total:
        st.error(OVERDUE_ALERT.format(
            total=overdue_total, **overdue,
            **{f"{kind}_days": days for kind, days in deadlines.items()}),
            icon=":material/warning:")
    layout.kpi_tiles([layout.not_filtered_tile(tile, view, "cases") for tile in [
        layout.Tile("Complaints", now["complaints"], before["complaints"],
                    lower_is_better=True, help="Complaints received: the service was bad."),
        layout.Tile("Appeals", now["appeals"], before["appeals"], lower_is_better=True,
                    help="Appeals received: solve my problem."),
        layout.Tile("e-Otinish appeals", now["e_otinish_appeals"],
                    before["e_otinish_appeals"], lower_is_better=True,
                    help="Appeals filed through the government e-Otinish portal."),
        layout.Tile("Open appeals", open_at_end(cases, "appeal"),
                    open_at_end(cache.cases_by_period(view.previous, view.granularity, by=None),
                                "appeal"), lower_is_better=True,
                    target=settings.appeals_backlog_limit(),
                    help=f"Appeals open at the end of {view.end} (received earlier, not yet "
                         "answered or withdrawn); the target is the alert limit."),
        layout.Tile(OVERDUE_LABEL, overdue_total, None, lower_is_better=True,
                    help=OVERDUE_HELP.format(end=view.end, **deadlines)),
    ]], layout.compared_with(view), before)
    counts = cache.case_trend_with_yoy(view.filters, view.granularity)
    layout.show_chart(
        lambda: customer_charts.case_counts_yoy(
            counts, f"Complaints and appeals received per {view.granularity}, {view.label}, "
                    "with the year before", view),
        counts, "cases_yoy", view, periods=view,
        caption=layout.with_note(
            "Dashed: the same period a year earlier; the tooltip gives the change.", note))
    left, right = st.columns(2)
    with left:
        layout.show_chart(
            lambda: customer_charts.resolution_trend(
                cases, f"Resolution time (median and 90th percentile) of cases received per "
                       f"{view.granularity}, {view.label}", view),
            cases, "resolution_time", view, counted="received", periods=view,
            caption=layout.with_note(
                RESOLUTION_CAPTION, note))
    with right:
        layout.show_chart(
            lambda: customer_charts.backlog_trend(
                cases, f"Open cases at the end of each {view.granularity}, {view.label}",
                view),
            cases, "open_backlog", view, periods=view, caption=note)
    resolution(deadlines)
    breakdown()
    e_otinish(deadlines["e_otinish"])


def resolution(deadlines: dict[str, float]) -> None:
    st.subheader(ESTIMATES_HEADING)
    estimates = cache.resolution_estimates(view.filters, view.granularity, minute_now(),
                                           deadlines)
    layout.show_table(
        layout.estimate_rows(estimates), "resolution_estimates", view,
        column_config={"period": st.column_config.DateColumn("Received in (period start)"),
                       "kind": st.column_config.TextColumn("Kind"),
                       "received": st.column_config.NumberColumn("Received"),
                       "answered": st.column_config.NumberColumn("Answered"),
                       "open": st.column_config.NumberColumn("Open now"),
                       "median_h": st.column_config.TextColumn("Median hours"),
                       "p90_h": st.column_config.TextColumn("p90 hours"),
                       "within_target": st.column_config.TextColumn("Answered within target")},
        caption=layout.with_note(ESTIMATES_CAPTION.format(**deadlines),
                                 layout.not_filtered(view, "cases")))


def breakdown() -> None:
    st.subheader("Where cases come from")
    by = url_choice("Break down by", list(BREAKDOWNS), "case_by", "category",
                    format_func=BREAKDOWNS.get, widget="segmented_control")
    frame = cache.case_breakdown(view.filters, by)
    layout.show_chart(
        lambda: customer_charts.case_breakdown(
            frame, by, f"Cases received by {BREAKDOWNS[by].lower()}, {view.label}"),
        frame, f"cases_by_{by}", view, caption=layout.not_filtered(view, "cases"))


def e_otinish(days: float) -> None:
    st.subheader("e-Otinish appeals")
    funnel = cache.e_otinish_funnel(view.filters)
    layout.show_chart(
        lambda: customer_charts.stage_funnel(
            funnel, f"Stages reached by e-Otinish appeals received {view.label}"),
        funnel, "e_otinish_funnel", view, counted="cases",
        caption=layout.not_filtered(view, "cases"),
        empty="No e-Otinish appeals for these filters.")
    open_appeals = named(cache.open_e_otinish_appeals(view.filters, minute_now(), 200, days))
    layout.show_table(
        open_appeals, "e_otinish_open", view,
        column_config={"external_id": st.column_config.TextColumn("Appeal id"),
                       "category": st.column_config.TextColumn("Category"),
                       "region": st.column_config.TextColumn("Region"),
                       "stage": st.column_config.TextColumn("Stage"),
                       "age_days": st.column_config.NumberColumn("Age (days)", format="%.1f"),
                       "received_at": st.column_config.DatetimeColumn(
                           "Received", format="YYYY-MM-DD HH:mm"),
                       "stage_since": st.column_config.DatetimeColumn(
                           "In stage since", format="YYYY-MM-DD HH:mm"),
                       "due_at": st.column_config.DatetimeColumn(
                           "Due", format="YYYY-MM-DD HH:mm"),
                       "overdue": st.column_config.CheckboxColumn("Overdue")},
        caption=layout.with_note(
            OPEN_APPEALS_CAPTION.format(end=view.end, days=days),
            layout.not_filtered(view, "cases")),
        empty="No open e-Otinish appeals for these filters.")


cache.live(figures)
layout.page_links(links, view)
