"""NPS: where and why customers are unhappy, and how much of it is waiting."""

import streamlit as st

from data_access.schema import DETRACTOR_MAX_SCORE
from ui import cache, customer_charts, layout, settings
from ui.filters import url_choice
from ui.frame import run_inside_frame
from ui.view_state import CODE_COLUMNS, named

run_inside_frame()

st.title("NPS")
if not st.session_state.get("engine_ready"):
    st.stop()

SPLITS = {column: CODE_COLUMNS[column][0] for column in ("channel", "region", "service_type")}
TABLE_COLUMNS = {column: st.column_config.TextColumn(CODE_COLUMNS[column][0])
                 for column in ("reason", "channel", "region", "service_type")}
view = st.session_state["view"]
target = settings.nps_target()
links = layout.page_header(view)
split = url_choice("Split the trend by", list(SPLITS), "split", "channel",
                   format_func=SPLITS.get, widget="segmented_control")


def figures() -> None:
    layout.freshness_stamp()
    now, before = (cache.kpis(view.filters, rated_share=False),
                   cache.kpis(view.previous, rated_share=False))
    layout.kpi_tiles([
        layout.nps_tile(now, before, target),
        layout.Tile("Promoters", now["promoters"], before["promoters"], help="Scores 9–10."),
        layout.Tile("Detractors", now["detractors"], before["detractors"],
                    lower_is_better=True, help="Scores 0–6."),
        layout.Tile("Answer rate", now["answer_rate"], before["answer_rate"], digits=1,
                    percent=True, help=f"{now['responses']:,} of {now['surveys_sent']:,} "
                                       "surveys answered."),
    ], view, before)
    periods = cache.nps_by_period(view.filters, view.granularity)
    by_split = cache.nps_by_period(view.filters, view.granularity, by=split)
    layout.show_chart(
        lambda: customer_charts.nps_split_trend(
            by_split, split, target,
            f"NPS by {SPLITS[split].lower()} per {view.granularity}, {view.label}", view),
        by_split, f"nps_by_{split}", view, periods=view,
        caption=f"Dashed line: target {target:g}. Small groups swing widely: the tooltip "
                "gives each point's responses and margin of error.")
    left, right = st.columns(2)
    with left:
        layout.show_chart(
            lambda: customer_charts.nps_class_shares(
                periods, f"Promoters, passives and detractors per {view.granularity}, "
                         f"{view.label}", view),
            periods, "nps_classes", view, periods=view,
            caption="Promoters score 9–10, passives 7–8, detractors 0–6.")
    with right:
        reasons = cache.detractor_reasons(view.filters)
        layout.show_chart(
            lambda: customer_charts.detractor_pareto(
                reasons, f"Why detractors are unhappy, {view.label}"),
            reasons, "detractor_reasons", view,
            caption="Bars: detractors per reason they named; line: cumulative share.")
    left, right = st.columns(2)
    with left:
        waits = cache.nps_by_wait_bucket(view.filters)
        layout.show_chart(
            lambda: customer_charts.nps_by_wait(
                waits, f"NPS by time waited for an operator, {view.label}"),
            waits, "nps_by_wait", view,
            caption="The link to staffing: NPS falls as the wait grows, so fewer long waits "
                    "(more operators at peaks, or bots taking routine contacts) raise NPS. "
                    "Test a plan in the Staffing simulator.")
    with right:
        layout.show_chart(
            lambda: customer_charts.answer_rate_trend(
                periods, f"Survey answer rate per {view.granularity}, {view.label}", view),
            periods, "answer_rate", view, periods=view,
            caption="A survey is sent after every contact; this is the share answered.")
    st.subheader("Latest low-score comments")
    comments = named(cache.low_score_comments(view.filters, 50))
    layout.show_table(
        comments, "low_score_comments", view,
        column_config={"answered_at": st.column_config.DatetimeColumn("Answered",
                                                                      format="YYYY-MM-DD HH:mm"),
                       "suggestion": st.column_config.TextColumn("Comment", width="large"),
                       "score": st.column_config.NumberColumn("Score"),
                       **TABLE_COLUMNS},
        caption=f"The 50 newest comments with a score of {DETRACTOR_MAX_SCORE} or less, shown "
                "as plain text.",
        empty="No low-score comments for these filters.")


cache.live(figures)
layout.page_links(links, view)
