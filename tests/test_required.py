"""Required agents from the forecast: Erlang A minimum for the targets, shrinkage, and the
simulation check that the simulator's own queue meets the targets with those agents."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from sim.demand import PATIENCE_S, SHRINKAGE, agents_on_queue, erlang_plan, pool_demand
from sim.erlang import erlang_a_metrics
from sim.forecast import QUARTERS
from sim.required import (
    REQUIRED_SCHEMA,
    agents_before_shrinkage,
    day_scenario,
    required_agents,
    simulation_check,
)

MONDAY, SUNDAY = dt.date(2024, 7, 1), dt.date(2024, 7, 7)
CHANNELS = ("office", "whatsapp", "telegram", "web_cabinet", "mobile_app")


def handling() -> pl.DataFrame:
    """Handling per channel as data_access.queries.handling_by_channel returns it."""
    rows = [
        # channel, contacts, by_operator, by_bot, by_self_service, escalated, aht, bot, esc bot
        ("office", 1000, 1000, 0, 0, 0, 900.0, None, None),
        ("whatsapp", 1000, 500, 300, 0, 200, 420.0, 60.0, 40.0),
        ("telegram", 1000, 500, 300, 0, 200, 400.0, 60.0, 40.0),
        ("web_cabinet", 1000, 300, 0, 700, 0, 360.0, None, None),
        ("mobile_app", 1000, 300, 0, 700, 0, 360.0, None, None),
    ]
    return pl.DataFrame(rows, orient="row", schema={
        "channel": pl.String, "contacts": pl.Int64, "by_operator": pl.Int64,
        "by_bot": pl.Int64, "by_self_service": pl.Int64, "escalated": pl.Int64,
        "operator_aht_s": pl.Float64, "bot_handle_s": pl.Float64,
        "escalated_bot_s": pl.Float64})


def forecast(days: list[dt.date], per_quarter: float) -> pl.DataFrame:
    """A flat forecast: `per_quarter` arrivals in every quarter and channel (offices too; the
    scenario closes them outside opening hours)."""
    grid = [(day, channel, quarter, per_quarter) for day in days for channel in CHANNELS
            for quarter in range(QUARTERS)]
    return pl.DataFrame(grid, orient="row", schema={"day": pl.Date, "channel": pl.String,
                                                    "quarter": pl.Int16,
                                                    "forecast": pl.Float64})


def test_required_agents_are_the_erlang_a_minimum_and_shrinkage_gives_the_scheduled():
    frame = forecast([MONDAY, SUNDAY], 6.0)
    required = required_agents(frame, handling())
    assert required.schema == pl.Schema(REQUIRED_SCHEMA)
    assert required.height == 2 * 2 * QUARTERS
    before = required["agents_before_shrinkage"].to_numpy()
    expected = np.ceil(before / (1 - SHRINKAGE) - 1e-9)
    assert (required["required_agents"].to_numpy() == expected).all()
    scenario = day_scenario(frame.filter(pl.col("day") == MONDAY), handling(), MONDAY)
    for pool in ("office", "digital"):
        monday = required.filter(pl.col("date") == MONDAY, pl.col("pool") == pool)
        assert tuple(monday["required_agents"]) == erlang_plan(scenario, pool)
        assert monday["agents_before_shrinkage"].to_list() == agents_on_queue(scenario, pool)
    # Minimal: Erlang A meets the targets with the office's agents, and not with one fewer.
    office = scenario.pool("office")
    checked = 0
    for quarter, demand in enumerate(pool_demand(scenario, "office")):
        if demand is None:
            continue
        agents = agents_on_queue(scenario, "office")[quarter]
        at = erlang_a_metrics(demand.arrivals_per_hour, demand.aht_s, agents,
                              demand.patience_s, demand.sl_target_s)
        below = erlang_a_metrics(demand.arrivals_per_hour, demand.aht_s, agents - 1,
                                 demand.patience_s, demand.sl_target_s)
        assert at.service_level >= demand.sl_share and at.p_abandon <= scenario.abandon_cap
        assert (below.service_level < demand.sl_share or below.p_abandon > scenario.abandon_cap
                or agents - 1 <= math.floor(demand.load_erlangs))
        checked += 1
    assert checked == (office.close_h - office.open_h) * 4
    # Offices are closed on Sunday: nobody needed, though the forecast had arrivals.
    sunday_office = required.filter(pl.col("date") == SUNDAY, pl.col("pool") == "office")
    assert sunday_office["agents_before_shrinkage"].sum() == 0
    # Pool arrivals are the forecast summed over the pool's channels (all arrivals).
    digital = required.filter(pl.col("date") == MONDAY, pl.col("pool") == "digital")
    assert digital["forecast_contacts"].to_list() == pytest.approx([24.0] * QUARTERS)
    assert (digital["human_contacts"] < digital["forecast_contacts"]).all()


@pytest.mark.parametrize("shrinkage", [0.0, 0.05, 0.1, 0.3, 1 / 3, 0.5, 0.7, 0.95])
def test_agents_read_back_from_the_scheduled_count_for_every_shrinkage(shrinkage):
    for agents in range(0, 300):
        scheduled = math.ceil(agents / (1 - shrinkage) - 1e-9)  # as sim.demand.erlang_plan
        assert agents_before_shrinkage(scheduled, shrinkage) == agents


def test_more_demand_never_needs_fewer_agents_and_patience_is_used():
    low = required_agents(forecast([MONDAY], 3.0), handling())
    high = required_agents(forecast([MONDAY], 9.0), handling())
    assert (high["agents_before_shrinkage"] >= low["agents_before_shrinkage"]).all()
    assert high["agents_before_shrinkage"].sum() > low["agents_before_shrinkage"].sum()
    impatient = required_agents(forecast([MONDAY], 9.0), handling(),
                                patience_s={code: 30.0 for code in PATIENCE_S})
    assert impatient["agents_before_shrinkage"].sum() > high["agents_before_shrinkage"].sum()


def test_the_simulator_meets_the_targets_with_the_required_agents():
    """Simulated with its Erlang A staffing, the office day reaches the service level on the
    whole and in most quarters (a quarter's queue carries into the next, which Erlang A
    ignores, so a few quarters may miss)."""
    frame = forecast([MONDAY], 8.0)
    check = simulation_check(frame, handling(), [MONDAY], replications=8, seed=3)
    office = check.filter(pl.col("pool") == "office", pl.col("offered") > 0)
    assert office.height == 9 * 4
    assert office["meets"].mean() >= 0.8
    assert office["queue_service_level"].mean() >= 0.8
    digital = check.filter(pl.col("pool") == "digital", pl.col("offered") > 0)
    assert digital["meets"].mean() >= 0.8
    with pytest.raises(ValueError, match="days: 2024-07-02 is not in the forecast"):
        simulation_check(frame, handling(), [MONDAY + dt.timedelta(days=1)])
