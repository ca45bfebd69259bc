"""Backtest: a right model reproduces the record; a wrong patience or staffing fails it."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import polars as pl
import pytest

from sim.backtest import (
    WAIT_EDGES_S,
    History,
    backtest,
    day_automation,
    day_scenario,
    verdict,
)
from sim.config import Channel, Pool, Scenario
from sim.model import PATH_BOT_CONTAINED, PATH_ESCALATED, PATH_SELF_SERVICE, simulate_day

PATIENCE_S = {"whatsapp": 420.0, "office": 1_800.0}
DAYS = [dt.date(2026, 3, 2) + dt.timedelta(days=n) for n in range(3)]


def _profile(peak: float) -> tuple[float, ...]:
    """Quarter-hour arrivals: quiet at night, a day hump."""
    hours = np.arange(96) / 4
    return tuple(float(v) for v in peak * (0.1 + np.exp(-((hours - 13) / 4) ** 2)))


def true_day() -> Scenario:
    """The 'real' centre: chats with a bot and patience 420 s, offices 09–18."""
    office_hours = tuple(1.0 if 9 <= q / 4 < 18 else 0.0 for q in range(96))
    office = tuple(a * o for a, o in zip(_profile(20), office_hours, strict=True))
    digital_agents = tuple(int(8 + 27 * np.exp(-((q / 4 - 13) / 5) ** 2)) for q in range(96))
    office_agents = tuple(28 if 9 <= q / 4 < 18 else 0 for q in range(96))
    return Scenario(
        name="truth", interval_minutes=15, warmup_s=3600,
        channels=(
            Channel("whatsapp", "digital", _profile(90), aht_s=480, patience_s=420.0,
                    handle_distribution="lognormal", handle_cv=0.8, bot_share=0.3,
                    bot_containment=0.6, bot_handle_s=100, sl_target_s=60),
            Channel("office", "office", office, aht_s=900, patience_s=1800.0,
                    handle_distribution="lognormal", handle_cv=0.6, sl_target_s=300),
        ),
        pools=(Pool("digital", operators=digital_agents, shrinkage=0.3, concurrency=2,
                    concurrency_slowdown=0.25),
               Pool("office", operators=office_agents, shrinkage=0.3)),
    )


def recorded(records: pl.DataFrame, day: dt.date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """What the database would hold for a simulated day: quarter and day rollup sums."""
    queued = pl.col("queue_join_s").is_not_null()
    abandoned = pl.col("abandoned") & queued
    answered = pl.col("answered")
    wait = pl.col("wait_s").floor()
    bucket = [(answered & (wait >= low) & (wait < high)).sum().alias(
        f"answered_wait_{low}_{high}s") for low, high in itertools.pairwise(WAIT_EDGES_S)]
    bucket.append((answered & (wait >= WAIT_EDGES_S[-1])).sum().alias(
        f"answered_wait_{WAIT_EDGES_S[-1]}s_plus"))
    served = answered | pl.col("path").is_in([PATH_BOT_CONTAINED, PATH_SELF_SERVICE])
    escalated = answered & (pl.col("path") == PATH_ESCALATED)
    base = records.filter(served | abandoned).with_columns(day=pl.lit(day),
                                                           quarter=pl.col("interval"))
    quarters = base.group_by("day", "channel", "quarter").agg(
        *bucket, contacts=served.sum(), abandoned=abandoned.sum(), answered=answered.sum(),
        answered_wait_s=wait.filter(answered).sum(),
        abandoned_wait_s=wait.filter(abandoned).sum(),
        answered_handle_s=pl.col("handle_s").filter(answered).sum(),
        escalated=escalated.sum(), bot_finished=(pl.col("path") == PATH_BOT_CONTAINED).sum(),
        self_served=(pl.col("path") == PATH_SELF_SERVICE).sum())
    automation = base.group_by("day", "channel").agg(
        contacts=served.sum(), by_operator=answered.sum(),
        by_bot=(pl.col("path") == PATH_BOT_CONTAINED).sum(),
        by_self_service=(pl.col("path") == PATH_SELF_SERVICE).sum(),
        escalated=escalated.sum(), abandoned=abandoned.sum(),
        abandoned_after_bot=(abandoned & (pl.col("path") == PATH_ESCALATED)).sum(),
        operator_wait_s=wait.filter(answered).sum(),
        abandoned_wait_s=wait.filter(abandoned).sum(),
        operator_handle_s=pl.col("handle_s").filter(answered).sum(),
        bot_handle_s=pl.col("bot_s").filter(pl.col("path") == PATH_BOT_CONTAINED).sum(),
        escalated_bot_s=pl.col("bot_s").filter(escalated).sum())
    counts = [c for c in quarters.columns if c not in ("day", "channel", "quarter")]
    return (quarters.with_columns(pl.col(counts).cast(pl.Int64)),
            automation.with_columns(pl.col(c).cast(pl.Int64) for c in automation.columns
                                    if c not in ("day", "channel")))


@pytest.fixture(scope="module")
def history() -> History:
    scenario = true_day()
    quarters, automation, staffing = [], [], []
    for index, day in enumerate(DAYS):
        records = simulate_day(scenario, replication=index, seed=2026)
        q, a = recorded(records, day)
        quarters.append(q)
        automation.append(a)
        for pool in scenario.pools:
            staffing.append(pl.DataFrame({"day": [day] * 96, "quarter": list(range(96)),
                                          "pool": [pool.name] * 96,
                                          "agents": list(pool.operators)}))
    return History(pl.concat(quarters), pl.concat(automation), pl.concat(staffing),
                   PATIENCE_S, targets={"whatsapp": (0.8, 60), "office": (0.8, 300)})


def test_day_scenario_replays_the_record(history):
    scenario = day_scenario(history, DAYS[0])
    chats = next(c for c in scenario.channels if c.name == "whatsapp")
    truth = next(c for c in true_day().channels if c.name == "whatsapp")
    assert chats.patience_s == 420.0 and scenario.interval_minutes == 15
    # Recorded handle time is slowed by concurrency (×1.25): the scenario's is one chat alone.
    assert chats.aht_s == pytest.approx(truth.aht_s, rel=0.1)
    assert chats.bot_share == pytest.approx(0.3, abs=0.04)
    assert chats.bot_containment == pytest.approx(0.6, abs=0.06)
    assert scenario.pool("office").operators == true_day().pool("office").operators
    assert day_scenario(history, dt.date(2020, 1, 1)) is None


def test_day_automation_counts_those_who_gave_up_after_the_bot():
    row = {"contacts": 80, "abandoned": 20, "by_bot": 30, "escalated": 15,
           "abandoned_after_bot": 5, "by_self_service": 10, "bot_handle_s": 3000,
           "escalated_bot_s": 1500}
    shares, factor = day_automation(row)
    assert factor == 1.0
    assert shares["bot_share"] == pytest.approx(50 / 100)
    assert shares["bot_containment"] == pytest.approx(30 / 50)
    assert shares["self_service_share"] == pytest.approx(0.1)
    assert shares["bot_handle_s"] == pytest.approx((3000 + 20 * 100) / 50)
    # With patience 400 s, a fifth of those handed over (bot 100 s) give up in the bot: the
    # replay offers 25 handovers so that 20 reach the queue, as on record.
    shares, factor = day_automation(row, patience_s=400.0)
    assert factor == pytest.approx(105 / 100)
    assert shares["bot_share"] == pytest.approx(55 / 105)
    assert shares["bot_containment"] == pytest.approx(30 / 55)


def test_right_model_passes_and_wrong_patience_or_staffing_fails(history):
    right = backtest(history, replications=8, seed=7).summary
    wrong_patience = backtest(history, replications=8, seed=7, patience_scale=0.2).summary
    short_staffed = backtest(history, replications=8, seed=7, staffing_scale=0.7).summary
    print({name: {k: s[k] for k in ("mae_sl_points", "mae_asa_s", "mae_abandonment_points",
                                    "worst_z", "inside_sl", "passes")}
           for name, s in (("right", right), ("patience x0.2", wrong_patience),
                           ("staffing -30%", short_staffed))})
    assert right["days"] == 3 and right["passes"], right["verdict"]
    assert right["worst_z"] < 3
    assert right["inside_sl"] >= 0.5
    assert not wrong_patience["passes"], wrong_patience["verdict"]
    # Impatient customers leave the bot and the queue early: the rest are answered sooner.
    assert wrong_patience["mae_sl_points"] > 3 * right["mae_sl_points"]
    assert wrong_patience["mae_asa_s"] > 3 * right["mae_asa_s"]
    assert not short_staffed["passes"], short_staffed["verdict"]
    assert short_staffed["mae_sl_points"] > 3 * right["mae_sl_points"]
    assert right["verdict"].startswith("Reproduces the 3 days")


def test_verdict_without_days():
    assert "No day" in verdict({"days": 0, "start": "2026-01-01", "end": "2026-01-02"})


def test_replications_must_allow_an_interval(history):
    with pytest.raises(ValueError, match="replications"):
        backtest(history, replications=1)


# --- On the demo: its own queue (Erlang A per quarter, from its roster) -----------------------

BACKTEST_FROM, BACKTEST_TO = dt.date(2022, 7, 4), dt.date(2022, 7, 31)
# The demo's patience per channel (data_access/demo/calibration.py, as sim/demand.py).
DEMO_PATIENCE_S = {"whatsapp": 420.0, "telegram": 420.0, "web_cabinet": 600.0,
                   "mobile_app": 600.0, "office": 1_800.0}


@pytest.fixture(scope="module")
def july_url(tmp_path_factory) -> str:
    """The demo's last five weeks at full scale: as many rows as the whole story at the
    seeded fixtures' scale (0.05), but days of 1,000-2,000 queued contacts per pool, where a
    day's service level is not just noise (at 0.05 a pool-day holds 50-100)."""
    from data_access.demo import DemoConfig, generate_demo
    from data_access.engine import create_db_engine

    url = f"sqlite:///{tmp_path_factory.mktemp('july') / 'july.db'}"
    engine = create_db_engine(url)
    generate_demo(engine, DemoConfig(scale=1.0, start=dt.date(2022, 6, 27), end=BACKTEST_TO))
    engine.dispose()
    return url


def test_patience_learned_from_the_demo_covers_its_true_values(july_url):
    from data_access.engine import create_db_engine
    from sim.learn import learned_patience

    engine = create_db_engine(july_url)
    with engine.connect() as connection:
        learned = learned_patience(connection, BACKTEST_FROM, BACKTEST_TO)
    engine.dispose()
    rows = {row["channel"]: row for row in learned.iter_rows(named=True)}
    print({code: (round(row["patience_s"]), round(row["patience_low_s"]),
                  round(row["patience_high_s"])) for code, row in rows.items()})
    for code, truth in DEMO_PATIENCE_S.items():
        assert rows[code]["patience_low_s"] <= truth <= rows[code]["patience_high_s"], code


def test_demo_backtest_passes_and_a_wrong_patience_or_staffing_fails_it(july_url):
    from data_access.engine import create_db_engine
    from sim.learn import backtest_from_database

    engine = create_db_engine(july_url)
    with engine.connect() as connection:
        runs = {name: backtest_from_database(connection, BACKTEST_FROM, BACKTEST_TO, 5, 0,
                                             **change).summary
                for name, change in (("right", {}), ("patience x0.2", {"patience_scale": 0.2}),
                                     ("staffing -30%", {"staffing_scale": 0.7}))}
    engine.dispose()
    print({name: {key: round(s[key], 2) for key in ("mae_sl_points", "mae_asa_s",
                                                      "mae_abandonment_points", "worst_z")}
           for name, s in runs.items()})
    right = runs["right"]
    assert right["days"] == 28 and right["passes"], right["verdict"]
    assert right["mae_sl_points"] < 3 and right["worst_z"] < 3
    for name in ("patience x0.2", "staffing -30%"):
        assert not runs[name]["passes"], runs[name]["verdict"]
        assert runs[name]["worst_z"] > 3 * right["worst_z"], name
    assert runs["patience x0.2"]["bias_asa_s"] > 10  # impatient customers leave: shorter waits
    assert runs["staffing -30%"]["mae_sl_points"] > 10


def test_backtest_command_answers_first(july_url):
    import json
    import subprocess
    import sys

    shown = subprocess.run([sys.executable, "-m", "sim", "backtest", "--from", "2022-07-25",
                            "--to", "2022-07-31", "--replications", "3", "--db", july_url],
                           capture_output=True, text=True, check=True)
    assert shown.stdout.startswith("Reproduces the 7 days from 2022-07-25 to 2022-07-31") or \
        shown.stdout.startswith("Does not reproduce the 7 days"), shown.stdout
    as_json = subprocess.run([sys.executable, "-m", "sim", "backtest", "--from", "2022-07-25",
                              "--to", "2022-07-31", "--replications", "3", "--db", july_url,
                              "--json"], capture_output=True, text=True, check=True)
    data = json.loads(as_json.stdout)
    assert data["summary"]["days"] == 7 and len(data["days"]) >= 7
    assert {"recorded_sl", "sim_sl", "sim_sl_low", "sim_sl_high"} <= set(data["days"][0])
    wrong = subprocess.run([sys.executable, "-m", "sim", "backtest", "--from", "2022-07-31",
                            "--to", "2022-07-01", "--db", july_url],
                           capture_output=True, text=True)
    assert wrong.returncode == 2 and "--to 2022-07-01 is before --from 2022-07-31" in wrong.stderr
