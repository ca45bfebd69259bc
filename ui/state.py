"""Shared app state: the cached engine, first-start seeding and cached queries."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import polars as pl
import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from data_access import customer, freshness, migrate, operations, queries, queue, rollups
from data_access.config import (
    ABANDONMENT_TARGET_RANGE,
    ABANDONMENT_TARGET_SETTING,
    DEADLINE_DAYS_RANGE,
    DEADLINE_SETTINGS,
    ConfigError,
    local_today,
    mask_url,
    resolve_database_url,
    scrub,
)
from data_access.demo import DemoConfig, DemoError, generate_demo, needs_demo
from data_access.engine import DatabaseUnavailable, check_connection, create_db_engine
from data_access.migrate import MigrationFailed, SchemaOutdated
from data_access.operations import OPERATORS_PER_PAGE, OperatorPage
from data_access.rollups import RollupsOutdated
from ui.filters import FULL_RUN_NEEDED, KEPT_VIEW
from ui.view_state import message_text, preset_is_stale

_SEED_LOCK = threading.Lock()
_READY_URLS: set[str] = set()
P = ParamSpec("P")
R = TypeVar("R")


@st.cache_resource(show_spinner=False)
def get_engine(url: str) -> Engine:
    return create_db_engine(url)


def database_url() -> str:
    return resolve_database_url()


def parse_setting(name: str, default: float, low: float, high: float
                  ) -> tuple[float, str | None]:
    """A numeric setting from the environment, or the default and a warning naming it."""
    raw = os.environ.get(name)
    if raw is None:
        return default, None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not low <= value <= high:
        return default, (f"{name}={raw!r} must be a number within {low:g}..{high:g}; "
                         f"using {default:g}.")
    return value, None


def _number_setting(name: str, default: float, low: float, high: float) -> float:
    value, warning = parse_setting(name, default, low, high)
    if warning:
        st.warning(warning)
    return value


# How often the dashboards' data re-run, and the matching cache lifetime. Read once at start:
# st.cache_data's ttl is fixed when the module is imported.
REFRESH_SECONDS, REFRESH_WARNING = parse_setting("SERVICEPULSE_REFRESH_S", 30, 2, 3600)
# How long one reading of the data version is shared by all viewers. 1 s: a row committed
# before a tick shows on that tick, and every tick that sees new rows recomputes its queries.
# Longer shares one computation among more viewers' ticks, and a row may wait one tick more.
VERSION_SHARE_SECONDS, VERSION_SHARE_WARNING = parse_setting(
    "SERVICEPULSE_VERSION_SHARE_S", 1, 1, 3600)


def demo_scale() -> float:
    """SERVICEPULSE_DEMO_SCALE lets tests and small machines seed a smaller demo."""
    return _number_setting("SERVICEPULSE_DEMO_SCALE", 1.0, 0.001, 50)


def nps_target() -> float:
    """The NPS target line (40 for 2022 at the reference customer)."""
    return _number_setting("SERVICEPULSE_NPS_TARGET", 40.0, -100, 100)


def appeals_backlog_limit() -> int:
    """Open appeals above this raise an alert on the overview."""
    return int(_number_setting("SERVICEPULSE_APPEALS_BACKLOG_MAX", 150, 0, 10_000_000))


def min_ratings_default() -> int:
    """Operators with fewer ratings are listed but not ranked (a mean of a few is noise)."""
    return int(_number_setting("SERVICEPULSE_MIN_RATINGS", 20, 1, 100_000))


def operators_per_page() -> int:
    """Rows of the operators table: only one page is read, however many operators there are."""
    return int(_number_setting("SERVICEPULSE_OPERATORS_PER_PAGE", OPERATORS_PER_PAGE, 5, 1000))


def rated_share_target() -> float:
    """Front-line operators rated per month: more than 85% of those active."""
    return _number_setting("SERVICEPULSE_RATED_SHARE_TARGET", 0.85, 0, 1)


def deadline_days() -> dict[str, float]:
    """Target days to answer a case, per deadline kind (`config.DEADLINE_SETTINGS`)."""
    low, high = DEADLINE_DAYS_RANGE
    return {kind: _number_setting(name, default, low, high)
            for kind, (name, default) in DEADLINE_SETTINGS.items()}


def ensure_database() -> Engine | None:
    """Connect; on an empty database create the schema and seed the demo with a progress bar.

    Returns None after showing one banner (URL masked) when the database cannot be used.
    """
    try:
        url = database_url()
        engine = get_engine(url)
        check_connection(engine)
        if url not in _READY_URLS:  # seeded or found complete once: no schema checks per rerun
            with _SEED_LOCK:
                if needs_demo(engine):
                    _seed_with_progress(engine)
                else:
                    _schema_current(engine)
                    _rollups_current(engine)
                _READY_URLS.add(url)
    except (RollupsOutdated, SchemaOutdated, MigrationFailed) as error:
        # Reachable but not usable by this version: retry once the writer has upgraded it.
        unavailable_banner(f"The database is unavailable: {message_text(error)}.",
                           recovered=lambda: _up_to_date(get_engine(url)))
        return None
    except (DatabaseUnavailable, ConfigError) as error:
        unavailable_banner(f"The database is unavailable: {message_text(error)}.")
        return None
    except (SQLAlchemyError, DemoError) as error:
        message = scrub(str(getattr(error, "orig", None) or error).splitlines()[0], url)
        unavailable_banner(f"The database {message_text(mask_url(url))} could not be prepared: "
                           f"{message_text(message)}")
        return None
    return engine


def unavailable_banner(message: str, retry_by_itself: bool = True,
                       recovered: Callable[[], bool] | None = None) -> None:
    """One error banner with a retry button; at start-up it also retries every refresh.

    Inside a page's live part the part itself re-runs on the interval, so only the button is
    added there. `recovered` tells a reachable database's problem is gone (without it, being
    reachable is enough); a reachable database still in the way is not re-run in a loop.
    """
    st.error(f"{message} Retrying every {REFRESH_SECONDS:g} s.", icon=":material/cloud_off:")
    if st.button("Retry now", icon=":material/refresh:", key="retry_database"):
        st.rerun(scope="app")
    if not retry_by_itself:
        return

    @st.fragment(run_every=REFRESH_SECONDS)
    def retry_when_back() -> None:
        try:
            check_connection(get_engine(database_url()))
            if recovered is not None and not recovered():
                return
        except (DatabaseUnavailable, ConfigError, SQLAlchemyError):
            return
        if st.session_state.get("_database_was_down"):
            st.session_state["_database_was_down"] = False
            st.rerun(scope="app")

    st.session_state["_database_was_down"] = True
    retry_when_back()


def database_error(error: Exception) -> None:
    """A query failed mid-page (e.g. the server went away): one masked banner, no traceback."""
    url = database_url()
    reason = scrub(str(getattr(error, "orig", None) or error).strip().splitlines()[0], url)
    unavailable_banner(f"The database {message_text(mask_url(url))} did not answer: "
                       f"{message_text(reason)}.",
                       retry_by_itself=False)


def guarded(render: Callable[[], None]) -> None:
    """Run a page's data part; a database failure replaces it with the banner, no traceback."""
    slot = st.empty()
    try:
        with slot.container():
            render()
    except (SQLAlchemyError, DatabaseUnavailable) as error:
        slot.empty()
        database_error(error)


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


def _up_to_date(engine: Engine) -> bool:
    """The schema at this version's revision and the rollups of this version (reads only)."""
    with engine.connect() as connection:
        return migrate.is_current(connection) and rollups.installed_version(connection) == (
            rollups.definition_version(connection.dialect.name))


def _schema_current(engine: Engine) -> None:
    """A database from an older version is upgraded once (rollups rebuilt with it); a role
    that may not gets SchemaOutdated, whose banner names `python -m data_access migrate`."""
    with st.spinner("Upgrading the database schema (once, after an upgrade)…"):
        report = migrate.ensure_current(engine)
    if report is not None:
        st.toast(report.line())


def _rollups_current(engine: Engine) -> None:
    """A database from an older version gets its rollups built once, before any page reads."""
    with st.spinner("Building the daily rollups from the raw rows (once, after an upgrade)…"):
        if rollups.ensure_current(engine):
            st.toast("Daily rollups built.")


def _seed_with_progress(engine: Engine) -> None:
    config = DemoConfig.ending(scale=demo_scale())
    bar = st.progress(0.0, text="First start: creating the database and loading demo data…")

    def report(fraction: float, message: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=message)

    summary = generate_demo(engine, config, report)
    bar.empty()
    st.toast(f"Demo data loaded: {summary.contacts:,} contacts in {summary.seconds:.0f} s.")


_PINNED = threading.local()  # the data version of the script run in this thread, if pinned


@st.cache_data(ttl=REFRESH_SECONDS, max_entries=8, show_spinner=False)
def _data_version(url: str, window: int) -> tuple[int, ...]:
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
    return _data_version(url, _version_window())


def _with_one_data_version(render: Callable[[], None]) -> None:
    """Run `render` with one data version for all its queries (none straddles two)."""
    url = database_url()
    _PINNED.version = (url, _data_version(url, _version_window()))
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


def abandonment_target() -> float:
    """Abandoned ÷ queued above this raises an alert on the overview (0.05 by default)."""
    name, default = ABANDONMENT_TARGET_SETTING
    return _number_setting(name, default, *ABANDONMENT_TARGET_RANGE)
