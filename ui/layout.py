"""Building blocks every dashboard page shares: charts and tables with their CSV, KPI tiles,
empty states and the freshness stamp. Pages call these and stay free of logic."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import altair as alt
import polars as pl
import streamlit as st

from data_access.config import local_now
from data_access.dates import period_starts
from data_access.exports import spreadsheet_safe
from data_access.metrics import period_has_data
from data_access.queries import Filters
from ui import cache
from ui.charts import Span, partial_periods, period_coverage, period_label, with_subtitle
from ui.filters import draw_links
from ui.view_state import ViewState, csv_frame, filters_line, filters_slug, named

NO_ROWS = "No data for these filters. Widen the date range or clear a filter in the sidebar."
# --- Page texts (whole sentences; placeholders are numbers, dates and names) ------------------
VIEW_LINE = {"day": "{range}, per day · {filters}", "week": "{range}, per week · {filters}",
             "month": "{range}, per month · {filters}"}
LINKS_BUTTON = "Filters and link"
LINKS_HELP = "The filters of this view and a link that reproduces it (also in the sidebar)."
FILTERS_IN_SIDEBAR = "Change the filters in the sidebar (the » at the top left on a phone)."
PARTIAL_FIRST = ("The first period ({label}) has only {days} of its {total} days in this "
                 "range: it is drawn hollow or pale, and a smaller value there is not a drop.")
PARTIAL_LAST = ("The last period ({label}) has only {days} of its {total} days in this range: "
                "it is drawn hollow or pale, and a smaller value there is not a drop.")
PARTIAL_BOTH = ("The first period ({first_label}, {first_days} of {first_total} days) and the "
                "last ({last_label}, {last_days} of {last_total} days) are only partly in this "
                "range: they are drawn hollow or pale, and smaller values there are not drops.")
NO_DELTAS_EMPTY = "No deltas: the previous {days} days hold no data to compare with."
NO_DELTAS_PARTIAL = ("No deltas: the previous {days} days ({start} – {end}) begin before the "
                     "first day with data, so they are not a whole period to compare with.")
COMPARED_WITH = "vs previous {days} days"
RATED_PARTIAL_NOTE = ("No whole month in this range: this is {month}, a partial month "
                      "({days} of its {total} days).")
# Filters a figure cannot reach (their names as in `Filters`): said on the page when active.
NOT_FILTERED = {"cases": ("service_types",), "front_line": ("channels", "service_types"),
                "queue_hours": ("regions", "service_types"),
                "pools": ("channels", "regions", "service_types")}
NOT_FILTERED_NOTE = {
    ("regions",): "Counts all regions: the region filter does not apply.",
    ("regions", "service_types"): ("Counts all regions and service types: these filters do "
                                   "not apply."),
    ("channels", "regions"): "Counts all channels and regions: these filters do not apply.",
    ("channels", "regions", "service_types"): ("Counts every channel, region and service type: "
                                               "the filters do not apply."),
    ("channels",): "Counts all channels: the channel filter does not apply.",
    ("service_types",): "Counts all service types: the service type filter does not apply.",
    ("channels", "service_types"): ("Counts all channels and service types: these filters do "
                                    "not apply."),
}
NOT_FILTERED_WHY = {
    "cases": "Complaints and appeals carry no service type, so a service type filter cannot "
             "select them; the channel and region filters apply.",
    "front_line": "Front-line operators are counted by their region only: who was active does "
                  "not depend on a channel or service type, so those filters do not apply.",
    "queue_hours": "The quarter-hour record of the queue is kept per channel only.",
    "pools": "Staffing is recorded per pool (the digital team, the offices), not per channel, "
             "region or service type.",
}
NO_TREND = "—"
TREND_FORMAT = "{trend:+.2f}"
MIN_SPARKLINE_POINTS = 3  # fewer months draw a flat stub, not a trend
# Phone layout: under 700 px two tiles share a row, tables scroll sideways, metric values
# shrink to fit half a row. Streamlit's own rule stacks every column at full width there.
PHONE_CSS = """<style>
@media (max-width: 700px) {
  div[class*="st-key-kpi-tiles"] div[data-testid="stHorizontalBlock"] {
    flex-wrap: wrap !important; gap: 0.5rem !important; }
  div[class*="st-key-kpi-tiles"] div[data-testid="stColumn"] {
    flex: 1 1 calc(50% - 0.5rem) !important; min-width: calc(50% - 0.5rem) !important;
    max-width: calc(50% - 0.25rem) !important; width: calc(50% - 0.5rem) !important; }
  div[class*="st-key-kpi-tiles"] div[data-testid="stMetricValue"] {
    font-size: 1.35rem !important; }
  div[class*="st-key-kpi-tiles"] div[data-testid="stMetricValue"] > div {
    white-space: normal !important; overflow-wrap: anywhere; }
  div[data-testid="stDataFrame"], div[data-testid="stDataFrameResizable"] {
    max-width: 100% !important; overflow-x: auto !important; }
  div[data-testid="stVegaLiteChart"] { max-width: 100% !important; overflow-x: auto; }
}
</style>"""


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """CSV for any result frame: list columns (sparklines) become ';'-joined text, and text
    that a spreadsheet would run as a formula is neutralised (`spreadsheet_safe`)."""
    nested = [name for name, dtype in frame.schema.items()
              if isinstance(dtype, pl.List | pl.Array | pl.Struct)]
    flat = frame.with_columns(
        pl.col(name).cast(pl.List(pl.String)).list.join(";") for name in nested
        if isinstance(frame.schema[name], pl.List | pl.Array))
    flat = flat.drop(name for name in nested if isinstance(frame.schema[name], pl.Struct))
    return spreadsheet_safe(flat).write_csv().encode("utf-8")


def csv_button(frame: pl.DataFrame, file_name: str, key: str, label: str = "CSV",
               help: str = "Download the data behind this view as CSV") -> None:
    """The CSV is made when clicked, not on every refresh tick of every viewer."""
    st.download_button(label, lambda: csv_bytes(frame), file_name=file_name, mime="text/csv",
                       key=key, icon=":material/download:", on_click="ignore", help=help)


def csv_file_name(name: str, view: ViewState) -> str:
    """The part, the dates and the filters (codes) in the file name."""
    return f"servicepulse_{name}_{view.start}_{view.end}_{filters_slug(view)}.csv"


def download(frame: pl.DataFrame, name: str, view: ViewState) -> None:
    """A dashboard's CSV: names under readable headers (codes kept beside them), the range
    and filters as columns and in the file name."""
    csv_button(csv_frame(frame, view), csv_file_name(name, view), f"download_{name}")


def nothing_to_show(data: pl.DataFrame, counted: str | None = None) -> bool:
    """No rows, or a fixed grid (every score, stage or hour, zeros filled) counting nothing.

    `counted` names the grid's count column: its rows exist whatever the filters, so only a
    total of 0 tells that the filters left nothing to draw.
    """
    return data.is_empty() or (counted is not None and not data[counted].sum())


def partial_note(span: Span) -> str | None:
    """The caption of a trend whose first or last period the range cuts, or None."""
    first_period = period_starts(span.start, span.end, span.granularity)[0]
    cut = {("first" if period == first_period else "last"): (period, days, total)
           for period, days, total in partial_periods(span)}
    if len(cut) == 2:
        (first, first_days, first_total), (last, last_days, last_total) = (cut["first"],
                                                                           cut["last"])
        return PARTIAL_BOTH.format(
            first_label=period_label(first, span.granularity), first_days=first_days,
            first_total=first_total, last_label=period_label(last, span.granularity),
            last_days=last_days, last_total=last_total)
    for edge, template in (("first", PARTIAL_FIRST), ("last", PARTIAL_LAST)):
        if edge in cut:
            period, days, total = cut[edge]
            return template.format(label=period_label(period, span.granularity), days=days,
                                   total=total)
    return None


def show_chart(build: Callable[[], alt.TopLevelMixin], data: pl.DataFrame, name: str,
               view: ViewState, caption: str | None = None, empty: str = NO_ROWS,
               counted: str | None = None, periods: Span | None = None) -> None:
    """A chart with its data as CSV, or a friendly message when the filters leave nothing.

    Pass `counted` for a fixed grid (see `nothing_to_show`), so an empty filter does not draw
    a chart of zeros. Every chart's subtitle names the active filters; a trend passes its
    `periods` (the view, or `charts.monthly(view)`) and gets a caption when the range cuts
    its first or last period.
    """
    if nothing_to_show(data, counted):
        st.info(empty, icon=":material/filter_alt_off:")
        return
    st.altair_chart(with_subtitle(build(), filters_line(view)), width="stretch")
    row = st.columns([3, 1])
    with row[0]:
        if caption:
            st.caption(caption)
        note = partial_note(periods) if periods is not None else None
        if note:
            st.caption(note)
    with row[1]:
        download(data, name, view)


def show_table(frame: pl.DataFrame, name: str, view: ViewState,
               column_config: Mapping[str, Any] | None = None, caption: str | None = None,
               empty: str = NO_ROWS, height: int | str = "auto",
               counted: str | None = None) -> None:
    """A table (st.dataframe draws cells as text: imported free text cannot inject markup).

    `counted` as for `show_chart`: a fixed grid counting nothing shows the message instead.
    """
    if nothing_to_show(frame, counted):
        st.info(empty, icon=":material/filter_alt_off:")
        return
    st.dataframe(frame, hide_index=True, column_config=column_config, width="stretch",
                 height=height)
    row = st.columns([3, 1])
    if caption:
        row[0].caption(caption)
    with row[1]:
        download(frame, name, view)


@dataclass(frozen=True)
class Tile:
    """One KPI tile: the value now, the previous equal period's, and an optional target."""

    label: str
    value: float | int | None
    previous: float | int | None = None
    text: str | None = None  # how to show the value, when not a plain number
    digits: int = 0
    percent: bool = False
    lower_is_better: bool = False
    target: float | None = None
    help: str | None = None
    unit: str = ""
    # The target must be beaten, not just reached ("more than 85% rated"): equal is off target.
    beat_target: bool = False
    note: str | None = None  # a caption under the tile (say, which month it shows)

    def formatted(self, number: float | int | None) -> str:
        if number is None:
            return "—"
        if self.percent:
            return f"{number:.{self.digits}%}"
        return f"{number:,.{self.digits}f}{self.unit}"

    @property
    def delta(self) -> str | None:
        if self.value is None or self.previous is None:
            return None
        change = self.value - self.previous
        if self.percent:
            return f"{change * 100:+.{self.digits}f} pp"
        return f"{change:+,.{self.digits}f}{self.unit}"

    @property
    def target_note(self) -> str | None:
        if self.target is None or self.value is None:
            return None
        gap = self.value - self.target
        if self.beat_target:
            met = gap < 0 if self.lower_is_better else gap > 0
            rule = "less than " if self.lower_is_better else "more than "
        else:
            met = gap <= 0 if self.lower_is_better else gap >= 0
            rule = ""
        verdict = "on target" if met else "off target"
        shown = (f"{gap * 100:+.1f} pp" if self.percent
                 else f"{gap:+,.{self.digits}f}{self.unit}")
        return f"Target {rule}{self.formatted(self.target)}: {shown}, {verdict}"


def not_filtered(view: ViewState, figure: str) -> str | None:
    """The sentences saying which active filters `figure` (a `NOT_FILTERED` key) ignores,
    or None when every active filter applies to it."""
    ignored = tuple(name for name in NOT_FILTERED[figure] if getattr(view.filters, name))
    if not ignored:
        return None
    return f"{NOT_FILTERED_NOTE[ignored]} {NOT_FILTERED_WHY[figure]}"


def not_filtered_tile(tile: Tile, view: ViewState, figure: str) -> Tile:
    """The tile with a note under it (and in its help) when an active filter cannot reach it."""
    ignored = tuple(name for name in NOT_FILTERED[figure] if getattr(view.filters, name))
    if not ignored:
        return tile
    return replace(tile, note=" ".join(filter(None, [tile.note, NOT_FILTERED_NOTE[ignored]])),
                   help=" ".join(filter(None, [tile.help, NOT_FILTERED_NOTE[ignored],
                                               NOT_FILTERED_WHY[figure]])))


def with_note(caption: str | None, note: str | None) -> str | None:
    """A chart or table caption followed by a `not_filtered` note, when there is one."""
    return " ".join(filter(None, [caption, note])) or None


def nps_tile(now: Mapping[str, Any], before: Mapping[str, Any], target: float) -> Tile:
    """The NPS tile of the overview and the NPS page: the score shown with its 95% margin.

    `now` and `before` are `queries.kpis` dicts; the margin says how far a small sample
    can swing.
    """
    text = (f"{now['nps']:.1f} ± {now['nps_moe']:.1f}"
            if now["nps"] is not None and now["nps_moe"] is not None else None)
    return Tile("NPS", now["nps"], before["nps"], text=text, digits=1, target=target,
                help="Net Promoter Score with its 95% margin of error.")


def kpi_tiles(tiles: list[Tile], view: ViewState | str, before: dict | None = None,
              say_why: bool = True, comparable: bool | None = None) -> None:
    """A row of tiles; each delta is against the previous equal period, with the target below.

    Deltas are shown only against a comparable period: one that holds data (`before`, the
    previous period's `kpis`; a page without `kpis` says whether it has data in
    `comparable`) and does not begin before the data does. Otherwise the tiles show no deltas
    and a caption says why (once per page: `say_why`). Under ~700 px two tiles share a row.
    """
    if not isinstance(view, ViewState):  # a caller that passes `compared_with(view)`
        view = st.session_state["view"]
    has_data = comparable if comparable is not None else (before is None
                                                          or period_has_data(before))
    whole = has_data and previous_is_whole(view)
    against = compared_with(view)
    key = "kpi-tiles-" + re.sub(r"[^a-z0-9]+", "-", tiles[0].label.lower())
    with st.container(key=key):
        for column, tile in zip(st.columns(len(tiles)), tiles, strict=True):
            with column.container(border=True):
                st.metric(tile.label, tile.text or tile.formatted(tile.value),
                          tile.delta if whole else None,
                          delta_color="inverse" if tile.lower_is_better else "normal",
                          help=tile.help, delta_description=against if whole else None)
                for note in (tile.target_note, tile.note):
                    if note:
                        st.caption(note)
    if not whole and say_why:
        previous = view.previous
        days = (previous.end - previous.start).days + 1
        st.caption(NO_DELTAS_EMPTY.format(days=days) if not has_data else
                   NO_DELTAS_PARTIAL.format(days=days, start=f"{previous.start:%d %b %Y}",
                                            end=f"{previous.end:%d %b %Y}"))


def previous_is_whole(view: ViewState) -> bool:
    """Whether the data reaches back to the previous period's first day.

    Read from the contacts of that one day, all filters off (the 24/7 channels have contacts
    every day of the data; a filter could leave a day empty that is not before the data).
    A previous period that begins before the first day with data holds fewer days of data
    than the view: a delta against it would count the data's start, not a change.
    """
    first = view.previous.start
    probe = cache.contacts_by_period(Filters(first, first), "day")
    return bool(probe.height) and int(probe["contacts"].sum()) > 0


def compared_with(view: ViewState) -> str:
    return COMPARED_WITH.format(days=(view.end - view.start).days + 1)


def freshness_stamp() -> None:
    st.caption(f"As of {local_now():%H:%M:%S} (local time)", help="The figures below re-run on "
               "the refresh interval set in the sidebar; new rows show on the next tick.")


def view_line(view: ViewState) -> str:
    return VIEW_LINE[view.granularity].format(range=view.label, filters=filters_line(view))


def page_header(view: ViewState):
    """Under a page's title: the view in one line (range, granularity, active filters by
    name) and a "Filters and link" popover, reachable without opening the sidebar.

    Returns the popover; `page_links` fills it once the page has put its own choices in the
    URL. Also sets the phone layout (two tiles a row, tables that scroll).
    """
    st.html(PHONE_CSS)
    row = st.columns([4, 1], vertical_alignment="center")
    row[0].caption(view_line(view))
    popover = row[1].popover(LINKS_BUTTON, icon=":material/link:", help=LINKS_HELP,
                             width="stretch")
    with popover:
        st.markdown(view_line(view))
        st.caption(FILTERS_IN_SIDEBAR)
    return popover


def page_links(popover, view: ViewState) -> None:
    """The Copy-link texts in the page's popover (drawn last: they carry the page's choices)."""
    with popover:
        draw_links(view)


def rated_share_tile(coverage: pl.DataFrame, start: dt.date, end: dt.date
                     ) -> tuple[float | None, str | None]:
    """The "lowest month" of front-line coverage, judged on whole months only.

    A range without a whole month (the default 30 days) shows the month with most days in
    the range, named as partial: on the 1st of a month its one day (0% on a Sunday) must not
    pass for the month.
    """
    rated = coverage.filter(pl.col("rated_share").is_not_null())
    if rated.is_empty():
        return None, None
    whole = rated.filter(~pl.col("partial_month"))
    if whole.height:
        return float(whole["rated_share"].min()), None
    days = [period_coverage(month, "month", start, end) for month in rated["period"]]
    best = max(range(rated.height), key=lambda index: (days[index][0], index))
    month = rated["period"][best]
    return float(rated["rated_share"][best]), RATED_PARTIAL_NOTE.format(
        month=period_label(month, "month"), days=days[best][0], total=days[best][1])


HOURS_FORMAT = "{hours:.1f}"
SHARE_FORMAT = "{share:.0%}"


def estimate_rows(estimates: pl.DataFrame) -> pl.DataFrame:
    """The resolution estimates as shown: names for codes, and a blank estimate (a cohort
    still open to tell) as "—" rather than "None"."""
    def text(column: str, template: str, key: str) -> pl.Expr:
        return pl.col(column).map_elements(
            lambda value: NO_TREND if value is None else template.format(**{key: value}),
            return_dtype=pl.String, skip_nulls=False)

    return named(estimates).with_columns(text("median_h", HOURS_FORMAT, "hours"),
                                         text("p90_h", HOURS_FORMAT, "hours"),
                                         text("within_target", SHARE_FORMAT, "share"))


def operator_rows(rows: pl.DataFrame) -> pl.DataFrame:
    """The operators table as shown: names for codes, the trend as text ("—" when there is
    no month before to compare with), no rank shown as "—" (not "None"), sparklines only with
    enough months to be a trend."""
    return named(rows).with_columns(
        trend=pl.col("trend").map_elements(
            lambda value: NO_TREND if value is None else TREND_FORMAT.format(trend=value),
            return_dtype=pl.String, skip_nulls=False),
        rank=pl.col("rank").cast(pl.String).fill_null(NO_TREND),
        monthly_means=pl.when(pl.col("monthly_means").list.len() >= MIN_SPARKLINE_POINTS)
        .then(pl.col("monthly_means")),
    )


ABANDONMENT_LABEL = "Abandonment rate"
ABANDONMENT_HELP = ("Contacts that gave up waiting for a person ÷ contacts that queued for one "
                    "(answered by an operator or abandoned).")
SERVICE_LEVEL_LABEL = "Answered within target"
SERVICE_LEVEL_HELP = ("Service level of all queued contacts, each against its channel's target "
                      "(e.g. 80% in 60 s for chats): answered within the target ÷ queued; an "
                      "abandon counts as a miss.")
ABANDONMENT_ALERT = ("Abandonment is {rate:.1%}, above the target of {target:.1%}: {abandoned:,} "
                     "of {queued:,} queued contacts gave up waiting.")


def abandonment_tile(now: Mapping[str, Any], before: Mapping[str, Any], target: float) -> Tile:
    """The abandonment tile: `queue.abandonment_total` dicts now and before, with its target."""
    return Tile(ABANDONMENT_LABEL, now["abandonment_rate"], before["abandonment_rate"],
                digits=1, percent=True, lower_is_better=True, target=target,
                help=ABANDONMENT_HELP)


def service_level_tile(now: float | None, before: float | None) -> Tile:
    return Tile(SERVICE_LEVEL_LABEL, now, before, digits=1, percent=True,
                help=SERVICE_LEVEL_HELP)


def abandonment_alert(total: Mapping[str, Any], target: float) -> None:
    """A warning when abandonment is above its target."""
    rate = total["abandonment_rate"]
    if rate is not None and rate > target:
        st.warning(ABANDONMENT_ALERT.format(rate=rate, target=target,
                                            abandoned=total["abandoned"],
                                            queued=total["queued"]), icon=":material/warning:")
