"""The database behind the pages: the cached engine, first-start seeding (schema, demo data,
upgrades) and the banners that replace a page when the database cannot be used."""

from __future__ import annotations

import threading
from collections.abc import Callable

import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from data_access import migrate, rollups
from data_access.config import (
    ConfigError,
    mask_url,
    resolve_database_url,
    scrub,
)
from data_access.demo import DemoConfig, DemoError, generate_demo, needs_demo
from data_access.engine import (
    DatabaseUnavailable,
    check_connection,
    create_db_engine,
    first_line,
)
from data_access.migrate import MigrationFailed, SchemaOutdated
from data_access.rollups import RollupsOutdated
from ui.settings import REFRESH_SECONDS, demo_scale
from ui.view_state import message_text

_SEED_LOCK = threading.Lock()
_READY_URLS: set[str] = set()


@st.cache_resource(show_spinner=False)
def get_engine(url: str) -> Engine:
    return create_db_engine(url)


def database_url() -> str:
    return resolve_database_url()


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
        message = scrub(first_line(error), url)
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
    reason = scrub(first_line(error), url)
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
