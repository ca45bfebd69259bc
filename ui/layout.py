"""Building blocks every dashboard page shares: charts and tables with their CSV, KPI tiles,
empty states and the freshness stamp. Pages call these and stay free of logic."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import altair as alt
import polars as pl
import streamlit as st

from data_access.config import local_now
from data_access.exports import spreadsheet_safe
from data_access.metrics import period_has_data
from ui.view_state import ViewState

NO_ROWS = "No data for these filters. Widen the date range or clear a filter in the sidebar."


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


def download(frame: pl.DataFrame, name: str, view: ViewState) -> None:
    """A dashboard's CSV: the file name carries the part and the dates."""
    csv_button(frame, f"servicepulse_{name}_{view.start}_{view.end}.csv", f"download_{name}")


def nothing_to_show(data: pl.DataFrame, counted: str | None = None) -> bool:
    """No rows, or a fixed grid (every score, stage or hour, zeros filled) counting nothing.

    `counted` names the grid's count column: its rows exist whatever the filters, so only a
    total of 0 tells that the filters left nothing to draw.
    """
    return data.is_empty() or (counted is not None and not data[counted].sum())


def show_chart(build: Callable[[], alt.TopLevelMixin], data: pl.DataFrame, name: str,
               view: ViewState, caption: str | None = None, empty: str = NO_ROWS,
               counted: str | None = None) -> None:
    """A chart with its data as CSV, or a friendly message when the filters leave nothing.

    Pass `counted` for a fixed grid (see `nothing_to_show`), so an empty filter does not draw
    a chart of zeros.
    """
    if nothing_to_show(data, counted):
        st.info(empty, icon=":material/filter_alt_off:")
        return
    st.altair_chart(build(), width="stretch")
    row = st.columns([3, 1])
    if caption:
        row[0].caption(caption)
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


def nps_tile(now: Mapping[str, Any], before: Mapping[str, Any], target: float) -> Tile:
    """The NPS tile of the overview and the NPS page: the score shown with its 95% margin.

    `now` and `before` are `queries.kpis` dicts; the margin says how far a small sample
    can swing.
    """
    text = (f"{now['nps']:.1f} ± {now['nps_moe']:.1f}"
            if now["nps"] is not None and now["nps_moe"] is not None else None)
    return Tile("NPS", now["nps"], before["nps"], text=text, digits=1, target=target,
                help="Net Promoter Score with its 95% margin of error.")


def kpi_tiles(tiles: list[Tile], compared_with: str, before: dict | None = None,
              say_why: bool = True, comparable: bool | None = None) -> None:
    """A row of tiles; each delta is against the previous equal period, with the target below.

    `before` is the previous period's `kpis`: when it holds no data at all (it lies before the
    data starts), the tiles show no deltas and a caption says why (once per page: `say_why`).
    A page without `kpis` says whether the previous period is `comparable` itself.
    """
    if comparable is None:
        comparable = before is None or period_has_data(before)
    for column, tile in zip(st.columns(len(tiles)), tiles, strict=True):
        with column.container(border=True):
            st.metric(tile.label, tile.text or tile.formatted(tile.value),
                      tile.delta if comparable else None,
                      delta_color="inverse" if tile.lower_is_better else "normal",
                      help=tile.help, delta_description=compared_with if comparable else None)
            note = tile.target_note
            if note:
                st.caption(note)
    if not comparable and say_why:
        st.caption(f"No deltas: the {compared_with.removeprefix('vs ')} hold no data to "
                   "compare with.")


def compared_with(view: ViewState) -> str:
    return f"vs previous {(view.end - view.start).days + 1} days"


def freshness_stamp() -> None:
    st.caption(f"As of {local_now():%H:%M:%S} (local time)", help="The figures below re-run on "
               "the refresh interval set in the sidebar; new rows show on the next tick.")
