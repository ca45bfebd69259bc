"""Streamlit glue of the staffing simulator page: URL state, widgets, cached runs.

The pure parts live in `ui.sim_form` (fields, URL codec, levers as changes) and
`ui.sim_results` (the answer, tables, frames); this module syncs widgets with the URL, runs the
form and preset callbacks, and caches (ttl, max_entries) baseline learning, NPS curve
fitting, simulations and sweeps.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from data_access.engine import DatabaseUnavailable
from sim.backtest import Backtest
from sim.config import Scenario, scenario_to_dict
from sim.demand import WEEKDAYS, erlang_by_interval
from sim.learn import (
    backtest_from_database,
    baseline_from_database,
    curve_from_database,
    erlang_reference,
    last_weeks,
    patience_from_database,
)
from sim.nps import WaitNpsCurve
from sim.runner import default_executor, run
from sim.sweep import sweep
from ui import database, layout
from ui.sim_form import (
    DEFAULTS_KEY,
    EXAMPLE_TOML,
    FIELD_BY_KEY,
    FIELDS,
    KEPT_BY_PRESETS,
    PRESET_BY_KEY,
    SCENARIO_KEYS,
    SIGNATURE_KEY,
    SWEEP_KEYS,
    Number,
    edits_from_values,
    example_scenario,
    normalise,
    parse_query,
    setting,
    to_query,
    validated,
    widget_key,
)
from ui.sim_results import SimOutcome, outcome_of

EXAMPLE_DAY = "example Monday"  # the day EXAMPLE_TOML holds
BASELINE_TTL_S = 600
SIM_TTL_S = 3600


# --------------------------------------------------------------------------- Streamlit: URL


def read_url() -> tuple[dict[str, Number], list[str], list[str]]:
    return parse_query(st.query_params.to_dict())


def write_url(edits: Mapping[str, Number]) -> None:
    st.query_params.from_dict(to_query(edits))


def sync_widgets(edits: Mapping[str, Number], defaults: Mapping[str, Number]) -> None:
    """Show the URL's scenario in the forms whenever the URL (or the baseline) changed.

    Between changes the widgets keep what the user typed, as forms normally do. Back from
    another page, Streamlit has dropped the widgets' state: the URL's scenario is shown again.
    """
    st.session_state[DEFAULTS_KEY] = dict(defaults)
    signature = repr((sorted(to_query(edits).items()), sorted(defaults.items())))
    inputs = [spec for spec in FIELDS if spec.group != "flag"]
    if (st.session_state.get(SIGNATURE_KEY) == signature
            and all(widget_key(spec.key) in st.session_state for spec in inputs)):
        return
    for spec in inputs:
        st.session_state[widget_key(spec.key)] = normalise(
            spec, edits.get(spec.key, defaults[spec.key]))
    st.session_state[SIGNATURE_KEY] = signature


def field_input(key: str, notes: Mapping[str, str] | None = None) -> None:
    """The widget for one field, with its bounds, and the baseline's value under it; the
    widget's value lives in session state."""
    spec = FIELD_BY_KEY[key]
    name = widget_key(key)
    if spec.kind == "choice":
        st.selectbox(spec.label, spec.options, key=name, format_func=spec.option_label,
                     help=spec.help)
    elif spec.kind == "int":
        st.number_input(spec.label, min_value=int(spec.low), max_value=int(spec.high),
                        step=int(spec.step), key=name, help=spec.help)
    else:
        st.number_input(spec.label, min_value=float(spec.low), max_value=float(spec.high),
                        step=float(spec.step), format=f"%.{spec.decimals}f", key=name,
                        help=spec.help)
    if notes and key in notes:
        st.caption(notes[key])


def _submit(group: str) -> None:
    current, _, _ = read_url()
    defaults = st.session_state.get(DEFAULTS_KEY, {})
    keys = SCENARIO_KEYS if group == "scenario" else SWEEP_KEYS
    values = {key: st.session_state.get(widget_key(key)) for key in keys}
    kept = {k: v for k, v in current.items() if FIELD_BY_KEY[k].group != group}
    edits = kept | edits_from_values(values, defaults, keys)
    if group == "sweep":
        edits["sweep"] = 1
    else:
        edits.pop("sweep", None)  # a new scenario does not re-run the grid until asked
    write_url(edits)


def submit_scenario() -> None:
    """Form callback: the submitted inputs become the URL (then the page reruns from it)."""
    _submit("scenario")


def submit_sweep() -> None:
    _submit("sweep")


def apply_preset(key: str) -> None:
    """Button callback: the baseline plus the preset's edits; run settings are kept."""
    current, _, _ = read_url()
    kept = {k: v for k, v in current.items() if k in KEPT_BY_PRESETS}
    write_url(kept | PRESET_BY_KEY[key].edits)
    st.session_state.pop(SIGNATURE_KEY, None)  # show the preset even over unsaved typing


# --------------------------------------------------------------------------- Streamlit: data


@dataclass(frozen=True)
class Baseline:
    scenario: Scenario
    note: str
    from_database: bool

    @property
    def data(self) -> dict[str, Any]:
        return scenario_to_dict(self.scenario)


@dataclass(frozen=True)
class SimView:
    """What the page's figures cover: the day and interval length every chart title and CSV
    file name carry."""

    day: str
    interval_minutes: int

    def file_name(self, name: str) -> str:
        day = re.sub(r"\W+", "_", self.day.lower()).strip("_")
        return f"servicepulse_simulator_{name}_{day}_{self.interval_minutes}min.csv"


def sim_view(baseline: Baseline, edits: Mapping[str, Number]) -> SimView:
    """The weekday learned from the database, or the example day it fell back to."""
    day = WEEKDAYS[int(setting(edits, "wd"))] if baseline.from_database else EXAMPLE_DAY
    return SimView(day, baseline.scenario.interval_minutes)


def download(frame: pl.DataFrame, name: str, view: SimView, label: str = "CSV",
             help: str = "Download the data behind this view as CSV") -> None:
    """A CSV of `frame`, made when clicked; `name` keys the button and names the file."""
    layout.csv_button(frame, view.file_name(name), f"download_sim_{name}", label, help)


@st.cache_data(ttl=BASELINE_TTL_S, max_entries=32, show_spinner="Learning the baseline day…")
def _learned(url: str, weekday: int, weeks: int, interval_minutes: int
             ) -> tuple[Scenario | None, str]:
    with database.get_engine(url).connect() as connection:
        return baseline_from_database(connection, weekday, weeks, interval_minutes)


def load_baseline(weekday: int, weeks: int, interval_minutes: int) -> Baseline:
    """Learned from the database; the example day when it is unavailable or empty."""
    reason = "the database is unavailable"
    if st.session_state.get("engine_ready"):
        try:
            scenario, reason = _learned(database.database_url(), weekday, weeks, interval_minutes)
        except (DatabaseUnavailable, SQLAlchemyError, ValueError, RuntimeError) as error:
            scenario, reason = None, f"the baseline could not be learned ({type(error).__name__})"
        if scenario is not None:
            return Baseline(scenario, reason, True)
    return Baseline(example_scenario(interval_minutes),
                    f"Using the example Monday from `sim/examples/{EXAMPLE_TOML.name}` as the "
                    f"baseline because {reason}.", False)


@st.cache_data(ttl=BASELINE_TTL_S, max_entries=16, show_spinner=False)
def _patience(url: str, weeks: int) -> dict[str, tuple[float, str]]:
    with database.get_engine(url).connect() as connection:
        return patience_from_database(connection, weeks)


def patience_sources(weeks: int) -> dict[str, tuple[float, str]]:
    """Per channel: the baseline's patience and its source; empty without the database."""
    if not st.session_state.get("engine_ready"):
        return {}
    try:
        return _patience(database.database_url(), weeks)
    except (DatabaseUnavailable, SQLAlchemyError) as error:
        st.caption(f"Patience could not be learned ({type(error).__name__}).")
        return {}


@st.cache_data(ttl=SIM_TTL_S, max_entries=16, show_spinner=False)
def erlang_minimum(data: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """The Erlang A minimum per pool and interval for a scenario's demand (the reference)."""
    return erlang_reference(validated(data))


BACKTEST_WEEKS = 4
BACKTEST_REPLICATIONS = 5


@st.cache_data(ttl=SIM_TTL_S, max_entries=4,
               show_spinner="Backtesting the last 4 weeks (simulating each recorded day)…")
def _backtest(url: str, weeks: int, replications: int) -> tuple[Backtest | None, str]:
    with database.get_engine(url).connect() as connection:
        window = last_weeks(connection, weeks)
        if window is None:
            return None, "the database holds no contacts"
        return backtest_from_database(connection, *window, replications=replications), ""


def last_backtest() -> tuple[Backtest | None, str]:
    """The last 4 weeks' backtest (cached an hour), or why there is none."""
    if not st.session_state.get("engine_ready"):
        return None, "the database is unavailable"
    try:
        return _backtest(database.database_url(), BACKTEST_WEEKS, BACKTEST_REPLICATIONS)
    except (DatabaseUnavailable, SQLAlchemyError, ValueError) as error:
        return None, f"the backtest failed ({type(error).__name__})"


@st.cache_data(ttl=BASELINE_TTL_S, max_entries=4, show_spinner=False)
def _curve(url: str) -> tuple[WaitNpsCurve | None, str]:
    with database.get_engine(url).connect() as connection:
        return curve_from_database(connection)


def nps_curve() -> tuple[WaitNpsCurve | None, str]:
    """The wait→NPS curve from the last 90 days of surveys, or why there is none."""
    if not st.session_state.get("engine_ready"):
        return None, "the database is unavailable"
    try:
        return _curve(database.database_url())
    except (DatabaseUnavailable, SQLAlchemyError) as error:
        return None, f"the survey query failed ({type(error).__name__})"


def _progress_bar(label: str) -> Callable[[float, str], None]:
    bar = st.progress(0.0, text=f"{label}…")

    def report(fraction: float, message: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=f"{label}: {message}")
        if fraction >= 1.0:
            bar.empty()

    return report


@st.cache_data(ttl=SIM_TTL_S, max_entries=32, show_spinner=False)
def simulate(data: dict[str, Any], replications: int, seed: int, curve: WaitNpsCurve | None,
             label: str) -> SimOutcome:
    """One scenario, `replications` days (small jobs in process); cached by its inputs.

    The progress bar is created here, so a cache hit replays it (already finished).
    """
    scenario, report = validated(data), _progress_bar(f"Simulating the {label}")
    result = run(scenario, replications, seed, progress=report)  # small jobs stay in process
    return outcome_of(result, curve)


@st.cache_data(ttl=SIM_TTL_S, max_entries=8, show_spinner=False)
def run_sweep(data: dict[str, Any], pool: str, factors: tuple[float, ...],
              shares: tuple[float, ...], replications: int, seed: int,
              curve: WaitNpsCurve | None) -> pl.DataFrame:
    """The operators × automation grid for one pool, cached by its inputs."""
    scenario = validated(data)
    report = _progress_bar(f"Sweeping {len(factors) * len(shares)} mixes")
    return sweep(scenario, pool, list(factors), list(shares), None, replications, seed,
                 executor=default_executor(), curve=curve, progress=report)


@st.cache_data(ttl=SIM_TTL_S, max_entries=64, show_spinner=False)
def erlang_preview(data: dict[str, Any], series: str) -> pl.DataFrame:
    return erlang_by_interval(validated(data)).with_columns(series=pl.lit(series)).select(
        "series", pl.exclude("series"))


def preview(baseline: dict[str, Any], scenario: dict[str, Any]) -> pl.DataFrame:
    """Erlang A per interval for baseline and scenario, in one long frame (instant)."""
    return pl.concat([erlang_preview(baseline, "baseline"), erlang_preview(scenario, "scenario")])
