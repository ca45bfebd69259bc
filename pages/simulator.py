"""Staffing simulator: what do hiring, automation or both do to waits, cost and NPS?"""

import streamlit as st

from ui import charts
from ui import simulator as planner
from ui.frame import run_inside_frame

run_inside_frame()

st.title("Staffing simulator")
st.caption("One operating day, simulated contact by contact. Baseline and scenario share the "
           "same simulated customers (common random numbers), so every difference comes from "
           "the scenario. The link in the address bar reopens this scenario.")

edits, url_warnings = planner.read_url()
for warning in url_warnings:
    st.warning(warning)

baseline = planner.load_baseline(planner.setting(edits, "wd"), planner.setting(edits, "wk"),
                             planner.setting(edits, "iv"))
if baseline.from_database:
    st.caption(baseline.note)
else:
    st.info(baseline.note)
planner.sync_widgets(edits, planner.defaults_for(baseline.scenario))

st.subheader("Planner questions")
for column, preset in zip(st.columns(len(planner.PRESETS)), planner.PRESETS, strict=True):
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
                    planner.field_input(key)
    with automation:
        for row in (("auto", "cont", "bot"), ("wauto", "wcont", "wbot")):
            for column, key in zip(st.columns(3), row, strict=True):
                with column:
                    planner.field_input(key)
    with customers:
        for row in (("pat", "sl", "slt"), ("wpat", "wsl", "wslt"), ("opat", "osl", "oslt")):
            for column, key in zip(st.columns(3), row, strict=True):
                with column:
                    planner.field_input(key)
    with run:
        for column, key in zip(st.columns(5), ("cap", "opc", "botc", "reps", "seed"),
                               strict=True):
            with column:
                planner.field_input(key)
    st.form_submit_button("Simulate", type="primary", on_click=planner.submit_scenario,
                          key="simulate")

built = planner.build_scenario(baseline.scenario, edits)
if built.problems:
    for problem in built.problems:
        st.error(f"Cannot simulate this scenario — {problem}")
    st.stop()
scenario = built.scenario
for warning in built.parsed.warnings:
    st.warning(f"Scenario is {warning}")
if not built.changed:
    st.caption("No edits yet: the scenario is the baseline. Change an input or pick a question.")

view = planner.sim_view(baseline, edits)

st.subheader("Instant preview (Erlang A)")
preview = planner.preview(baseline.data, built.data)
left, right = st.columns(2)
with left:
    st.altair_chart(charts.erlang_preview(preview, view.day, view.interval_minutes),
                    width="stretch")
    planner.download(preview, "erlang_preview", view)
with right:
    day_table = planner.erlang_day_table(preview, scenario.interval_minutes)
    st.dataframe(day_table, hide_index=True)
    planner.download(day_table, "erlang_day", view)
    st.caption("Analytic steady state per interval, each pool as one queue: a quick check "
               "while the simulation runs. SL and abandonment are weighted by the contacts "
               "that reach operators; 'Below target' counts intervals under the target (the "
               "dashed red line). Dashed lines: baseline.")

st.subheader("Simulation: baseline vs scenario")
curve, curve_note = planner.nps_curve()
replications, seed = planner.setting(edits, "reps"), planner.setting(edits, "seed")
base_out = planner.simulate(baseline.data, replications, seed, curve, "baseline")
scen_out = (planner.simulate(built.data, replications, seed, curve, "scenario") if built.changed
            else base_out)
for column, tile in zip(st.columns(5), planner.kpi_tiles(base_out, scen_out, scenario.currency),
                        strict=False):
    column.metric(tile.label, tile.value, tile.delta, delta_color=tile.delta_color,
                  help=tile.help)
kpis = planner.kpi_table(base_out, scen_out, scenario.currency)
st.dataframe(kpis, hide_index=True, height="content")
planner.download(kpis, "kpis", view)
st.caption(f"{replications} simulated days each, seed {seed}; 95% intervals over the days.")
with st.expander("Per channel (scenario)"):
    by_channel = planner.channel_table(scen_out, scenario)
    st.dataframe(by_channel, hide_index=True)
    planner.download(by_channel, "channels", view)

st.subheader("Service level and staffing per interval")
intervals = planner.interval_frames(baseline.scenario, base_out, scenario, scen_out)
for column, pool in zip(st.columns(len(scenario.pools)), planner.pool_names(scenario), strict=True):
    with column:
        st.altair_chart(charts.staffing_service_level(intervals, pool, view.day,
                                                      view.interval_minutes), width="stretch")
        planner.download(planner.pool_intervals(intervals, pool), f"intervals_{pool}", view)
st.caption("Bars: scheduled operators in the scenario (grey marks: baseline). Lines: simulated "
           "service level per interval with the scenario's 95% band. Dashed red: target.")
planner.download(intervals, "intervals", view, "Download interval results (CSV)",
                 "Every pool's interval results, baseline and scenario, as CSV")

st.subheader("Wait distribution")
waits = planner.wait_frames(base_out, scen_out)
st.altair_chart(charts.wait_histogram(waits, planner.WAIT_CAP_S, view.day), width="stretch")
planner.download(waits, "waits", view)
st.caption(f"Answered contacts that waited, per day, by channel (scenario); grey line: "
           f"baseline total. Answered at once, not shown: {scen_out.answered_at_once:.0%} "
           f"(baseline {base_out.answered_at_once:.0%}).")

st.subheader("Predicted NPS — model estimate")
if scen_out.nps is None:
    st.info(f"Predicted NPS is unavailable: {curve_note}.")
else:
    nps = planner.nps_frame(base_out, scen_out)
    st.altair_chart(charts.nps_estimates(nps, view.day), width="stretch")
    planner.download(nps, "predicted_nps", view)
    st.caption("A model estimate, not a measurement: " + curve_note + ". It assumes that "
               + " ".join(planner.NPS_ASSUMPTIONS))

st.subheader("Hire or automate? Operators × automation in the digital pool")
with st.form("sweep"):
    for column, key in zip(st.columns(len(planner.SWEEP_KEYS)), planner.SWEEP_KEYS, strict=True):
        with column:
            planner.field_input(key)
    st.form_submit_button("Run sweep", on_click=planner.submit_sweep, key="run_sweep")
if not planner.can_sweep(scenario):
    st.info(f"The sweep needs channels in a pool named '{planner.SWEEP_POOL}'; this scenario has "
            "none.")
elif not edits.get("sweep"):
    st.caption("Run the sweep, or ask the third planner question, to compare hiring with "
               "automation on this scenario's demand.")
else:
    axes = planner.sweep_axes(edits)
    problems = [*axes.problems, *filter(None, [planner.sweep_budget_problem(scenario, axes)])]
    for problem in problems:
        st.error(f"Cannot sweep — {problem}")
    if not problems:
        grid = planner.run_sweep(planner.pool_only(built.data, planner.SWEEP_POOL),
                                 planner.SWEEP_POOL, axes.factors, axes.shares,
                                 axes.replications, seed, curve)
        target = planner.pool_target(scenario, planner.SWEEP_POOL)
        best = planner.cheapest_meeting(grid, target)
        if best:
            st.success(planner.sweep_answer(best, target, scenario.currency))
        else:
            st.warning(planner.sweep_answer(best, target, scenario.currency))
        heatmaps = charts.sweep_heatmaps(grid, best, planner.SWEEP_POOL, view.day,
                                         scenario.currency)
        for column, (metric, chart) in zip(st.columns(len(heatmaps)), heatmaps.items(),
                                           strict=True):
            with column:
                st.altair_chart(chart, width="stretch")
                planner.download(planner.sweep_metric(grid, metric), f"sweep_{metric}", view)
        st.altair_chart(charts.cost_frontier(grid, target, scenario.currency, best,
                                             planner.SWEEP_POOL, view.day), width="stretch")
        st.caption(f"Each mix: the digital pool's scheduled operators × factor in every "
                   f"interval, and that automation share on all its channels (bot containment "
                   f"as in the scenario); offices are left out. {axes.replications} simulated "
                   f"days per mix, seed {seed}. Orange: the cost frontier — no other mix is both "
                   f"cheaper and better. Outlined: the cheapest frontier mix reaching "
                   f"{target:.0%}.")
        planner.download(grid, "sweep", view, "Download sweep grid (CSV)",
                         "Every mix of the sweep (the cost frontier's data) as CSV")
