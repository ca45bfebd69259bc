"""Staffing simulator: what do hiring, automation or both do to waits, cost and NPS?"""

import streamlit as st

from ui import charts
from ui import sim_form as form
from ui import sim_results as results
from ui import simulator as planner
from ui.frame import run_inside_frame

run_inside_frame()

st.title("Staffing simulator")
answer_slot = st.empty()  # the page's answer, written once the simulation has run
st.caption("One operating day, simulated contact by contact. Baseline and scenario share the "
           "same simulated customers (common random numbers), so every difference comes from "
           "the scenario. The link in the address bar reopens this scenario.")

edits, url_warnings, url_errors = planner.read_url()
for warning in url_warnings:
    st.warning(warning)

baseline = planner.load_baseline(form.setting(edits, "wd"), form.setting(edits, "wk"),
                                 form.setting(edits, "iv"))
if baseline.from_database:
    st.caption(baseline.note)
else:
    st.info(baseline.note)
defaults = form.defaults_for(baseline.scenario)
notes = form.baseline_notes(baseline.scenario, defaults)
if baseline.from_database:
    notes |= form.patience_notes(planner.patience_sources(form.setting(edits, "wk")))
planner.sync_widgets(edits, defaults)

st.subheader("Planner questions")
for column, preset in zip(st.columns(len(form.PRESETS)), form.PRESETS, strict=True):
    column.button(preset.label, key=f"preset_{preset.key}", help=preset.help,
                  on_click=planner.apply_preset, args=(preset.key,), width="stretch")

with st.form("scenario"):
    demand, automation, customers, run = st.tabs(
        ["Demand and staffing", "Automation", "Customers and targets", "Costs and run"])
    with demand:
        for row in (("wd", "wk", "iv", "mult"), ("dig_add", "dig_from", "dig_to", "shrink"),
                    ("off_add", "off_from", "off_to", "conc")):
            for column, key in zip(st.columns(4), row, strict=True):
                with column:
                    planner.field_input(key, notes)
    with automation:
        st.caption("Changes on top of what the baseline already automates: the bot and "
                   "self-service keep today's share, and these add to it.")
        for row in (("bot_add", "bot_cont", "cont", "bot"), ("ss_add", None, None, None)):
            for column, key in zip(st.columns(4), row, strict=True):
                if key:
                    with column:
                        planner.field_input(key, notes)
    with customers:
        for row in (("pat", "sl", "slt"), ("wpat", "wsl", "wslt"), ("opat", "osl", "oslt")):
            for column, key in zip(st.columns(3), row, strict=True):
                with column:
                    planner.field_input(key, notes)
    with run:
        for column, key in zip(st.columns(5), ("cap", "opc", "botc", "reps", "seed"),
                               strict=True):
            with column:
                planner.field_input(key, notes)
    st.form_submit_button("Simulate", type="primary", on_click=planner.submit_scenario,
                          key="simulate")

for error in url_errors:
    st.error(error)
if url_errors:
    st.stop()  # a misspelt lever must not quietly simulate something else
built = form.build_scenario(baseline.scenario, edits)
if built.problems:
    for problem in built.problems:
        st.error(f"Cannot simulate this scenario — {problem}")
    st.stop()
scenario = built.scenario
for warning in built.parsed.warnings:
    st.warning(f"Scenario is {warning}")
# Both runs are measured against the scenario's targets: a new target is not new service.
compared, retargeted = form.comparison_baseline(baseline.data, built.data)
compared_scenario = form.validated(compared)

view = planner.sim_view(baseline, edits)

st.subheader("Instant preview (Erlang A)")
preview = planner.preview(compared, built.data)
left, right = st.columns(2)
with left:
    st.altair_chart(charts.erlang_preview(preview, view.day, view.interval_minutes),
                    width="stretch")
    planner.download(preview, "erlang_preview", view)
with right:
    day_table = results.erlang_day_table(preview, scenario.interval_minutes)
    st.dataframe(day_table, hide_index=True)
    planner.download(day_table, "erlang_day", view)
    st.caption("Analytic steady state per interval, each pool as one queue: a quick check "
               "while the simulation runs. SL and abandonment are weighted by the contacts "
               "that reach operators; 'Below target' counts intervals under the target (the "
               "dashed red line). Dashed lines: baseline.")

st.subheader("Simulation: baseline vs scenario")
curve, curve_note = planner.nps_curve()
replications, seed = form.setting(edits, "reps"), form.setting(edits, "seed")
base_out = planner.simulate(compared, replications, seed, curve, "baseline")
scen_out = (planner.simulate(built.data, replications, seed, curve, "scenario") if built.changed
            else base_out)
if built.changed:
    answer_slot.success(results.answer(edits, defaults, base_out, scen_out, scenario.currency),
                        icon=":material/insights:")
elif not edits.get("sweep"):
    answer_slot.info(results.PICK_A_CHANGE, icon=":material/touch_app:")
for column, tile in zip(st.columns(5), results.kpi_tiles(base_out, scen_out, scenario.currency),
                        strict=False):
    column.metric(tile.label, tile.value, tile.delta, delta_color=tile.delta_color,
                  help=tile.help)
if built.changed:
    kpis = results.kpi_table(base_out, scen_out, scenario.currency)
else:
    kpis = results.baseline_table(base_out, scenario.currency)
st.dataframe(kpis, hide_index=True, height="content")
planner.download(kpis, "kpis", view)
st.caption(f"{replications} simulated days each, seed {seed}; 95% intervals over the days. "
           "Each change is paired: baseline and scenario simulate the same days.")
st.caption(results.QUEUE_NOTE)
if retargeted:
    st.caption(results.RETARGETED)
with st.expander("Per channel (scenario)"):
    by_channel = results.channel_table(scen_out, scenario)
    st.dataframe(by_channel, hide_index=True)
    planner.download(by_channel, "channels", view)

st.subheader("Service level and staffing per interval")
intervals = results.interval_frames(compared_scenario, base_out, scenario, scen_out)
for column, pool in zip(st.columns(len(scenario.pools)), results.pool_names(scenario),
                        strict=True):
    with column:
        st.altair_chart(charts.staffing_service_level(intervals, pool, view.day,
                                                      view.interval_minutes), width="stretch")
        planner.download(results.pool_intervals(intervals, pool), f"intervals_{pool}", view)
st.caption("Bars: scheduled operators in the scenario (grey marks: baseline). Lines: simulated "
           "service level per interval with the scenario's 95% band. Dashed red: target.")
reference = results.staffing_reference_frame(baseline.scenario,
                                             planner.erlang_minimum(baseline.data))
st.altair_chart(results.staffing_reference_chart(reference, view.day), width="stretch")
planner.download(reference, "staffing_reference", view)
st.caption(results.STAFFING_REFERENCE_CAPTION)
planner.download(intervals, "intervals", view, "Download interval results (CSV)",
                 "Every pool's interval results, baseline and scenario, as CSV")

st.subheader("Wait distribution")
waits = results.wait_frames(base_out, scen_out)
st.altair_chart(charts.wait_histogram(waits, results.WAIT_CAP_S, view.day), width="stretch")
planner.download(waits, "waits", view)
st.caption(f"Answered contacts that waited, per day, by channel (scenario); grey line: "
           f"baseline total. Answered at once, not shown: {scen_out.answered_at_once:.0%} "
           f"(baseline {base_out.answered_at_once:.0%}).")

st.subheader("Predicted NPS — model estimate")
if scen_out.nps is None:
    st.info(f"Predicted NPS is unavailable: {curve_note}.")
else:
    nps = results.nps_frame(base_out, scen_out)
    st.altair_chart(charts.nps_estimates(nps, view.day), width="stretch")
    planner.download(nps, "predicted_nps", view)
    st.caption("A model estimate, not a measurement: " + curve_note + ". It assumes that "
               + " ".join(results.NPS_ASSUMPTIONS))

st.subheader("Hire or automate? Operators × extra bot share in the digital pool")
with st.form("sweep"):
    for column, key in zip(st.columns(len(form.SWEEP_KEYS)), form.SWEEP_KEYS, strict=True):
        with column:
            planner.field_input(key)
    st.form_submit_button("Run sweep", on_click=planner.submit_sweep, key="run_sweep")
if not results.can_sweep(scenario):
    st.info(f"The sweep needs channels in a pool named '{results.SWEEP_POOL}'; this scenario has "
            "none.")
elif not edits.get("sweep"):
    st.caption("Run the sweep, or ask the third planner question, to compare hiring with "
               "automation on this scenario's demand.")
else:
    axes = results.sweep_axes(edits)
    problems = [*axes.problems, *filter(None, [results.sweep_budget_problem(scenario, axes)])]
    for problem in problems:
        st.error(f"Cannot sweep — {problem}")
    if not problems:
        grid = planner.run_sweep(form.sweep_data(baseline.scenario, edits, results.SWEEP_POOL),
                                 results.SWEEP_POOL, axes.factors, axes.shares,
                                 axes.replications, seed, curve)
        target = results.pool_target(scenario, results.SWEEP_POOL)
        best, sweep_text, edge_warnings = results.sweep_outcome(grid, target, scenario.currency)
        (st.success if best else st.warning)(sweep_text)
        if not built.changed:  # the sweep is the question asked: its answer opens the page
            answer_slot.success(sweep_text, icon=":material/insights:")
        for warning in edge_warnings:
            st.warning(warning)
        heatmaps = charts.sweep_heatmaps(grid, best, results.SWEEP_POOL, view.day,
                                         scenario.currency)
        for column, (metric, chart) in zip(st.columns(len(heatmaps)), heatmaps.items(),
                                           strict=True):
            with column:
                st.altair_chart(chart, width="stretch")
                planner.download(results.sweep_metric(grid, metric), f"sweep_{metric}", view)
        st.altair_chart(charts.cost_frontier(grid, target, scenario.currency, best,
                                             results.SWEEP_POOL, view.day), width="stretch")
        st.caption(f"Each mix: the digital pool's scheduled operators × factor in every "
                   f"interval, and the bot answering that extra share of the chats on top of "
                   f"today's (containment as today's bot); self-service is left as it is, "
                   f"offices are left out. Dashed cell: the baseline. {axes.replications} "
                   f"simulated days per mix, seed {seed}. Orange: the cost frontier — no other "
                   f"mix is both cheaper and better. Outlined: the cheapest frontier mix "
                   f"reaching {target:.0%}.")
        planner.download(grid, "sweep", view, "Download sweep grid (CSV)",
                         "Every mix of the sweep (the cost frontier's data) as CSV")

st.subheader(results.BACKTEST_HEADER)
backtest, reason = planner.last_backtest()
if backtest is None or not backtest.summary.get("days"):
    st.info(results.BACKTEST_UNAVAILABLE.format(
        reason=reason or results.NO_BACKTEST_DAYS), icon=":material/history:")
else:
    (st.success if backtest.summary["passes"] else st.warning)(
        backtest.summary["verdict"], icon=":material/fact_check:")
    st.altair_chart(results.backtest_chart(
        backtest.days, results.BACKTEST_TITLE.format(days=backtest.summary["days"])),
        width="stretch")
    planner.download(results.backtest_frame(backtest.days), "backtest", view)
    st.caption(results.BACKTEST_CAPTION.format(replications=planner.BACKTEST_REPLICATIONS))
