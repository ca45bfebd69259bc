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
                                    "inside_sl", "passes")}
           for name, s in (("right", right), ("patience x0.2", wrong_patience),
                           ("staffing -30%", short_staffed))})
    assert right["days"] == 3 and right["passes"], right["verdict"]
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
