"""Per-interval mean handle time (issue 16): absent or constant = the one-mean day, exactly;
a slow interval is slow; both engines agree; bad lengths are refused by name."""

from __future__ import annotations

import math
import tomllib

import polars as pl

from sim.config import parse_scenario, scenario_to_dict
from sim.demand import pool_demand
from sim.model import simulate_day
from sim.tomlio import dumps


def day(aht_by_interval_s: list[float] | None = None, agents: int = 14) -> dict:
    channel = {"name": "calls", "pool": "agents", "arrivals": [100.0] * 24, "aht_s": 360.0,
               "patience_s": 600.0}
    if aht_by_interval_s is not None:
        channel["aht_by_interval_s"] = aht_by_interval_s
    return {"name": "day", "interval_minutes": 60, "warmup_s": 3600,
            "pools": [{"name": "agents", "operators": [agents] * 24}], "channels": [channel]}


def scenario(data: dict):
    parsed = parse_scenario(data)
    assert parsed.ok, parsed.problems
    return parsed.scenario


def test_constant_values_equal_to_aht_give_the_same_records():
    plain = scenario(day())
    constant = scenario(day([360.0] * 24))
    for engine in ("process", "fast"):
        assert simulate_day(constant, 0, 5, engine=engine).equals(
            simulate_day(plain, 0, 5, engine=engine))


def test_a_slow_interval_is_slow_and_both_engines_agree():
    aht = [360.0] * 24
    aht[10] = 540.0
    slow = scenario(day(aht))
    records = simulate_day(slow, 0, 3, engine="fast")
    assert records.equals(simulate_day(slow, 0, 3, engine="process"))
    plain = simulate_day(scenario(day()), 0, 3, engine="fast")
    served = records.filter(pl.col("interval") == 10)["handle_s"].drop_nulls()
    # Exponential handle times: the mean of n draws has sd mean/sqrt(n); 4 sd is far out.
    assert abs(served.mean() - 540.0) < 4 * 540.0 / math.sqrt(served.len())
    def wait(frame: pl.DataFrame) -> float:
        return frame.filter(pl.col("interval") == 10)["wait_s"].drop_nulls().mean()
    assert wait(records) > wait(plain)


def test_erlang_sizing_uses_the_interval_mean():
    aht = [360.0] * 24
    aht[10] = 540.0
    demand = pool_demand(scenario(day(aht)), "agents")
    assert demand[10].aht_s == 540.0 and demand[9].aht_s == 360.0


def test_wrong_length_and_bad_value_are_refused_by_name():
    parsed = parse_scenario(day([360.0] * 23))
    assert not parsed.ok
    assert any(p.field == "channels[0].aht_by_interval_s" and "23" in p.message
               for p in parsed.problems), parsed.problems
    bad = [360.0] * 24
    bad[3] = 0.0
    parsed = parse_scenario(day(bad))
    assert any(p.field == "channels[0].aht_by_interval_s[3]" for p in parsed.problems)


def test_toml_round_trip_keeps_the_values_and_leaves_them_out_when_absent():
    aht = [360.0] * 24
    aht[10] = 540.0
    again = scenario(tomllib.loads(dumps(scenario_to_dict(scenario(day(aht))))))
    assert again.channels[0].aht_by_interval_s[10] == 540.0
    assert "aht_by_interval_s" not in dumps(scenario_to_dict(scenario(day())))
