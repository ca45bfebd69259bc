"""The simulator against queueing theory, plus its invariants. Every stochastic test is seeded.

Several theory checks run at once, so each uses a Bonferroni-corrected interval: with k checks in
a test, each interval is at level 1 - 0.05/k, which keeps the family-wise level at 95%.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scipy import stats

from sim.config import parse_scenario, scenario_to_dict
from sim.erlang import erlang_a_metrics, erlang_c_metrics
from sim.model import PATH_BOT_CONTAINED, simulate_day
from sim.nps import WaitNpsCurve, isotonic_decreasing, predict
from sim.optimize import optimize
from sim.results import confidence, day_results, pool_interval_metrics
from sim.runner import run
from sim.sweep import sweep, with_frontier
from sim.tomlio import dumps

SERIAL = ThreadPoolExecutor(max_workers=1)  # keeps theory tests independent of process pools


def stationary(agents: int, arrivals_per_hour: float = 100.0, aht_s: float = 360.0,
               patience_s: float | None = None, target_s: float = 20.0) -> dict:
    channel = {"name": "calls", "pool": "agents", "arrivals": [arrivals_per_hour] * 24,
               "aht_s": aht_s, "sl_target_s": target_s}
    if patience_s is not None:
        channel["patience_s"] = patience_s
    return {"name": f"M/M/{agents}", "interval_minutes": 60, "warmup_s": 4 * 3600,
            "pools": [{"name": "agents", "operators": [agents] * 24}], "channels": [channel]}


def scenario(data: dict):
    parsed = parse_scenario(data)
    assert parsed.ok, parsed.problems
    return parsed.scenario


def per_replication(records: pl.DataFrame) -> pl.DataFrame:
    return records.group_by("replication").agg(
        p_wait=(pl.col("wait_s") > 1e-9).mean(),
        asa_s=pl.col("wait_s").filter(pl.col("answered")).mean(),
        abandon=pl.col("abandoned").mean(),
    )


def assert_within_ci(values: pl.Series, expected: float, checks: int, name: str) -> None:
    level = 1 - 0.05 / checks
    n = values.len()
    half = stats.t.ppf(1 - (1 - level) / 2, n - 1) * values.std() / math.sqrt(n)
    mean = values.mean()
    assert abs(mean - expected) <= half, (
        f"{name}: simulated {mean:.4f} ± {half:.4f} does not cover theory {expected:.4f}")


@pytest.mark.parametrize("agents", [11, 12, 14])
def test_mmc_agrees_with_erlang_c(agents):
    """c = 11 is 91% occupancy, where queues are long and slow to settle."""
    data = scenario(stationary(agents))
    result = run(data, replications=30, seed=7, executor=SERIAL)
    theory = erlang_c_metrics(100, 360, agents, 20)
    reps = per_replication(result.records)
    assert_within_ci(reps["p_wait"], theory.p_wait, 3, "P(wait)")
    assert_within_ci(reps["asa_s"], theory.asa_s, 3, "ASA")
    assert_within_ci(result.day["service_level"], theory.service_level, 3, "SL(20 s)")
    assert result.day["abandoned"].sum() == 0


@pytest.mark.parametrize("agents, published", [(10, 0.1460), (11, 0.1016), (12, 0.0676)])
def test_mmc_with_patience_agrees_with_erlang_a(agents, published):
    data = scenario(stationary(agents, patience_s=180.0))
    result = run(data, replications=30, seed=11, executor=SERIAL)
    theory = erlang_a_metrics(100, 360, agents, 180.0, 20)
    assert theory.p_abandon == pytest.approx(published, abs=1e-4)
    reps = per_replication(result.records)
    assert_within_ci(reps["abandon"], theory.p_abandon, 3, "P(abandon)")
    assert_within_ci(reps["asa_s"], theory.asa_answered_s, 3, "ASA of answered")
    assert_within_ci(result.day["service_level"], theory.service_level, 3, "SL(20 s)")


def test_same_seed_same_results_and_other_seed_differs():
    data = scenario(stationary(12))
    first = simulate_day(data, replication=3, seed=5)
    assert first.equals(simulate_day(data, replication=3, seed=5))
    assert not first.equals(simulate_day(data, replication=3, seed=6))


def test_adding_an_operator_never_worsens_the_mean_wait_with_common_random_numbers():
    """Without abandonment and with the same customers, one more operator cannot hurt."""
    waits = {}
    for agents in (11, 12):
        records = pl.concat([simulate_day(scenario(stationary(agents)), r, seed=3)
                             for r in range(10)])
        waits[agents] = records.group_by("replication").agg(pl.col("wait_s").mean()).sort(
            "replication")["wait_s"].to_numpy()
    assert np.all(waits[12] <= waits[11] + 1e-9)
    assert np.all(waits[12] < waits[11])  # and it actually helps on every day


def test_bad_configs_name_the_field_and_value():
    data = stationary(12)
    data["pools"][0]["operators"] = [-1] + [12] * 23
    data["channels"][0]["bot_share"] = 1.5
    data["pools"][0]["concurrency"] = 0
    data["pools"][0]["open_h"], data["pools"][0]["close_h"] = 18, 9
    parsed = parse_scenario(data)
    assert not parsed.ok
    messages = [str(problem) for problem in parsed.problems]
    assert "pools[0].operators[0]: -1 must be >= 0" in messages
    assert "channels[0].bot_share: 1.5 must be <= 1" in messages
    assert "pools[0].concurrency: 0 must be >= 1" in messages
    assert "pools[0].close_h: 9 is before open_h 18" in messages


def test_wrong_interval_count_and_unknown_pool_are_reported():
    data = stationary(12)
    data["channels"][0]["arrivals"] = [1.0] * 23
    data["channels"][0]["pool"] = "nobody"
    messages = [str(p) for p in parse_scenario(data).problems]
    assert any("arrivals: has 23 values; the day has 24 intervals" in m for m in messages)
    assert any("channels[0].pool: 'nobody' is not one of the pools" in m for m in messages)
    assert [str(p) for p in parse_scenario("nonsense").problems] == [
        "scenario: must be a table of settings"]


def test_overload_is_allowed_but_flagged_unstable():
    parsed = parse_scenario(stationary(9))  # 10 Erlangs of work for 9 operators
    assert parsed.ok
    assert parsed.warnings and "unstable" in parsed.warnings[0]
    assert not parse_scenario(stationary(12)).warnings


def test_toml_round_trip():
    data = stationary(12, patience_s=200)
    data["pools"][0] = {"name": "agents", "shifts": [
        {"start_h": 8, "end_h": 17, "operators": 8}, {"start_h": 14, "end_h": 23, "operators": 6},
        {"start_h": 23, "end_h": 8, "operators": 3}], "shrinkage": 0.25}
    original = scenario(data)
    import tomllib

    again = parse_scenario(tomllib.loads(dumps(scenario_to_dict(original))))
    assert again.ok and again.scenario == original
    assert original.scheduled(original.pools[0])[0] == 3  # the night shift covers midnight
    assert original.scheduled(original.pools[0])[15] == 14  # day and evening overlap
    assert original.available(original.pools[0])[15] == 11  # 14 x 0.75 = 10.5, to nearest
    assert original.available(original.pools[0])[0] == 2  # 3 x 0.75 = 2.25


def test_staffing_gap_makes_contacts_wait_for_the_next_shift_and_none_are_dropped():
    data = stationary(12)
    data["pools"][0]["operators"] = [0] * 6 + [12] * 18
    data["warmup_s"] = 0
    records = simulate_day(scenario(data), 0, seed=1)
    night = records.filter(pl.col("arrival_s") < 5 * 3600)
    assert night["wait_s"].min() > 0  # nobody on duty before 06:00
    assert (night["service_start_s"].drop_nulls() >= 6 * 3600 - 1e-6).all()
    assert (records["answered"] | records["abandoned"]).all()  # the drain serves everyone


def test_bot_containment_removes_human_load_and_costs_per_contact():
    data = stationary(12)
    data["channels"][0] |= {"bot_share": 1.0, "bot_containment": 1.0, "bot_handle_s": 90}
    data["bot_cost_per_contact"] = 50.0
    sim = scenario(data)
    day = day_results(simulate_day(sim, 0, seed=2), sim).row(0, named=True)
    assert day["queued"] == 0 and day["answered"] == 0
    assert day["bot_contained"] == day["offered"]
    assert day["occupancy"] == 0
    assert day["bot_cost"] == pytest.approx(50.0 * day["offered"])


def test_escalated_contacts_carry_their_bot_time():
    data = stationary(12, patience_s=300)
    data["channels"][0] |= {"bot_share": 1.0, "bot_containment": 0.0,
                            "bot_handle_s": 600}
    records = simulate_day(scenario(data), 0, seed=4)
    assert set(records["path"]) == {"escalated"}
    assert (records["queue_join_s"] - records["arrival_s"] - records["bot_s"]).abs().max() < 1e-6
    # Patience is a clock from arrival: after ~10 minutes in the bot, many have none left.
    assert records["abandoned"].mean() > 0.5


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    agents=st.integers(min_value=0, max_value=6),
    arrivals=st.floats(min_value=0, max_value=40),
    aht_s=st.floats(min_value=30, max_value=900),
    patience_s=st.one_of(st.none(), st.floats(min_value=5, max_value=2000)),
    automation=st.floats(min_value=0, max_value=1),
    containment=st.floats(min_value=0, max_value=1),
    concurrency=st.integers(min_value=1, max_value=3),
    seed=st.integers(min_value=0, max_value=10_000),
)
# Found by hypothesis: clock arithmetic once gave a wait of -2e-13 s.
@example(agents=1, arrivals=9.5, aht_s=30.0, patience_s=None, automation=0.5, containment=0.0,
         concurrency=1, seed=678)
def test_invariants(agents, arrivals, aht_s, patience_s, automation, containment, concurrency,
                    seed):
    data = stationary(agents, arrivals_per_hour=arrivals, aht_s=aht_s, patience_s=patience_s)
    data["interval_minutes"] = 60
    data["warmup_s"] = 0
    data["pools"][0]["concurrency"] = concurrency
    data["channels"][0] |= {"bot_share": automation, "bot_containment": containment,
                            "bot_handle_s": 60}
    sim = scenario(data)
    records = simulate_day(sim, 0, seed)
    day = day_results(records, sim).row(0, named=True) if records.height else None
    assert (records["wait_s"].drop_nulls() >= 0).all()
    if day is not None:
        assert 0 <= day["occupancy"] <= 1
        assert day["answered"] + day["abandoned"] == day["queued"]
        assert day["queued"] + day["bot_contained"] == day["offered"]
        assert 0 <= day["service_level"] <= 1
    if automation == 1 and containment == 1:
        assert not (records["path"] != PATH_BOT_CONTAINED).any()


def test_confidence_intervals_bracket_the_mean():
    sim = scenario(stationary(12))
    result = run(sim, replications=5, seed=1, executor=SERIAL)
    row = result.summary().row(0, named=True)
    assert row["asa_s_ci_low"] <= row["asa_s"] <= row["asa_s_ci_high"]
    assert row["asa_s_ci_high"] - row["asa_s_ci_low"] > 0
    assert row["service_level_ci_low"] >= 0 and row["service_level_ci_high"] <= 1
    intervals = result.interval_summary()
    assert intervals.height == 24
    assert set(confidence(result.day, ("cost",)).columns) == {"cost", "cost_ci_low",
                                                               "cost_ci_high"}


def _optimizer_day() -> dict:
    data = stationary(1, arrivals_per_hour=60, aht_s=300, patience_s=300, target_s=60)
    data["channels"][0]["arrivals"] = [20.0] * 8 + [80.0] * 10 + [40.0] * 6
    data["abandon_cap"] = 0.05
    return data


def test_optimizer_meets_targets_with_no_operator_to_spare():
    plan = optimize(scenario(_optimizer_day()), replications=6, seed=3, executor=SERIAL)
    assert plan.met
    table = plan.table
    assert (table["queue_service_level"] >= 0.8).all()
    busy = table.filter(pl.col("interval") == 12).row(0, named=True)
    quiet = table.filter(pl.col("interval") == 2).row(0, named=True)
    assert busy["operators"] > quiet["operators"]
    # Minimal: one operator fewer in the busiest hour misses the target on the same days.
    fewer = list(table["operators"])
    fewer[12] -= 1
    trial = plan.scenario.with_pool_operators("agents", tuple(fewer))
    again = run(trial, replications=6, seed=3, executor=SERIAL).interval_summary().row(
        12, named=True)
    assert again["queue_service_level"] < 0.8 or again["queue_abandoned_share"] > 0.05


def test_optimizer_does_not_hire_for_customers_lost_in_the_bot():
    data = _optimizer_day()
    data["channels"][0] |= {"bot_share": 0.5, "bot_containment": 0.0,
                            "bot_handle_s": 600}
    plan = optimize(scenario(data), replications=4, seed=3, executor=SERIAL)
    # Half the customers meet a slow bot and many give up there: abandonment stays high...
    assert plan.table["abandoned_share"].max() > 0.1
    # ...but the queue itself is served, so no interval is staffed far beyond its bracket.
    assert plan.met
    assert (plan.table["operators"] <= plan.table["erlang_a"] + 2).all()


def test_sweep_frontier_and_monotone_cost():
    data = stationary(12, patience_s=300, target_s=60)
    data["channels"][0] |= {"bot_containment": 0.6, "bot_handle_s": 120}
    grid = sweep(scenario(data), "agents", [0.8, 1.0, 1.2], [0.0, 0.3], replications=3,
                 seed=1, executor=SERIAL)
    assert grid.height == 6
    # Each frontier mix is undominated and each other mix is beaten by some frontier mix.
    frontier = grid.filter(pl.col("on_frontier"))
    for row in grid.filter(~pl.col("on_frontier")).iter_rows(named=True):
        assert ((frontier["cost"] <= row["cost"])
                & (frontier["queue_service_level"] >= row["queue_service_level"])).any()
    by_mix = {(r["operator_factor"], r["extra_bot_share"]): r for r in grid.iter_rows(named=True)}
    # Same automation, more operators: better service and more cost.
    assert by_mix[(1.2, 0.0)]["service_level"] > by_mix[(0.8, 0.0)]["service_level"]
    assert by_mix[(1.2, 0.0)]["cost"] > by_mix[(0.8, 0.0)]["cost"]
    # Same operators, a bot that contains 60% of 30%: less human work, better service.
    assert by_mix[(0.8, 0.3)]["service_level"] > by_mix[(0.8, 0.0)]["service_level"]


def test_frontier_marks_only_undominated_mixes():
    grid = pl.DataFrame({"cost": [10.0, 12.0, 11.0, 20.0],
                         "queue_service_level": [0.7, 0.9, 0.6, 0.9]})
    assert with_frontier(grid)["on_frontier"].to_list() == [True, True, False, False]


def test_isotonic_fit_and_prediction():
    assert isotonic_decreasing(np.array([60.0, 62.0, 40.0, 45.0, 10.0]),
                               np.ones(5)).tolist() == [61.0, 61.0, 42.5, 42.5, 10.0]
    curve = WaitNpsCurve(lower_s=(0, 30, 60), labels=("a", "b", "c"), nps=(60.0, 40.0, 0.0),
                         se=(1.0, 1.0, 1.0), responses=(100, 100, 100), bot_nps=50.0, bot_se=1.0)
    records = pl.DataFrame({
        "replication": [0, 0, 0, 0], "path": ["agent", "agent", "agent", PATH_BOT_CONTAINED],
        "wait_s": [5.0, 45.0, 10.0, 0.0], "abandoned": [False, False, True, False],
        "answered": [True, True, False, False],
    })
    # 60 (fast) + 40 (45 s) + 0 (abandoned = worst bucket) + 50 (bot), averaged.
    assert predict(records, curve)["predicted_nps"] == pytest.approx(37.5)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    operators=st.lists(st.integers(min_value=0, max_value=8), min_size=24, max_size=24),
    arrivals=st.floats(min_value=0, max_value=60),
    patience_s=st.one_of(st.none(), st.floats(min_value=1, max_value=3000)),
    automation=st.floats(min_value=0, max_value=1),
    containment=st.floats(min_value=0, max_value=1),
    concurrency=st.integers(min_value=1, max_value=3),
    warmup_s=st.sampled_from([0.0, 1800.0]),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_fast_engine_gives_the_process_models_records(operators, arrivals, patience_s,
                                                      automation, containment, concurrency,
                                                      warmup_s, seed):
    """The event-lean engine must be the reference model, contact for contact."""
    data = stationary(1, arrivals_per_hour=arrivals, patience_s=patience_s)
    data["pools"][0] |= {"operators": operators, "concurrency": concurrency,
                         "concurrency_slowdown": 0.2}
    data["channels"][0] |= {"bot_share": automation, "bot_containment": containment,
                            "bot_handle_s": 45, "handle_distribution": "lognormal",
                            "handle_cv": 0.7}
    data["warmup_s"] = warmup_s
    sim = scenario(data)
    reference = simulate_day(sim, 0, seed, engine="process")
    assert simulate_day(sim, 0, seed, engine="fast").equals(reference)
    # Shifts end mid-contact and the warm-up leaves work at midnight: occupancy stays 0..1.
    pools = pool_interval_metrics(simulate_day(sim, 0, seed, include_warmup=True), sim)
    assert pools["occupancy"].is_between(0, 1 + 1e-9).all()


def test_engines_agree_on_the_full_baseline_day():
    import tomllib
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "sim" / "examples" / "baseline_monday.toml"
    sim = scenario(tomllib.loads(path.read_text()))
    for replication in range(2):
        reference = simulate_day(sim, replication, 9, engine="process")
        assert reference.height > 1000
        assert simulate_day(sim, replication, 9, engine="fast").equals(reference)


def test_small_runs_stay_in_process_and_match_the_pool(monkeypatch):
    import sim.runner

    sim_day = scenario(stationary(12))
    here = run(sim_day, replications=3, seed=4)
    monkeypatch.setattr(sim.runner, "IN_PROCESS_CONTACTS", 0)
    pooled = run(sim_day, replications=3, seed=4)
    assert here.records.equals(pooled.records)
    assert here.day.equals(pooled.day)


def test_pool_workers_never_run_the_parents_main_script(tmp_path):
    """Under Streamlit `__main__` is app.py; a new forkserver worker would re-run it."""
    import multiprocessing
    import sys
    import types
    from concurrent.futures import ProcessPoolExecutor

    marker = tmp_path / "main-script-ran"
    script = tmp_path / "fake_app.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    fake_main = types.ModuleType("__main__")
    fake_main.__file__ = str(script)
    saved = sys.modules["__main__"]
    sys.modules["__main__"] = fake_main
    pool = ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("forkserver"))
    try:
        result = run(scenario(stationary(12)), replications=2, seed=1, executor=pool)
    finally:
        sys.modules["__main__"] = saved
        pool.shutdown()
    assert result.day.height == 2
    assert not marker.exists()


def test_occupancy_counts_the_warm_up_backlog_and_overtime():
    """At 20x the load every operator is busy all day; shifts of one hour with 30-min calls."""
    overloaded = stationary(12, patience_s=300)
    overloaded["volume_multiplier"] = 20
    result = run(scenario(overloaded), replications=2, seed=1, executor=SERIAL)
    assert result.summary()["occupancy"][0] > 0.99
    alternating = stationary(1, arrivals_per_hour=1, aht_s=1800)
    alternating["pools"][0]["operators"] = [1, 0] * 12
    result = run(scenario(alternating), replications=3, seed=1, executor=SERIAL)
    assert 0 < result.summary()["occupancy"][0] <= 1


def test_a_closed_pool_still_costs_its_operators():
    closed = stationary(12)
    closed["pools"][0] |= {"open_h": 0, "close_h": 0}
    result = run(scenario(closed), replications=2, seed=1, executor=SERIAL)
    row = result.summary().row(0, named=True)
    assert row["offered"] == 0
    assert row["cost"] == pytest.approx(12 * 24 * 2_500.0)


def test_the_shared_pool_recovers_after_a_worker_dies(monkeypatch):
    """Under Streamlit one killed worker must not break the simulator for every session."""
    import os
    import signal

    import sim.runner
    from sim.runner import default_executor

    monkeypatch.setattr(sim.runner, "IN_PROCESS_CONTACTS", 0)  # always use the pool

    sim = scenario(stationary(12))
    assert run(sim, replications=2, seed=1).day.height == 2
    pool = default_executor()
    for process in list(pool._processes.values()):
        os.kill(process.pid, signal.SIGKILL)
    assert run(sim, replications=2, seed=1).day.height == 2
    assert default_executor() is not pool


def test_hostile_sizes_are_refused_by_name():
    data = stationary(12)
    data["interval_minutes"] = 60.0  # a float that means 60 is fine
    assert parse_scenario(data).ok
    data["channels"][0]["arrivals"] = [1e308] + [100.0] * 23
    assert "channels[0].arrivals[0]: 1e+308 must be <= 100000" in [
        str(p) for p in parse_scenario(data).problems]
    data = stationary(2**70)
    assert "pools[0].operators[0]" in str(parse_scenario(data).problems[0])
    data = stationary(12)
    data["channels"][0]["arrivals"] = [9_000.0] * 24
    data["volume_multiplier"] = 20
    assert str(parse_scenario(data).problems[0]).startswith(
        "volume_multiplier: 20 makes channels[0] offer 180000 contacts in one interval")
    data = stationary(12)
    data["channels"][0]["aht_s"] = float("nan")
    assert str(parse_scenario(data).problems[0]) == "channels[0].aht_s: nan is not a finite number"


def test_compare_gives_paired_deltas_against_the_baseline():
    from sim.runner import compare

    base = scenario(stationary(12))
    more = scenario(stationary(13) | {"name": "13 operators"})
    bot_data = stationary(12) | {"name": "bot"}
    bot_data["channels"][0] |= {"bot_share": 0.3, "bot_containment": 0.6,
                                "bot_handle_s": 90}
    table = compare(base, [more, scenario(bot_data)], replications=10, seed=2,
                    executor=SERIAL)
    assert table["scenario"].to_list() == ["M/M/12", "13 operators", "bot"]
    baseline, hired, automated = table.iter_rows(named=True)
    assert baseline["service_level_delta"] == 0
    assert hired["service_level_delta_ci_low"] > 0 and automated["asa_s_delta_ci_high"] < 0
    # Common random numbers: the paired interval is narrower than the scenario's own.
    paired = hired["service_level_delta_ci_high"] - hired["service_level_delta_ci_low"]
    own = hired["service_level_ci_high"] - hired["service_level_ci_low"]
    assert paired < own
    with pytest.raises(ValueError, match="1 to 5 scenarios"):
        compare(base, [more] * 6, replications=2, executor=SERIAL)


def test_concurrency_that_slows_operators_down_is_flagged():
    data = stationary(12)
    data["pools"][0] |= {"concurrency": 10, "concurrency_slowdown": 2.0}
    parsed = parse_scenario(data)
    assert parsed.ok
    assert any("slower than with one contact at a time" in w for w in parsed.warnings)


def test_erlang_preview_matches_erlang_a_per_interval():
    from sim.demand import erlang_by_interval

    preview = erlang_by_interval(scenario(stationary(11, patience_s=180.0)))
    assert preview.height == 24
    theory = erlang_a_metrics(100, 360, 11, 180.0, 20)
    assert preview["abandoned_share"].to_list() == pytest.approx([theory.p_abandon] * 24)
    assert preview["service_level"][0] == pytest.approx(theory.service_level)


def test_wait_histogram_counts_per_day_and_caps_long_waits():
    from sim.results import wait_histogram

    records = pl.DataFrame({"answered": [True, True, True, True, False],
                            "wait_s": [0.0, 5.0, 14.0, 900.0, 30.0],
                            "channel": ["a", "a", "a", "a", "a"]})
    frame, at_once = wait_histogram(records, replications=2, bin_s=10, cap_s=600)
    assert at_once == pytest.approx(0.25)
    assert frame["wait_from_s"].to_list() == [0, 10, 600]
    assert frame["contacts_per_day"].to_list() == [0.5, 0.5, 0.5]


def test_merged_buckets_share_one_error():
    from data_access.rollups import WAIT_BUCKETS
    from sim.nps import fit_curve

    by_bucket = pl.DataFrame({
        "wait_bucket": ["0-30 s", "30-60 s", "1-2 min", "2-5 min", "5-10 min", "10-20 min",
                        "20+ min"],
        "nps": [60.0, 62.0, 50.0, 40.0, 30.0, 20.0, 10.0],  # the first two violate monotony
        "nps_moe": [4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0],
        "responses": [100, 100, 100, 100, 100, 100, 100],
    })
    curve = fit_curve(by_bucket, WAIT_BUCKETS)
    assert curve.nps[0] == curve.nps[1] == pytest.approx(61.0)
    assert curve.blocks[0] == curve.blocks[1] != curve.blocks[2]
    # Two equal-size buckets pooled: error / sqrt(2).
    assert curve.se[0] == pytest.approx(4.0 / 1.96 / math.sqrt(2))
    records = pl.DataFrame({"replication": [0, 0], "path": ["agent", "agent"],
                            "wait_s": [5.0, 45.0], "abandoned": [False, False],
                            "answered": [True, True]})
    half = predict(records, curve)["predicted_nps_ci_high"] - 61.0
    # Both contacts sit in one block: its error counts once with the full share.
    assert half == pytest.approx(1.96 * curve.se[0])
