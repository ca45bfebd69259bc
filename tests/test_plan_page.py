"""The "Plan" page: AppTest on a seeded SQLite file, its URL codec, CSV safety, and the
forecast total's interval (sim/forecast_total.py).

The page runs the whole loop (forecast, backtest, required agents, a CP-SAT roster with a
few seconds' limit, the week simulated with 3 replications): one run takes ~20 s.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from sim.forecast import forecast_intervals
from sim.forecast_total import daily_forecasts, total_interval
from ui import plan as planner
from ui import plan_form as form
from ui import plan_results as results
from ui.layout import csv_bytes

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE = "pages/plan.py"
FAST = {"reps": "3", "tl": "4"}


def open_page(monkeypatch, url: str, **params: str) -> AppTest:
    """The app with the Plan page open and `params` in its URL (as a deep link)."""
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SERVICEPULSE_DEMO_SCALE", "0.01")
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page(PAGE)
    for key, value in {**FAST, **params}.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# --------------------------------------------------------------------------- URL codec


def test_url_codec_round_trips_every_input():
    inputs = form.PlanInputs(weeks=3, pool="office", operators=120, time_limit_s=30,
                             extra_operators=7, bot_points=15, replications=4, seed=9,
                             compare=True)
    parsed, warnings, errors = form.parse_query(form.to_query(inputs))
    assert (parsed, warnings, errors) == (inputs, [], [])
    assert form.to_query(form.PlanInputs()) == {}  # the defaults make a short link
    assert form.parse_query({"ops": "record"})[0].operators is None


@pytest.mark.parametrize("key, value, named", [
    ("wk", "9", "Weeks ahead"), ("wk", "two", "Weeks ahead"), ("tl", "1.5", "time limit"),
    ("ops", "-3", "operators in the roster"), ("pool", "bank", "Pool(s)"),
    ("reps", "1e9", "Replications"),
])
def test_bad_url_values_name_the_field_and_the_value(key, value, named):
    inputs, _, errors = form.parse_query({key: value})
    assert len(errors) == 1
    assert f"'{key}'" in errors[0] and named in errors[0] and repr(value) in errors[0]
    assert inputs == form.PlanInputs()  # nothing half-applied


def test_url_values_are_shown_as_code_not_markdown():
    _, warnings, errors = form.parse_query({"wk": "[x](http://evil/)", "a`b": "1"})
    assert "` '[x](http://evil/)' `" in errors[0]
    assert "`` 'a`b' ``" in warnings[0]


# --------------------------------------------------------------------------- pure parts


def test_csv_of_the_roster_is_safe_in_a_spreadsheet():
    start = dt.datetime(2022, 8, 1, 9)
    shifts = pl.DataFrame({
        "operator_id": ["OP0001"], "name": ["=HYPERLINK(\"http://evil\",\"x\")"],
        "date": [start.date()], "pool": ["office"], "template": ["office_weekday"],
        "start": [start], "end": [start + dt.timedelta(hours=8)],
        "break_start": [start + dt.timedelta(hours=4)],
        "break_end": [start + dt.timedelta(hours=4, minutes=30)],
        "paid_h": [8.0], "cost": [20_000.0]})
    text = csv_bytes(results.roster_table(shifts, ("office",))).decode()
    assert "'=HYPERLINK" in text
    assert ",=HYPERLINK" not in text and "\n=" not in text
    assert "09:00,17:00,13:00" in text  # times as the planner reads them


def test_days_meet_the_target_only_when_every_pool_does():
    day = dt.date(2022, 8, 1)
    intervals = pl.DataFrame({
        "date": [day] * 4 + [day + dt.timedelta(days=1)] * 2,
        "pool": ["digital", "digital", "office", "office", "digital", "office"],
        "queued": [10.0, 30.0, 5.0, 0.0, 10.0, 10.0],
        "queue_service_level": [0.5, 0.9, 0.9, 0.0, 0.9, 0.7],
        "sl_target": [0.8, 0.8, 0.8, 0.8, 0.8, 0.8]})
    met = results.days_meeting_target(intervals)
    # Day 1: digital (0.5·10 + 0.9·30)/40 = 0.8 meets, office 0.9 meets (the empty quarter
    # does not count); day 2: office 0.7 misses.
    assert met["met"].to_list() == [True, False]


def test_forecast_total_interval_is_narrower_than_summed_quarters(seeded_sqlite_url):
    from data_access.engine import create_db_engine
    from data_access.history import arrivals_by_quarter
    from data_access.holidays import holiday_dates
    from data_access.queries import latest_contact_date

    engine = create_db_engine(seeded_sqlite_url)
    with engine.connect() as connection:
        origin = latest_contact_date(connection)
        history = arrivals_by_quarter(connection, origin - dt.timedelta(days=419), origin)
    engine.dispose()
    holidays = holiday_dates()
    forecast = forecast_intervals(history, origin, 1, holidays)
    daily = daily_forecasts(history, origin, 7, holidays)
    interval = total_interval(daily)
    total = forecast["forecast"].sum()
    # The daily model is the forecast's: the same total (shares sum to 1 on open days).
    assert interval.total == pytest.approx(total, rel=1e-6)
    assert interval.low < total < interval.high
    assert interval.high - interval.low < forecast["hi95"].sum() - forecast["lo95"].sum()
    # Counting noise alone is a floor on the width: ±1.96·√total.
    assert interval.high - interval.low >= 2 * 1.96 * np.sqrt(total) - 1e-6


def test_forecast_total_interval_holds_the_weeks_that_came(seeded_sqlite_url):
    """Rolling origins over the last 8 weeks: the 95% interval holds the actual week's total
    in at least 6 (P(≤ 5 of 8) = 0.6% for a true 95% interval) and the 80% one in at least 4
    (P(≤ 3 of 8) = 1% for a true 80%); and it is narrow enough to say something (measured at
    scale 1: 9 of 12 inside the 80% interval, 11 of 12 inside the 95% one)."""
    from data_access.engine import create_db_engine
    from data_access.history import arrivals_by_quarter
    from data_access.holidays import holiday_dates
    from data_access.queries import latest_contact_date

    engine = create_db_engine(seeded_sqlite_url)
    with engine.connect() as connection:
        last = latest_contact_date(connection)
        history = arrivals_by_quarter(connection, last - dt.timedelta(days=419 + 56), last)
    engine.dispose()
    holidays = holiday_dates()
    inside = {0.8: 0, 0.95: 0}
    for step in range(8, 0, -1):
        origin = last - dt.timedelta(days=7 * step)
        daily = daily_forecasts(history, origin, 7, holidays)
        actual = history.filter(pl.col("day").is_between(
            origin + dt.timedelta(days=1), origin + dt.timedelta(days=7)))["arrivals"].sum()
        for level in inside:
            interval = total_interval(daily, level)
            inside[level] += interval.low <= actual <= interval.high
            assert interval.high - interval.low < 0.5 * interval.total
    assert inside[0.95] >= 6 and inside[0.8] >= 4, inside


# --------------------------------------------------------------------------- the page


def test_page_opens_with_the_answer_and_every_part(monkeypatch, seeded_sqlite_url):
    at = open_page(monkeypatch, seeded_sqlite_url)
    assert at.title[0].value == "Plan"
    assert not at.error, [e.value for e in at.error]
    answer = at.success[0].value
    assert answer.startswith("Next week (1 Aug – 7 Aug 2022):"), answer
    assert "contacts forecast [" in answer and "operators" in answer
    assert "simulated SL" in answer and "target met on" in answer and "of 7 days" in answer
    labels = {b.proto.label for b in at.get("download_button")}
    assert {"Forecast per quarter (CSV)", "Backtest accuracy (CSV)",
            "Coverage per quarter (CSV)", "Roster (CSV)", "Simulated week (CSV)"} <= labels
    tables = [d.value for d in at.dataframe]
    days = next(t for t in tables if "Target met" in t.columns)
    assert len(days) == 7 and days["Service level (%)"].str.contains(r"\[").all()
    accuracy = next(t for t in tables if "WAPE total (%)" in t.columns)
    assert list(accuracy["Method"]) == ["Forecast model", "Same quarter last week",
                                        "8-week weekday mean"]
    assert any("Compare the what-ifs" in i.value for i in at.info)  # not run until asked
    assert not [d for d in tables if "Plan" in d.columns]


def test_url_round_trip_through_the_form(monkeypatch, seeded_sqlite_url):
    at = open_page(monkeypatch, seeded_sqlite_url, pool="office", ops="12")
    assert at.number_input(key=planner.widget_key("ops")).value == 12
    assert at.selectbox(key=planner.widget_key("pool")).value == "office"
    at.number_input(key=planner.widget_key("more")).set_value(3)
    at.button(key="plan_compare").click().run()
    assert not at.exception, [e.value for e in at.exception]
    query = {k: at.query_params[k] for k in at.query_params}
    assert query == {"pool": "office", "ops": "12", "more": "3", "cmp": "1", **FAST}
    # The what-ifs ran: three whole weeks side by side, the extra agents in the office pool.
    table = next(d.value for d in at.dataframe if "Plan" in d.value.columns)
    assert list(table["Plan"]) == ["The roster", "+3 agents per staffed quarter (office)",
                                   "Bot share +10 points"]
    # The same link in a new session shows the same inputs.
    again = open_page(monkeypatch, seeded_sqlite_url, **{k: v for k, v in query.items()
                                                         if k not in FAST})
    assert again.number_input(key=planner.widget_key("more")).value == 3
    assert again.success[0].value == at.success[0].value


def test_a_bad_url_value_is_named_and_nothing_is_planned(monkeypatch, seeded_sqlite_url):
    at = open_page(monkeypatch, seeded_sqlite_url, wk="9")
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "'wk'" in errors[0] and "'9'" in errors[0]
    assert not at.success  # no answer for a plan that was not asked for


# --------------------------------------------------------------------------- in Chromium

PLAN_TIMEOUT_MS = 240_000  # a fresh server forecasts, backtests, rosters and simulates


@pytest.fixture(scope="module")
def plan_server(tmp_path_factory):
    """A demo story that ends today, served for the browser checks of this module."""
    from data_access.demo import DemoConfig, generate_demo
    from data_access.engine import create_db_engine
    from tests.test_e2e import E2E_SCALE, AppServer

    url = f"sqlite:///{tmp_path_factory.mktemp('plan') / 'today.db'}"
    engine = create_db_engine(url)
    generate_demo(engine, DemoConfig.ending(scale=E2E_SCALE))
    engine.dispose()
    server = AppServer(url)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.mark.browser
@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_plan_page_in_chromium(chromium, plan_server, tmp_path, device):
    """The whole page at desktop and phone width: the answer, every chart drawn, nothing wider
    than the screen on a phone; photographed (docs/screenshots/ with
    SERVICEPULSE_SCREENSHOTS=1)."""
    import playwright.sync_api as playwright_api

    from tests.test_e2e import chromium_launched, report, visit
    from tests.test_phone_e2e import DESKTOP, PHONE, page_problems, photograph, settle

    viewport = DESKTOP if device == "desktop" else PHONE
    with chromium_launched(chromium) as browser, \
            visit(browser, plan_server, "/plan", viewport=viewport) as (page, problems):
        answer = page.get_by_test_id("stAlertContentSuccess").first
        playwright_api.expect(answer).to_contain_text("simulated SL", timeout=PLAN_TIMEOUT_MS)
        last = page.get_by_test_id("stAlertContentInfo").filter(has_text="Compare the what-ifs")
        playwright_api.expect(last).to_be_visible(timeout=PLAN_TIMEOUT_MS)  # the page's end
        settle(page)
        found = page_problems(page, problems)
        charts = page.get_by_test_id("stVegaLiteChart").count()
        if charts < 6:  # 2 forecasts, 2 staffing curves, the roster, the week
            found.append(f"{charts} charts drawn, expected 6")
        overflow = page.evaluate("Math.max(document.documentElement.scrollWidth, "
                                 "document.querySelector('[data-testid=stMain]').scrollWidth)")
        if overflow > viewport[0] + 1:
            found.append(f"the page is {overflow} px wide on a {viewport[0]} px screen")
        photograph(page, tmp_path / f"plan-{device}.png", viewport[0])
        assert not found, report(found, page, plan_server)
    assert (tmp_path / f"plan-{device}.png").stat().st_size > 20_000
