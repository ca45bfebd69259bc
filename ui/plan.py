"""Streamlit glue of the Plan page: URL state, the form, cached steps with progress, CSV.

The steps are pure functions elsewhere: sim.forecast (demand per quarter hour with
intervals), sim.forecast_backtest (accuracy vs the baselines), sim.required (agents per
quarter and pool), sim.roster (CP-SAT shifts), sim.plan (the week simulated). Each step is
cached by its inputs (the database URL, the weeks, the roster's size and time limit, ...), so
a shared link or a return to the page is instant after the first run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from data_access.engine import DatabaseUnavailable
from data_access.history import arrivals_by_quarter
from data_access.holidays import holiday_dates
from data_access.queries import (
    Filters,
    front_line_coverage,
    handling_by_channel,
    latest_contact_date,
)
from sim.forecast import forecast_intervals
from sim.forecast_backtest import Backtest, backtest
from sim.forecast_total import TotalInterval, daily_forecasts, total_interval
from sim.learn import curve_from_database, patience_from_database
from sim.nps import WaitNpsCurve
from sim.plan import SimulatedPlan, simulate_plan, with_extra_operators
from sim.required import required_agents
from sim.roster import RosterPlan, solve_roster, staffing_frame
from sim.roster_config import (
    RosterSettings,
    build_problem,
    generate_operators,
    requirement_arrays,
)
from sim.runner import default_executor
from ui import database, layout
from ui.plan_form import (
    BOT_SHARE,
    EXTRA_OPERATORS,
    OPERATORS_HELP,
    OPERATORS_HIGH,
    OPERATORS_LABEL,
    POOL_CHOICES,
    POOL_HELP,
    POOL_LABEL,
    POOL_LABELS,
    REPLICATIONS,
    SEED,
    TIME_LIMIT,
    WEEKS,
    IntField,
    PlanInputs,
    from_widgets,
    parse_query,
    to_query,
    widget_values,
)

HISTORY_DAYS = 420  # a year for the daily model plus the backtest's weeks before it
HANDLING_DAYS = 56  # handle times, automation shares and patience: the last 8 weeks
BACKTEST_WEEKS = 4
TTL_S = 3600
SIGNATURE_KEY = "_plan_signature"
NO_DATABASE = ("The Plan page forecasts from the database, which is unavailable: "
               "{reason}.")
NO_HISTORY = "The database holds no contacts to forecast from."
STEP_READ = "Reading the history, handling and patience…"
STEP_FORECAST = "Forecasting {weeks} week(s) per quarter hour and channel…"
STEP_BACKTEST = "Backtesting the forecast over the last {weeks} weeks…"
STEP_REQUIRED = "Sizing the required agents (Erlang A)…"
STEP_ROSTER = "Building the roster of {operators} operators (CP-SAT, up to {limit} s)…"
STEP_SIMULATE = "Simulating the week with the roster"
STATUS_RUNNING = "Planning…"
STATUS_DONE = "Plan ready"
STATUS_FAILED = "The plan could not be made"
FAILED = "The plan could not be made: {error}"
SUBMIT = "Plan"
INPUTS_LABEL = "Plan inputs: {weeks} week(s), {pools}, {operators}, roster limit {limit} s"
OPERATORS_ON_RECORD = "operators as on record"
OPERATORS_GENERATED = "{count} operators"
COMPARE = "Compare the what-ifs"
FORM_CAPTION = ("Operators 0 = the number on record. The roster runs with a short time limit "
                "so the page opens fast; raise it for a plan nearer the optimum.")


@dataclass(frozen=True)
class PlanData:
    """What the plan reads from the database, once per database and hour."""

    history: pl.DataFrame
    handling: pl.DataFrame
    patience_s: dict[str, float]
    origin: dt.date
    operators_on_record: int
    curve: WaitNpsCurve | None


def widget_key(key: str) -> str:
    return f"plan_{key}"


def read_url() -> tuple[PlanInputs, list[str], list[str]]:
    return parse_query(st.query_params.to_dict())


def write_url(inputs: PlanInputs) -> None:
    st.query_params.from_dict(to_query(inputs))


def sync_widgets(inputs: PlanInputs) -> None:
    """Show the URL's plan in the form whenever the URL changed (or the widgets were dropped
    by a visit to another page); between changes the widgets keep what the user typed."""
    values = widget_values(inputs)
    signature = repr(sorted(to_query(inputs).items()))
    if st.session_state.get(SIGNATURE_KEY) == signature and all(
            widget_key(key) in st.session_state for key in values):
        return
    for key, value in values.items():
        st.session_state[widget_key(key)] = value
    st.session_state[SIGNATURE_KEY] = signature


def _submit(compare: bool) -> None:
    values = {key: st.session_state.get(widget_key(key))
              for key in widget_values(PlanInputs())}
    write_url(from_widgets(values, compare))


def submit_plan() -> None:
    """Form callback: the submitted inputs become the URL (the what-ifs wait until asked)."""
    _submit(compare=False)


def submit_compare() -> None:
    _submit(compare=True)


def int_input(field: IntField) -> None:
    st.number_input(field.label, min_value=field.low, max_value=field.high, step=1,
                    key=widget_key(field.key), help=field.help)


def inputs_label(inputs: PlanInputs) -> str:
    """The collapsed form's label names the plan shown, so the answer can come first."""
    operators = (OPERATORS_ON_RECORD if inputs.operators is None
                 else OPERATORS_GENERATED.format(count=inputs.operators))
    return INPUTS_LABEL.format(weeks=inputs.weeks, pools=POOL_LABELS[inputs.pool].lower(),
                               operators=operators, limit=inputs.time_limit_s)


def plan_form(inputs: PlanInputs) -> None:
    """The plan's inputs; submitting writes them to the URL and the page reruns from it."""
    with st.expander(inputs_label(inputs)), st.form("plan"):
        first = st.columns(4)
        with first[0]:
            int_input(WEEKS)
        with first[1]:
            st.selectbox(POOL_LABEL, POOL_CHOICES, key=widget_key("pool"),
                         format_func=POOL_LABELS.get, help=POOL_HELP)
        with first[2]:
            st.number_input(OPERATORS_LABEL, min_value=0, max_value=OPERATORS_HIGH, step=10,
                            key=widget_key("ops"), help=OPERATORS_HELP)
        with first[3]:
            int_input(TIME_LIMIT)
        second = st.columns(4)
        for column, field in zip(second, (EXTRA_OPERATORS, BOT_SHARE, REPLICATIONS, SEED),
                                 strict=True):
            with column:
                int_input(field)
        st.caption(FORM_CAPTION)
        left, right = st.columns(2)
        left.form_submit_button(SUBMIT, type="primary", on_click=submit_plan,
                                key="plan_submit", width="stretch")
        right.form_submit_button(COMPARE, on_click=submit_compare, key="plan_compare",
                                 width="stretch")


# --------------------------------------------------------------------------- cached steps


@st.cache_data(ttl=TTL_S, max_entries=4, show_spinner=False)
def load_data(url: str) -> PlanData | None:
    """History up to the newest contact, handling, patience, operators on record, NPS curve."""
    with database.get_engine(url).connect() as connection:
        origin = latest_contact_date(connection)
        if origin is None:
            return None
        history = arrivals_by_quarter(connection, origin - dt.timedelta(days=HISTORY_DAYS - 1),
                                      origin)
        handling = handling_by_channel(connection, Filters(
            origin - dt.timedelta(days=HANDLING_DAYS - 1), origin))
        patience = patience_from_database(connection, HANDLING_DAYS // 7, origin)
        active = front_line_coverage(connection, Filters(origin.replace(day=1), origin))
        curve, _ = curve_from_database(connection)
    on_record = int(active["active_operators"].max() or 0) if active.height else 0
    return PlanData(history, handling, {code: value for code, (value, _) in patience.items()},
                    origin, on_record, curve)


@st.cache_data(ttl=TTL_S, max_entries=8, show_spinner=False)
def forecast_step(url: str, weeks: int) -> pl.DataFrame:
    data = load_data(url)
    return forecast_intervals(data.history, data.origin, weeks, holiday_dates())


@st.cache_data(ttl=TTL_S, max_entries=8, show_spinner=False)
def total_step(url: str, weeks: int) -> TotalInterval:
    """The horizon's total contacts with a 95% prediction interval."""
    data = load_data(url)
    daily = daily_forecasts(data.history, data.origin, 7 * weeks, holiday_dates())
    return total_interval(daily)


@st.cache_data(ttl=TTL_S, max_entries=4, show_spinner=False)
def backtest_step(url: str, weeks: int) -> Backtest:
    return backtest(load_data(url).history, holiday_dates(), weeks)


@st.cache_data(ttl=TTL_S, max_entries=8, show_spinner=False)
def required_step(url: str, weeks: int) -> pl.DataFrame:
    data = load_data(url)
    return required_agents(forecast_step(url, weeks), data.handling, data.patience_s)


@st.cache_data(ttl=TTL_S, max_entries=16, show_spinner=False)
def roster_step(url: str, weeks: int, operators: int, time_limit_s: int, seed: int
                ) -> RosterPlan:
    dates, required = requirement_arrays(required_step(url, weeks))
    settings = RosterSettings(time_limit_s=float(time_limit_s), seed=seed)
    return solve_roster(build_problem(dates, required, generate_operators(operators, seed),
                                      settings))


@st.cache_data(ttl=TTL_S, max_entries=32, show_spinner=False)
def simulate_step(url: str, weeks: int, operators: int, time_limit_s: int, seed: int,
                  replications: int, extra_pools: tuple[str, ...] = (), extra: int = 0,
                  bot_points: int = 0) -> SimulatedPlan:
    """The roster's week simulated; optionally with extra agents or a larger bot share.

    The progress bar is made here, so a cache hit replays it (already finished)."""
    data = load_data(url)
    report = _bar(STEP_SIMULATE)
    staffing = staffing_frame(roster_step(url, weeks, operators, time_limit_s, seed))
    for pool in extra_pools:
        staffing = with_extra_operators(staffing, pool, extra)
    return simulate_plan(forecast_step(url, weeks), data.handling, staffing, replications,
                         seed, data.curve, data.patience_s, extra_bot_share=bot_points / 100,
                         executor=default_executor(), progress=report)


@dataclass(frozen=True)
class PlanOutcome:
    """Every part of the plan the page shows."""

    data: PlanData
    operators: int
    forecast: pl.DataFrame
    total: TotalInterval
    tested: Backtest | None
    roster: RosterPlan
    simulated: SimulatedPlan
    compared: dict[str, SimulatedPlan]


def _bar(label: str) -> Callable[[float, str], None]:
    bar = st.progress(0.0, text=label)

    def report(fraction: float, message: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=f"{label}: {message}")
        if fraction >= 1.0:
            bar.empty()

    return report


def run_plan(inputs: PlanInputs) -> PlanOutcome | None:
    """Every step in order inside one status box (finished steps come from the cache)."""
    if not st.session_state.get("engine_ready"):
        st.error(NO_DATABASE.format(reason="no connection"))
        return None
    url = database.database_url()
    with st.status(STATUS_RUNNING, expanded=False) as status:
        try:
            outcome = _steps(url, inputs)
        except (DatabaseUnavailable, SQLAlchemyError) as error:
            status.update(label=STATUS_FAILED, state="error")
            st.error(NO_DATABASE.format(reason=type(error).__name__))
            return None
        except (ValueError, RuntimeError) as error:
            status.update(label=STATUS_FAILED, state="error")
            st.error(FAILED.format(error=str(error).splitlines()[0]))
            return None
        if outcome is None:
            status.update(label=STATUS_FAILED, state="error")
            st.info(NO_HISTORY)
            return None
        status.update(label=STATUS_DONE, state="complete")
    return outcome


def _steps(url: str, inputs: PlanInputs) -> PlanOutcome | None:
    st.write(STEP_READ)
    data = load_data(url)
    if data is None:
        return None
    operators = inputs.operators or max(data.operators_on_record, 1)
    st.write(STEP_FORECAST.format(weeks=inputs.weeks))
    forecast = forecast_step(url, inputs.weeks)
    total = total_step(url, inputs.weeks)
    st.write(STEP_BACKTEST.format(weeks=BACKTEST_WEEKS))
    try:
        tested = backtest_step(url, BACKTEST_WEEKS)
    except ValueError:  # history too short for a backtest: the plan goes on without it
        tested = None
    st.write(STEP_REQUIRED)
    required_step(url, inputs.weeks)
    st.write(STEP_ROSTER.format(operators=operators, limit=inputs.time_limit_s))
    roster = roster_step(url, inputs.weeks, operators, inputs.time_limit_s, inputs.seed)
    key = (url, inputs.weeks, operators, inputs.time_limit_s, inputs.seed, inputs.replications)
    simulated = simulate_step(*key)
    compared = {}
    if inputs.compare:
        compared["more"] = simulate_step(*key, inputs.pools, inputs.extra_operators)
        compared["bot"] = simulate_step(*key, bot_points=inputs.bot_points)
    return PlanOutcome(data, operators, forecast, total, tested, roster, simulated, compared)


def file_name(part: str, origin: dt.date, inputs: PlanInputs) -> str:
    """The part, the plan's first day, weeks and roster size in the file name."""
    operators = inputs.operators or "record"
    return (f"servicepulse_plan_{part}_{origin + dt.timedelta(days=1)}_{inputs.weeks}w_"
            f"{operators}ops_{inputs.pool}.csv")


def download(frame: pl.DataFrame, part: str, origin: dt.date, inputs: PlanInputs,
             label: str = "CSV") -> None:
    """A CSV of `frame` (spreadsheet-safe text, made when clicked)."""
    layout.csv_button(frame, file_name(part, origin, inputs), f"download_plan_{part}",
                      label, f"Download the {part.replace('_', ' ')} as CSV")
