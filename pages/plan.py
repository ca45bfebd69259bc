"""Plan: next weeks' forecast, the roster that covers it, and the roster's week simulated."""

import streamlit as st

from ui import plan as planner
from ui import plan_charts as charts
from ui import plan_results as results
from ui.frame import run_inside_frame

TITLE = "Plan"
INTRO = ("Next weeks' demand per quarter hour and channel, the agents it needs, a shift "
         "roster that covers them at least cost, and that roster's week run through the "
         "simulator. The link in the address bar reopens this plan.")
FORECAST = "Forecast"
STAFFING = "Required vs rostered agents"
ROSTER = "Roster"
WEEK = "The week simulated"
WHAT_IFS = "What-ifs: whole weeks"
WHAT_IFS_ASK = "Press 'Compare the what-ifs' to simulate the week with more operators and " \
               "with a larger bot share."
NO_BACKTEST = "No backtest: the history is too short for 4 weeks with 8 before them."
NO_NPS = "Predicted NPS needs the wait→NPS curve from surveys; the database has too few."

run_inside_frame()

st.title(TITLE)
answer_slot = st.empty()
st.caption(INTRO)

inputs, url_warnings, url_errors = planner.read_url()
for warning in url_warnings:
    st.warning(warning)
planner.sync_widgets(inputs)
planner.plan_form(inputs)
for error in url_errors:
    st.error(error)
if url_errors:
    st.stop()  # a misread link must not quietly plan something else

outcome = planner.run_plan(inputs)
if outcome is None:
    st.stop()
origin, roster, simulated = outcome.data.origin, outcome.roster, outcome.simulated
met = results.days_meeting_target(simulated.intervals)
total = results.forecast_total(outcome.forecast, outcome.total)
answer_slot.success(results.answer(inputs.weeks, total, roster.summary, simulated.week, met),
                    icon=":material/insights:")
st.caption(results.INTERVAL_NOTE)

st.subheader(FORECAST)
hourly = results.hourly_forecast(outcome.forecast, inputs.pools)
for pool in inputs.pools:
    st.altair_chart(charts.forecast_chart(hourly, pool), width="stretch")
planner.download(outcome.forecast, "forecast", origin, inputs, "Forecast per quarter (CSV)")
if outcome.tested is None:
    st.caption(NO_BACKTEST)
else:
    st.caption(results.accuracy_note(outcome.tested.total, planner.BACKTEST_WEEKS))
    accuracy = results.accuracy_table(outcome.tested.total, outcome.tested.by_channel)
    st.dataframe(accuracy, hide_index=True)
    planner.download(accuracy, "backtest", origin, inputs, "Backtest accuracy (CSV)")

st.subheader(STAFFING)
st.caption(roster.answer())
curve = results.staffing_curve(roster.coverage, inputs.pools)
for pool in inputs.pools:
    st.altair_chart(charts.staffing_chart(curve, pool), width="stretch")
planner.download(results.coverage_table(roster.coverage, inputs.pools), "coverage", origin,
                 inputs, "Coverage per quarter (CSV)")

st.subheader(ROSTER)
shifts = results.roster_table(roster.shifts, inputs.pools)
st.dataframe(shifts, hide_index=True, height=320)
planner.download(shifts, "roster", origin, inputs, "Roster (CSV)")
st.altair_chart(charts.gantt_chart(results.gantt_frame(roster.shifts, inputs.pools)),
                width="stretch")

st.subheader(WEEK)
days = results.day_table(simulated.days, met)
st.altair_chart(charts.days_chart(simulated.days, results.lowest_target(simulated.intervals)),
                width="stretch")
st.dataframe(days, hide_index=True)
if outcome.data.curve is None:
    st.caption(NO_NPS)
planner.download(days, "simulated_days", origin, inputs, "Simulated week (CSV)")

st.subheader(WHAT_IFS)
if outcome.compared:
    pools = ", ".join(inputs.pools)
    weeks = {results.BASE_PLAN: simulated.week,
             results.MORE_PLAN.format(extra=inputs.extra_operators, pools=pools):
                 outcome.compared["more"].week,
             results.BOT_PLAN.format(points=inputs.bot_points): outcome.compared["bot"].week}
    table = results.comparison_table(weeks)
    st.dataframe(table, hide_index=True)
    planner.download(table, "what_ifs", origin, inputs, "What-ifs (CSV)")
else:
    st.info(WHAT_IFS_ASK)
