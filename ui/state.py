"""Shared app state: the cached engine, first-start seeding and cached queries."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import polars as pl
import streamlit as st
from sqlalchemy import Engine, func, inspect, select

from data_access import queries
from data_access.config import mask_url, resolve_database_url
from data_access.demo import DemoConfig, generate_demo
from data_access.engine import DatabaseUnavailable, check_connection, create_db_engine
from data_access.schema import Contact

REFRESH_SECONDS = 30
_SEED_LOCK = threading.Lock()
P = ParamSpec("P")
R = TypeVar("R")


@st.cache_resource(show_spinner=False)
def get_engine(url: str) -> Engine:
    return create_db_engine(url)


def database_url() -> str:
    return resolve_database_url()


def demo_scale() -> float:
    """SERVICEPULSE_DEMO_SCALE lets tests and small machines seed a smaller demo."""
    raw = os.environ.get("SERVICEPULSE_DEMO_SCALE", "1")
    try:
        scale = float(raw)
    except ValueError:
        st.warning(f"SERVICEPULSE_DEMO_SCALE={raw!r} is not a number; using 1.")
        return 1.0
    return scale if 0 < scale <= 50 else 1.0


def _is_empty(engine: Engine) -> bool:
    if not inspect(engine).has_table(Contact.__tablename__):
        return True
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(
            select(Contact.id).limit(1).subquery())) == 0


def ensure_database() -> Engine | None:
    """Connect; on an empty database create the schema and seed the demo with a progress bar.

    Returns None after showing one banner when the database cannot be reached.
    """
    url = database_url()
    try:
        engine = get_engine(url)
        check_connection(engine)
        if _is_empty(engine):
            with _SEED_LOCK:
                if _is_empty(engine):
                    _seed_with_progress(engine)
    except DatabaseUnavailable as error:
        st.error(f"The database is unavailable: {error}. Retrying on the next refresh.")
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


def masked_database_url() -> str:
    return mask_url(database_url())


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
nps_total: Callable[..., pl.DataFrame] = _cached(queries.nps_total)
contacts_by_period: Callable[..., pl.DataFrame] = _cached(queries.contacts_by_period)
case_counts: Callable[..., dict[str, int]] = _cached(queries.case_counts)
kpis: Callable[..., dict] = _cached(queries.kpis)
