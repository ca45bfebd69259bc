"""Agent performance: are front-line operators rated, and how do they score?"""

import streamlit as st

from data_access.metrics import rating_summary
from data_access.operations import OPERATOR_ORDERS, operator_names
from ui import cache, charts, layout, operations_charts, settings
from ui.filters import url_choice, url_number, url_text
from ui.frame import run_inside_frame
from ui.view_state import shown

run_inside_frame()

st.title("Agent performance")
if not st.session_state.get("engine_ready"):
    st.stop()

MAX_SEARCH = 60  # characters
MAX_PAGE = 10_000
ORDER_LABELS = {"best": "Best", "worst": "Lowest"}
RATED_HELP = ("The lowest share of active front-line operators rated in a whole month of the "
              "range; without a whole month, the month with most days in the range, named "
              "under the tile.")
TREND_HELP = ("Mean of the range's last month minus the month before; — when the operator "
              "was not rated in both.")
SPARKLINE_HELP = "Monthly mean ratings, drawn from three rated months on."

view = st.session_state["view"]
target = settings.rated_share_target()
links = layout.page_header(view)
with st.columns([1, 2])[0]:
    min_ratings = url_number("Rank operators with at least this many ratings", "min_ratings",
                             settings.min_ratings_default(), 1, 100_000)


def figures() -> None:
    layout.freshness_stamp()
    scores = cache.rating_distribution(view.filters)
    ratings, mean = rating_summary(scores)
    ratings_before, mean_before = rating_summary(cache.rating_distribution(view.previous))
    coverage = cache.front_line_coverage(view.filters)
    coverage_before = cache.front_line_coverage(view.previous)
    rated, rated_note = layout.rated_share_tile(coverage, view.start, view.end)
    rated_before, _ = layout.rated_share_tile(coverage_before, view.previous.start,
                                              view.previous.end)
    layout.kpi_tiles([
        layout.Tile("Ratings", ratings, ratings_before),
        layout.Tile("Mean rating", mean, mean_before, digits=2, help="On the 1–5 scale."),
        layout.not_filtered_tile(
            layout.Tile("Front line rated (lowest month)", rated, rated_before, digits=1,
                        percent=True, target=target, beat_target=True, note=rated_note,
                        help=RATED_HELP), view, "front_line"),
    ], view, comparable=ratings_before > 0)
    left, right = st.columns(2)
    with left:
        layout.show_chart(
            lambda: operations_charts.rating_distribution(
                scores, f"Agent ratings by score (1–5), {view.label}"),
            scores, "rating_distribution", view, counted="ratings")
    with right:
        layout.show_chart(
            lambda: operations_charts.rated_share_vs_target(
                coverage, target=target, span=view,
                title=f"Front-line operators rated per month, {view.label}"),
            coverage, "rated_share", view, counted="rated_operators",
            periods=charts.monthly(view),
            caption=layout.with_note(
                f"Target: more than {target:.0%} of the active front-line operators rated "
                "every month (ratings feed their pay). A month cut by the range counts "
                "only its days inside it.", layout.not_filtered(view, "front_line")))
    operators()


def operators() -> None:
    st.subheader("Operators")
    first_page = {"page": 1}
    find, order, page = st.columns([2, 1, 1])
    with find:
        search = url_text("Find an operator (id or name)", "find", MAX_SEARCH,
                          resets=first_page, placeholder="e.g. OP00123 or Bekov")
    with order:
        listed_first = url_choice("List first", OPERATOR_ORDERS, "order", "best",
                                  format_func=ORDER_LABELS.get, widget="segmented",
                                  resets=first_page)
    per_page = settings.operators_per_page()
    listed = {}

    def listed_page(asked: int) -> int:
        listed["asked"] = asked
        listed["page"] = cache.operator_table(view.filters, min_ratings, search, listed_first,
                                              asked, per_page)
        return listed["page"].page

    with page:
        url_number("Page", "page", 1, 1, MAX_PAGE, fit=listed_page)
    listing = listed["page"]
    if listing.page != listed["asked"]:
        st.info(f"Page {listed['asked']} is past the last page; showing page {listing.page} "
                f"of {listing.pages}.", icon=":material/last_page:")
    layout.show_table(
        layout.operator_rows(listing.rows), "operators", view, height=420,
        column_config={
            "operator_id": None,
            "operator": st.column_config.TextColumn("Operator id"),
            "name": st.column_config.TextColumn("Name"),
            "team": st.column_config.TextColumn("Team"),
            "region": st.column_config.TextColumn("Region"),
            "ratings": st.column_config.NumberColumn("Ratings"),
            "mean_score": st.column_config.NumberColumn("Mean rating", format="%.2f"),
            "trend": st.column_config.TextColumn("Trend", help=TREND_HELP),
            "monthly_means": st.column_config.LineChartColumn(
                "Monthly means", y_min=1, y_max=5, help=SPARKLINE_HELP),
            "rank": st.column_config.TextColumn("Rank"),
            "ranked": st.column_config.CheckboxColumn("Ranked"),
        },
        empty=(f"No rated operator's id or name contains {shown(search)}." if search and
               listing.rated else layout.NO_ROWS),
        caption=f"Page {listing.page} of {listing.pages}: {listing.matching:,} "
                f"{'matching ' if search else ''}of {listing.rated:,} operators rated, "
                f"{per_page} a page (the download holds this page). Operators with "
                f"fewer than {min_ratings} ratings are listed last and not ranked: a mean of a "
                "handful of ratings swings on one answer, and ratings feed pay.")
    st.subheader("One operator's monthly trend")
    names = operator_names(listing.rows)
    if not names:
        return
    chosen = url_choice("Operator (from the page above)", list(names), "operator",
                        next(iter(names)), format_func=lambda code: f"{names[code]} ({code})")
    trend = cache.operator_trend(view.filters, chosen)
    layout.show_chart(
        lambda: operations_charts.operator_trend(
            trend, f"Monthly mean rating of {names[chosen]}, {view.label}", view),
        trend, "operator_trend", view, periods=charts.monthly(view))


cache.live(figures)
layout.page_links(links, view)
