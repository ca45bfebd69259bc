"""The plan simulated: a week of staffing through the simulator with the forecast's arrivals."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from sim.nps import WaitNpsCurve
from sim.plan import simulate_plan, with_extra_operators
from sim.required import required_agents
from tests.test_required import MONDAY, forecast, handling

CURVE = WaitNpsCurve(lower_s=(0, 60, 300), labels=("fast", "slow", "very slow"),
                     nps=(60.0, 30.0, -20.0), se=(1.0, 1.0, 1.0), responses=(500, 500, 500),
                     bot_nps=40.0, bot_se=1.0)
DAYS = [MONDAY, MONDAY + dt.timedelta(days=1)]


def staffing_of(required: pl.DataFrame) -> pl.DataFrame:
    return required.select("date", "quarter", "pool", agents="required_agents")


def test_a_plan_covering_the_requirement_meets_the_target_where_coverage_holds():
    """Staffed at the requirement, the simulated queue reaches each pool's target in the
    quarters (a few may miss from queues carried over between quarters), on every day, and
    the week's service level is at the target or above with its CI."""
    week = forecast(DAYS, 8.0)
    required = required_agents(week, handling())
    plan = simulate_plan(week, handling(), staffing_of(required), replications=10, seed=1,
                         curve=CURVE)
    assert plan.days.height == 2
    busy = plan.intervals.filter(pl.col("queued") > 0)
    covered = busy.join(required.rename({"required_agents": "required"}),
                        on=["date", "pool", "quarter"]).filter(
        pl.col("agents") >= pl.col("required"))
    assert covered.height == busy.height
    assert covered["meets"].mean() >= 0.9
    assert (plan.days["queue_service_level"] >= 0.8).all()
    assert plan.week["queue_service_level_ci_low"][0] >= 0.8
    assert plan.days["queue_service_level_ci_low"].le(
        plan.days["queue_service_level"]).all()
    # Predicted NPS sits inside the curve's range, with its interval.
    nps = plan.days["predicted_nps"]
    assert ((nps > -20) & (nps < 60)).all()
    assert (plan.days["predicted_nps_ci_low"] <= nps).all()
    # The week's cost is the sum of its days.
    assert plan.week["cost"][0] == pytest.approx(plan.days["cost"].sum())


def test_fewer_operators_lower_the_service_level_and_the_cost():
    week = forecast([MONDAY], 8.0)
    staffing = staffing_of(required_agents(week, handling()))
    base = simulate_plan(week, handling(), staffing, replications=8, seed=2)
    fewer = simulate_plan(week, handling(), with_extra_operators(staffing, "office", -2),
                          replications=8, seed=2)
    assert fewer.week["cost"][0] < base.week["cost"][0]
    office = [plan.intervals.filter(pl.col("pool") == "office", pl.col("queued") > 0)
              ["queue_service_level"].mean() for plan in (base, fewer)]
    assert office[1] < office[0] - 0.05


def test_more_bot_share_takes_work_off_the_digital_queue():
    week = forecast([MONDAY], 8.0)
    staffing = staffing_of(required_agents(week, handling()))
    base = simulate_plan(week, handling(), staffing, replications=8, seed=4)
    bot = simulate_plan(week, handling(), staffing, replications=8, seed=4,
                        extra_bot_share=0.3)
    assert bot.week["queued"][0] < base.week["queued"][0]


def test_staffing_without_its_columns_is_refused_by_name():
    with pytest.raises(ValueError, match="staffing: missing column"):
        simulate_plan(forecast([MONDAY], 1.0), handling(),
                      pl.DataFrame({"date": [MONDAY], "pool": ["office"]}))
