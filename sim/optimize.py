"""The cheapest staffing per interval that meets the service level and the abandonment cap.

Erlang A brackets the answer (it is exact for one stationary queue with exponential times),
then the simulation confirms it: intervals that miss a target in simulation get one more
operator and the day is simulated again, until every interval passes or the rounds run out.
Simulation matters because real days are not stationary, chats run concurrently, bots hand
over late, and queues carry from one interval into the next.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

import polars as pl

from sim.config import Scenario
from sim.demand import erlang_plan
from sim.results import operator_cost
from sim.runner import run


@dataclass(frozen=True)
class StaffingPlan:
    scenario: Scenario  # with the confirmed operators per interval
    table: pl.DataFrame  # pool, interval, erlang_a, operators, service_level, abandoned_share
    rounds: int
    met: bool  # every interval with demand meets its targets in simulation
    cost: float


def _interval_targets(scenario: Scenario) -> dict[str, tuple[float, float]]:
    """Per pool: the strictest service-level share among its channels, and the abandon cap."""
    targets = {}
    for pool in scenario.pools:
        shares = [c.sl_target_share for c in scenario.channels if c.pool == pool.name]
        targets[pool.name] = (max(shares, default=0.0), scenario.abandon_cap)
    return targets


def optimize(scenario: Scenario, replications: int = 10, seed: int = 0, max_rounds: int = 8,
             executor: Executor | None = None) -> StaffingPlan:
    bracket = {pool.name: erlang_plan(scenario, pool.name) for pool in scenario.pools}
    plan = {name: list(values) for name, values in bracket.items()}
    targets = _interval_targets(scenario)
    candidate = scenario
    table = pl.DataFrame()
    met = False
    rounds = 0
    for rounds in range(1, max_rounds + 1):  # noqa: B007 - the last round is reported
        for name, values in plan.items():
            candidate = candidate.with_pool_operators(name, tuple(values))
        result = run(candidate, replications, seed, executor)
        table = (
            result.interval_summary()
            .select("pool", "interval", "queued", "service_level", "abandoned_share",
                    "occupancy")
            .with_columns(
                erlang_a=pl.struct("pool", "interval").map_elements(
                    lambda key: bracket[key["pool"]][key["interval"]], return_dtype=pl.Int64),
                operators=pl.struct("pool", "interval").map_elements(
                    lambda key: plan[key["pool"]][key["interval"]], return_dtype=pl.Int64),
            )
        )
        misses = table.filter(
            (pl.col("queued") > 0)
            & ((pl.col("service_level") < pl.col("pool").replace_strict(
                {k: v[0] for k, v in targets.items()}, return_dtype=pl.Float64))
               | (pl.col("abandoned_share") > pl.col("pool").replace_strict(
                   {k: v[1] for k, v in targets.items()}, return_dtype=pl.Float64)))
        )
        if misses.is_empty():
            met = True
            break
        for row in misses.iter_rows(named=True):
            plan[row["pool"]][row["interval"]] += 1
    return StaffingPlan(candidate, table.sort("pool", "interval"), rounds, met,
                        operator_cost(candidate))
