"""Shared app state: the cached engine, first-start seeding and cached queries."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import polars as pl
import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from data_access import queries
from data_access.config import ConfigError, mask_url, resolve_database_url, scrub
from data_access.demo import DemoConfig, DemoError, generate_demo, needs_demo
from data_access.engine import DatabaseUnavailable, check_connection, create_db_engine

REFRESH_SECONDS = 30
_SEED_LOCK = threading.Lock()
_READY_URLS: set[str] = set()
P = ParamSpec("P")
R = TypeVar("R")


@st.cache_resource(show_spinner=False)
def get_engine(url: str) -> Engine:
    return create_db_engine(url)


def database_url() -> str:
    return resolve_database_url()


def _number_setting(name: str, default: float, low: float, high: float) -> float:
    """A numeric setting from the environment; a bad value is named, then the default used."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        st.warning(f"{name}={raw!r} must be a number within {low:g}..{high:g}; "
                   f"using {default:g}.")
        return default
    return value


def demo_scale() -> float:
    """SERVICEPULSE_DEMO_SCALE lets tests and small machines seed a smaller demo."""
    return _number_setting("SERVICEPULSE_DEMO_SCALE", 1.0, 0.001, 50)


def nps_target() -> float:
    """The NPS target line (40 for 2022 at the reference customer)."""
    return _number_setting("SERVICEPULSE_NPS_TARGET", 40.0, -100, 100)


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
                _READY_URLS.add(url)
    except (DatabaseUnavailable, ConfigError) as error:
        st.error(f"The database is unavailable: {error}. Retrying on the next refresh.")
        return None
    except (SQLAlchemyError, DemoError) as error:
        message = scrub(str(getattr(error, "orig", None) or error).splitlines()[0], url)
        st.error(f"The database {mask_url(url)} could not be prepared: {message}")
        return None
    return engine


def _seed_with_progress(engine: Engine) -> None:
    config = DemoConfig.ending(scale=demo_scale())
    bar = st.progress(0.0, text="First start: creating the database and loading demo data…")

    def report(fraction: float, message: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=message)

    summary = generate_demo(engine, config, report)
    bar.empty()
    st.toast(f"Demo data loaded: {summary.contacts:,} contacts in {summary.seconds:.0f} s.")


def _cached(function: Callable[P, R]) -> Callable[P, R]:
    """Run a data_access query on a fresh connection, cached for one refresh interval."""

    def run(url: str, *args, **kwargs):
        with get_engine(url).connect() as connection:
            return function(connection, *args, **kwargs)

    run.__name__ = run.__qualname__ = f"cached_{function.__name__}"
    cached = st.cache_data(ttl=REFRESH_SECONDS, max_entries=128, show_spinner=False)(run)

    def call(*args, **kwargs):
        return cached(database_url(), *args, **kwargs)

    return call


nps_by_period: Callable[..., pl.DataFrame] = _cached(queries.nps_by_period)
contacts_by_period: Callable[..., pl.DataFrame] = _cached(queries.contacts_by_period)
kpis: Callable[..., dict] = _cached(queries.kpis)
