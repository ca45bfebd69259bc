"""Cached queries: each data_access query runs on a fresh connection and is cached until the
data changes (the data version is part of the key); `live` re-runs a page's data part on the
refresh interval with one data version for all its queries."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import polars as pl
import streamlit as st

from data_access import customer, freshness, operations, queries, queue
from data_access.config import local_today
from data_access.operations import OperatorPage
from ui.database import database_url, get_engine, guarded
from ui.filters import FULL_RUN_NEEDED, KEPT_VIEW
from ui.settings import REFRESH_SECONDS, VERSION_SHARE_SECONDS
from ui.view_state import preset_is_stale

P = ParamSpec("P")
R = TypeVar("R")


def live(render: Callable[[], None]) -> None:
    """Re-run a page's data part on the refresh interval, unless paused in the sidebar.

    A page has one live part, so that an outage shows one banner however much the page shows.
    Each run reads the data version once, so every figure of one tick comes from the same data.
    A page choice made inside the part (ui.filters) asks for a whole run, for *Copy link*.
    A page left open on a preset moves on with the calendar: past midnight the whole app
    re-runs, which gives the preset its new dates.
    """
    interval = REFRESH_SECONDS if st.session_state.get("live_refresh", True) else None

    def tick() -> None:
        if st.session_state.pop(FULL_RUN_NEEDED, False):
            st.rerun(scope="app")
        view, today = st.session_state.get(KEPT_VIEW), local_today()
        # Once per day at most: a clock that disagrees with the filters must not loop.
        if (view is not None and preset_is_stale(view, today)
                and st.session_state.get("_rerun_for_day") != today):
            st.session_state["_rerun_for_day"] = today
            st.rerun(scope="app")
        guarded(lambda: _with_one_data_version(render))

    st.fragment(run_every=interval)(tick)()


_PINNED = threading.local()  # the data version of the script run in this thread, if pinned


@st.cache_data(ttl=REFRESH_SECONDS, max_entries=8, show_spinner=False)
def shared_data_version(url: str, window: int) -> tuple[int, ...]:
    """Probed once per VERSION_SHARE_SECONDS window, and shared by every session.

    Viewers whose ticks fall in the same window share one computation of each query; with the
    default 1 s window a row committed before a tick starts shows on that tick.
    """
    with get_engine(url).connect() as connection:
        return freshness.data_version(connection)


def _version_window() -> int:
    return int(time.time() // VERSION_SHARE_SECONDS)


def _current_data_version(url: str) -> tuple[int, ...]:
    pinned = getattr(_PINNED, "version", None)
    if pinned is not None and pinned[0] == url:
        return pinned[1]
    return shared_data_version(url, _version_window())


def _with_one_data_version(render: Callable[[], None]) -> None:
    """Run `render` with one data version for all its queries (none straddles two)."""
    url = database_url()
    _PINNED.version = (url, shared_data_version(url, _version_window()))
    try:
        render()
    finally:
        _PINNED.version = None


def _cached(function: Callable[P, R]) -> Callable[P, R]:
    """Run a data_access query on a fresh connection, cached until the data changes.

    The data version is part of the cache key, so new rows show on the next tick; the TTL
    (one refresh interval) bounds how stale an in-place update can be.
    """

    def run(url: str, version: tuple[int, ...], *args, **kwargs):
        with get_engine(url).connect() as connection:
            return function(connection, *args, **kwargs)

    run.__name__ = run.__qualname__ = f"cached_{function.__name__}"
    cached = st.cache_data(ttl=REFRESH_SECONDS, max_entries=128, show_spinner=False)(run)

    def call(*args, **kwargs):
        url = database_url()
        return cached(url, _current_data_version(url), *args, **kwargs)

    return call


kpis: Callable[..., dict] = _cached(queries.kpis)
nps_by_period: Callable[..., pl.DataFrame] = _cached(queries.nps_by_period)
nps_by_wait_bucket: Callable[..., pl.DataFrame] = _cached(queries.nps_by_wait_bucket)
contacts_by_period: Callable[..., pl.DataFrame] = _cached(queries.contacts_by_period)
case_counts: Callable[..., dict] = _cached(queries.case_counts)
cases_by_period: Callable[..., pl.DataFrame] = _cached(queries.cases_by_period)
front_line_coverage: Callable[..., pl.DataFrame] = _cached(queries.front_line_coverage)
detractor_reasons: Callable[..., pl.DataFrame] = _cached(customer.detractor_reasons)
low_score_comments: Callable[..., pl.DataFrame] = _cached(customer.low_score_comments)
case_trend_with_yoy: Callable[..., pl.DataFrame] = _cached(customer.case_trend_with_yoy)
case_breakdown: Callable[..., pl.DataFrame] = _cached(customer.case_breakdown)
e_otinish_funnel: Callable[..., pl.DataFrame] = _cached(customer.e_otinish_funnel)
open_e_otinish_appeals: Callable[..., pl.DataFrame] = _cached(customer.open_e_otinish_appeals)
overdue_cases: Callable[..., dict] = _cached(customer.overdue_cases)
resolution_estimates: Callable[..., pl.DataFrame] = _cached(customer.resolution_estimates)
median_wait_s: Callable[..., float | None] = _cached(operations.median_wait_s)
wait_by_channel: Callable[..., pl.DataFrame] = _cached(operations.wait_by_channel)
contacts_by_hour_weekday: Callable[..., pl.DataFrame] = _cached(
    operations.contacts_by_hour_weekday)
rating_distribution: Callable[..., pl.DataFrame] = _cached(operations.rating_distribution)
operator_table: Callable[..., OperatorPage] = _cached(operations.operator_table)
operator_trend: Callable[..., pl.DataFrame] = _cached(operations.operator_trend)
# The queue on record (issue 16): abandonment, service level, occupancy.
queue_by_channel: Callable[..., pl.DataFrame] = _cached(queue.queue_by_channel)
abandonment_by_channel_hour: Callable[..., pl.DataFrame] = _cached(
    queue.abandonment_by_channel_hour)
occupancy_by_pool_hour: Callable[..., pl.DataFrame] = _cached(queue.occupancy_by_pool_hour)
