"""Hire or automate: the simulator's answer moves the way each lever pushes, with paired CIs.

One test per finding of the "hire or automate" issue, each failing on the code before it:
1 signed counts, 2 a bot preset that adds to the baseline's bot, 3 a sweep around the baseline
that leaves self-service alone, 4 targets compared like for like, 5 predicted NPS in `compare`,
6 unknown keys named, 7 nobody on duty serves nobody, 8 the closing rule, 9 a bound on a day,
10 far-future rows ignored by the baseline, 11 (the page's first open) in test_sim_page.py.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import tomllib
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sqlalchemy import text

from data_access.engine import create_db_engine
from sim.__main__ import main as sim_main
from sim.config import DAY_S, MAX_CONTACTS_PER_DAY, parse_scenario, scenario_to_dict
from sim.demand import pool_demand
from sim.erlang import erlang_a_metrics
from sim.learn import baseline_from_database
from sim.model import ENGINES, simulate_day
from sim.runner import paired_changes, run
from sim.sweep import edge_warnings, sweep
from sim.tomlio import dumps
from ui import sim_form as form

EXAMPLES = Path(__file__).resolve().parent.parent / "sim" / "examples"
BASELINE_TOML = EXAMPLES / "baseline_monday.toml"


class Serial:
    """An executor that runs tasks here, in order (keeps these tests off the process pool)."""

    def submit(self, function, *args):
        from concurrent.futures import Future
        future: Future = Future()
        future.set_result(function(*args))
        return future


def example() -> dict:
    return tomllib.loads(BASELINE_TOML.read_text())


def scenario_of(data: dict):
    parsed = parse_scenario(data)
    assert parsed.ok, parsed.problems
    return parsed.scenario


def write(tmp_path: Path, name: str, data: dict) -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(dumps({**data, "name": name}))
    return str(path)


def cli_json(capsys, *args: str) -> list | dict:
    assert sim_main([*args, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


# --- 1. counts are signed ----------------------------------------------------------------------

def test_changes_that_lower_counts_come_out_negative(tmp_path, capsys):
    """`bot_contained_delta` was 4,294,967,165: unsigned counts subtracted without a cast."""
    fewer = example() | {"volume_multiplier": 0.5}
    for channel in fewer["channels"]:  # and less automation: every count falls
        channel["bot_share"] = channel["bot_share"] / 2
        channel["self_service_share"] = channel["self_service_share"] / 2
    rows = cli_json(capsys, "compare", "--baseline", str(BASELINE_TOML), "--scenario",
                    write(tmp_path, "fewer", fewer), "--replications", "4", "--db",
                    "sqlite:////nonexistent/dir/x.db")
    change = rows[1]
    for count in ("offered", "answered", "self_served", "bot_contained", "escalated"):
        assert -1e5 < change[f"{count}_delta"] < 0, (count, change[f"{count}_delta"])
        assert change[f"{count}_delta_ci_high"] < 0, count
    assert change["cost_delta"] < 0


# --- 2 and the planner questions: each lever moves the answer its way -----------------------

def bot_preset(baseline):
    data, problems = form.apply_edits(baseline, form.PRESET_BY_KEY["bot"].edits)
    assert not problems
    return scenario_of(data)


def test_the_bot_preset_adds_to_what_the_baseline_automates():
    """The preset set bot share 0.30 / containment 0.60 below the baseline's: "automation hurts"."""
    baseline = scenario_of(example())
    scenario = bot_preset(baseline)
    chats = {c.name: c for c in scenario.channels if c.name in form.CHAT_CHANNELS}
    before = {c.name: c for c in baseline.channels}
    for name, channel in chats.items():
        assert channel.bot_share == before[name].bot_share  # today's bot untouched
        assert channel.bot_containment == before[name].bot_containment
        assert channel.extra_bot_share == pytest.approx(0.3)
        assert channel.extra_bot_containment == pytest.approx(0.6)
    base, more = run(baseline, 6, 0), run(scenario, 6, 0)
    # Common random numbers: on every simulated day the bot finishes at least as many.
    joined = base.day.join(more.day, on="replication", suffix="_bot")
    assert (joined["bot_contained_bot"] >= joined["bot_contained"]).all()
    change = paired_changes(base.day, more.day, ("bot_contained", "answered",
                                                 "queue_service_level")).row(0, named=True)
    assert change["bot_contained_delta_ci_low"] > 0
    assert change["answered_delta_ci_high"] < 0  # people answer fewer chats
    assert change["queue_service_level_delta"] >= 0


def test_more_operators_never_lower_the_service_level():
    baseline = scenario_of(example())
    data, _ = form.apply_edits(baseline, form.PRESET_BY_KEY["evening"].edits)
    base, more = run(baseline, 6, 0), run(scenario_of(data), 6, 0)
    change = paired_changes(base.day, more.day).row(0, named=True)
    assert change["service_level_delta"] >= 0 and change["operator_cost_delta"] == 125_000


# --- 3. the sweep works around the baseline -----------------------------------------------

def test_sweep_adds_bot_share_keeps_self_service_and_marks_the_baseline():
    """Its axis overwrote web/app self-service (0.73): "0% automation" switched it off."""
    baseline = scenario_of(example())
    grid = sweep(baseline, "digital", [0.9, 1.1], [0.2], replications=2, seed=0,
                 executor=Serial())
    assert sorted(set(grid["operator_factor"])) == [0.9, 1.0, 1.1]  # the baseline joins
    assert sorted(set(grid["extra_bot_share"])) == [0.0, 0.2]
    marked = grid.filter(pl.col("is_baseline"))
    assert marked.height == 1 and marked.row(0, named=True)["operator_factor"] == 1.0
    alone = run(baseline, 2, 0).summary().row(0, named=True)
    cell = marked.row(0, named=True)
    assert cell["service_level"] == pytest.approx(alone["service_level"])
    assert cell["self_served"] == pytest.approx(alone["self_served"])  # self-service kept
    more_bot = grid.filter((pl.col("operator_factor") == 1.0) & (pl.col("extra_bot_share") > 0))
    assert more_bot["self_served"][0] == pytest.approx(alone["self_served"])
    assert more_bot["bot_contained"][0] > cell["bot_contained"]


def test_a_best_mix_on_the_grid_edge_is_flagged():
    grid = pl.DataFrame({"operator_factor": [0.8, 0.8, 1.2, 1.2],
                         "extra_bot_share": [0.0, 0.3, 0.0, 0.3]})
    assert len(edge_warnings(grid, {"operator_factor": 0.8, "extra_bot_share": 0.3})) == 2
    assert edge_warnings(grid, None) == []
    inner = pl.DataFrame({"operator_factor": [0.8, 1.0, 1.2], "extra_bot_share": [0.0, 0.1, 0.3]})
    assert edge_warnings(inner, {"operator_factor": 1.0, "extra_bot_share": 0.1}) == []


# --- 4. a target is a yardstick -----------------------------------------------------------

def test_a_new_target_alone_changes_no_service_level():
    """The third preset changed the target and the tile read "Service level −0.8 pp"."""
    baseline = scenario_of(example())
    built = form.build_scenario(baseline, {"slt": 30.0})
    compared, retargeted = form.comparison_baseline(scenario_to_dict(baseline), built.data)
    assert retargeted
    base, scenario = run(scenario_of(compared), 3, 0), run(built.scenario, 3, 0)
    change = paired_changes(base.day, scenario.day).row(0, named=True)
    assert change["service_level_delta"] == 0 and change["service_level_delta_ci_low"] == 0
    assert not form.comparison_baseline(scenario_to_dict(baseline),
                                        scenario_to_dict(baseline))[1]


# --- 5. predicted NPS in compare, with a paired CI -----------------------------------------

def test_compare_gives_predicted_nps_and_its_paired_change(tmp_path, capsys, seeded_sqlite_url):
    baseline = scenario_of(example())
    more = scenario_to_dict(bot_preset(baseline))
    rows = cli_json(capsys, "compare", "--baseline", str(BASELINE_TOML), "--scenario",
                    write(tmp_path, "bot", more), "--replications", "5", "--db",
                    seeded_sqlite_url)
    for row in rows:
        assert row["predicted_nps_ci_low"] < row["predicted_nps"] < row["predicted_nps_ci_high"]
        assert "model estimate" in row["predicted_nps_note"]
    change = rows[1]
    assert change["predicted_nps_delta_ci_low"] <= change["predicted_nps_delta"] \
        <= change["predicted_nps_delta_ci_high"]
    assert rows[0]["predicted_nps_delta"] == 0  # the baseline against itself
    # Paired: the change's interval is narrower than either scenario's own.
    own = rows[1]["predicted_nps_ci_high"] - rows[1]["predicted_nps_ci_low"]
    paired = change["predicted_nps_delta_ci_high"] - change["predicted_nps_delta_ci_low"]
    assert paired < own


# --- 6. strict scenarios --------------------------------------------------------------------

@pytest.mark.parametrize("key, message", [
    ("patience", "channels[0].patience: unknown field; did you mean `patience_s`?"),
    ("automation_shares", "channels[0].automation_shares: unknown field; did you mean"),
    ("automation_share", "channels[0].automation_share: unknown field (renamed); use bot_share"),
])
def test_unknown_scenario_keys_are_errors_naming_the_nearest_one(tmp_path, capsys, key,
                                                                 message):
    """`patience = 600` ran with exit 0 and nobody abandoning."""
    data = tomllib.loads((EXAMPLES / "mmc_stationary.toml").read_text())
    data["channels"][0][key] = 0.5
    assert sim_main(["run", "--scenario", write(tmp_path, "typo", data)]) == 2
    assert message in capsys.readouterr().err
    top = parse_scenario({**data, "intervals_minutes": 60, "channels": [
        {k: v for k, v in data["channels"][0].items() if k != key}]})
    assert [str(p) for p in top.problems] == [
        "intervals_minutes: unknown field; did you mean `interval_minutes`?"]


# --- 7. nobody on duty serves nobody ------------------------------------------------------

@pytest.mark.parametrize("patience_s", [300.0, None])
@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_a_pool_with_no_operators_answers_nobody(engine, patience_s):
    """The end-of-day drain kept one operator: ~4 contacts a day answered at no cost."""
    data = tomllib.loads((EXAMPLES / "mmc_stationary.toml").read_text())
    data["pools"][0]["operators"] = [0] * 24
    if patience_s:
        data["channels"][0]["patience_s"] = patience_s
    scenario = scenario_of(data)
    records = simulate_day(scenario, 0, 1, engine=engine)
    assert records.height > 2000
    assert not records["answered"].any()
    if patience_s:
        assert records["abandoned"].all()
    else:  # they wait for ever: counted as unserved, never dropped
        assert not records["abandoned"].any()
        summary = run(scenario, 2, 1).summary().row(0, named=True)
        assert summary["unserved"] == summary["queued"] > 2000
        assert summary["answered"] == 0 and summary["operator_cost"] == 0


# --- 8. the closing rule ----------------------------------------------------------------

def office_hour() -> dict:
    """One office open 09:00–10:00 with one operator; everything else closed."""
    arrivals = [0.0] * 24
    arrivals[9] = 2.0
    operators = [0] * 24
    operators[9] = 1
    return {"warmup_s": 0.0, "pools": [{"name": "office", "operators": operators,
                                        "open_h": 9, "close_h": 10}],
            "channels": [{"name": "office", "pool": "office", "arrivals": arrivals,
                          "aht_s": 600.0}]}


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_the_closing_crew_serves_the_queue_already_waiting(engine):
    """Hand-computed: contacts join at 09:50 (20 min) and 09:55 (30 min); one operator.

    The first is served 09:50–10:10. The office closes at 10:00 with the second waiting: the
    closing operator serves it next, 10:10–10:40 (a 15-minute wait), instead of leaving it to
    wait until midnight or abandon.
    """
    scenario = scenario_of(office_hour())
    pool = scenario.pool("office")
    joins = np.array([9 * 3600 + 50 * 60, 9 * 3600 + 55 * 60], dtype=float)
    handles = np.array([1200.0, 1800.0])
    queue = ENGINES[engine](scenario, pool, joins, handles, np.array([math.inf, math.inf]))
    assert queue.start_s.tolist() == [joins[0], 10 * 3600 + 10 * 60]
    assert queue.end_s.tolist() == [10 * 3600 + 10 * 60, 10 * 3600 + 40 * 60]
    assert not queue.abandoned.any()


def test_the_office_s_last_hour_is_explained_by_its_staffing_not_the_close():
    """The baseline office's 17:00 abandonment was 7.8% against 1.3–5.3% in other hours, with
    waits up to 6.8 h: contacts left at closing waited for the midnight drain."""
    scenario = scenario_of(example())
    result = run(scenario, 20, 0)
    office = result.records.filter(pl.col("pool") == "office")
    assert office.filter(pl.col("answered"))["wait_s"].max() < 3600
    last_hour = office.filter(pl.col("interval") == 17)["abandoned"].mean()
    # What Erlang A expects of 17:00 on its own staffing (the day's tightest hour, 5.0%);
    # the queue carried over from 16:00 adds a little, the close adds nothing.
    demand = pool_demand(scenario, "office")[17]
    expected = erlang_a_metrics(demand.arrivals_per_hour, demand.aht_s,
                                scenario.available(scenario.pool("office"))[17],
                                demand.patience_s, demand.sl_target_s).p_abandon
    assert last_hour < expected + 0.025, (last_hour, expected)


# --- 9. a day's size is bounded -------------------------------------------------------------

def test_a_day_too_big_to_simulate_is_refused_with_the_bound():
    """15-minute intervals x 100,000 contacts were accepted: 9.6M contacts, 65 s, 4.3 GB."""
    data = tomllib.loads((EXAMPLES / "mmc_stationary.toml").read_text())
    data |= {"interval_minutes": 15}
    data["pools"][0]["operators"] = [12] * 96
    data["channels"][0]["arrivals"] = [100_000.0] * 96
    parsed = parse_scenario(data)
    assert not parsed.ok
    assert [p.field for p in parsed.problems] == ["channels"]
    assert f"the most is {MAX_CONTACTS_PER_DAY:,}" in parsed.problems[0].message
    data["channels"][0]["arrivals"] = [MAX_CONTACTS_PER_DAY / 96 * 0.8] * 96  # warm-up included
    assert parse_scenario(data).ok


# --- 10. rows dated in the future do not re-base the simulator -----------------------------

def test_a_far_future_contact_does_not_move_the_baseline_window(tmp_path, seeded_sqlite_url):
    copy = tmp_path / "future.db"
    shutil.copy(seeded_sqlite_url.removeprefix("sqlite:///"), copy)
    engine = create_db_engine(f"sqlite:///{copy}")
    try:
        with engine.connect() as connection:
            before, note_before = baseline_from_database(connection, 0, 8, 60)
        with engine.begin() as connection:
            template = connection.execute(text(
                "SELECT channel_id, region_id, service_type_id, operator_id FROM contacts "
                "WHERE served_by = 'operator' LIMIT 1")).one()
            connection.execute(text(
                "INSERT INTO contacts (external_id, started_at, channel_id, region_id, "
                "service_type_id, served_by, operator_id, wait_s, handle_s, subscriber_key) "
                "VALUES ('future-1', :at, :c, :r, :s, 'operator', :o, 5, 60, 'x')"),
                {"at": dt.datetime(2999, 6, 1, 12), "c": template[0], "r": template[1],
                 "s": template[2], "o": template[3]})
        with engine.connect() as connection:
            after, note_after = baseline_from_database(connection, 0, 8, 60)
    finally:
        engine.dispose()
    assert before is not None and after is not None
    assert note_after == note_before and "2999" not in note_after
    assert [c.arrivals for c in after.channels] == [c.arrivals for c in before.channels]


def test_day_length_is_whole_seconds():  # guards the constants the hand-computed cases use
    assert DAY_S == 86_400


# --- the three planner questions on the demo's learned baseline ----------------------------

def test_the_three_planner_questions_move_the_way_their_lever_pushes(seeded_sqlite_url):
    """Hire, automate, or the cheapest mix of both: on the baseline learned from the demo."""
    engine = create_db_engine(seeded_sqlite_url)
    try:
        with engine.connect() as connection:
            baseline, note = baseline_from_database(connection, 0, 8, 60)
    finally:
        engine.dispose()
    assert baseline is not None, note
    chats = [c for c in baseline.channels if c.name in form.CHAT_CHANNELS]
    # Measured, not assumed: the demo's bot hands some chats to people.
    assert all(0 < c.bot_share < 1 and 0.4 < c.bot_containment < 0.8 for c in chats)
    web = [c for c in baseline.channels if c.name in form.WEB_CHANNELS]
    assert all(c.self_service_share > 0.5 and c.bot_share == 0 for c in web)
    base = run(baseline, 8, 0)

    def changed(key: str):
        data, problems = form.apply_edits(baseline, form.PRESET_BY_KEY[key].edits)
        assert not problems
        return paired_changes(base.day, run(scenario_of(data), 8, 0).day).row(0, named=True)

    hire = changed("evening")
    assert hire["service_level_delta"] >= 0 and hire["operator_cost_delta"] > 0
    assert hire["service_level_delta_ci_low"] <= hire["service_level_delta"] \
        <= hire["service_level_delta_ci_high"]
    automate = changed("bot")
    assert automate["bot_contained_delta_ci_low"] > 0  # the bot finishes more chats
    assert automate["answered_delta_ci_high"] < 0  # people answer fewer
    # The operators' queue gets lighter. (The day's service level may still dip: time in the
    # bot counts against patience, and those who give up there count as misses.)
    assert automate["queue_service_level_delta"] >= 0
    assert automate["queue_abandoned_share_delta"] <= 0
    digital = form.pool_only(scenario_to_dict(baseline), "digital")
    grid = sweep(scenario_of(digital), "digital", [0.8, 1.2], [0.2], replications=3, seed=0,
                 executor=Serial())
    by_mix = {(r["operator_factor"], r["extra_bot_share"]): r for r in grid.iter_rows(named=True)}
    assert by_mix[(1.2, 0.0)]["service_level"] >= by_mix[(1.0, 0.0)]["service_level"]
    assert by_mix[(1.0, 0.2)]["bot_contained"] > by_mix[(1.0, 0.0)]["bot_contained"]
    assert by_mix[(1.0, 0.0)]["is_baseline"]


def test_the_page_sweeps_around_today_s_bot_not_the_form_s_extra_share():
    """The sweep's extra bot share is its own axis: the form's extra share is left out, the
    rest of the scenario (volume, staffing edits) is kept."""
    baseline = scenario_of(example())
    data = form.sweep_data(baseline, {"bot_add": 0.3, "bot_cont": 0.6, "mult": 1.2}, "digital")
    assert {c["pool"] for c in data["channels"]} == {"digital"}
    assert all(c["extra_bot_share"] == 0 for c in data["channels"])
    assert data["volume_multiplier"] == 1.2
