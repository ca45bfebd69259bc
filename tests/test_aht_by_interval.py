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


def test_hourly_aht_keeps_the_channels_level_and_takes_the_hours_shape():
    from sim.learn import hourly_aht
    hours = pl.DataFrame({"hour": [9, 10], "answered": [100, 300], "aht_s": [300.0, 500.0]})
    # Weighted hour mean 450 s; the channel's learned level is 360 s (another population).
    values = hourly_aht(360.0, hours, 60)
    assert len(values) == 24
    assert values[9] == 240.0 and values[10] == 400.0  # 360 × 300/450, 360 × 500/450
    assert values[0] == 360.0  # an hour with no row takes the channel's mean
    assert hourly_aht(360.0, hours, 30)[19] == 240.0  # 09:30 is hour 9
    assert hourly_aht(360.0, hours.clear(), 60) == ()


def test_the_learned_baseline_carries_handle_time_per_hour(seeded_sqlite_url):
    from data_access.engine import create_db_engine
    from sim.learn import baseline_from_database
    engine = create_db_engine(seeded_sqlite_url)
    try:
        with engine.connect() as connection:
            baseline, _ = baseline_from_database(connection, 0, 8, 60)
    finally:
        engine.dispose()
    assert baseline is not None
    for channel in baseline.channels:
        assert len(channel.aht_by_interval_s) == 24, channel.name
        # The hours vary around the channel's learned level, which they keep.
        assert 0.3 * channel.aht_s < min(channel.aht_by_interval_s)
        assert max(channel.aht_by_interval_s) < 3 * channel.aht_s
