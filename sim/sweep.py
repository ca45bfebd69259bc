"""Grid sweep of operators × automation share, and the cost frontier it implies.

Each cell is the baseline day with every interval's scheduled operators in the chosen pool
multiplied by a factor, and a bot/self-service share on the pool's channels. The frontier marks
mixes that no other mix beats on both cost and service level: the answer to "hire or automate?"
for this demand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import Executor

import numpy as np
import polars as pl

from sim.config import Scenario
from sim.nps import WaitNpsCurve, predict
from sim.results import confidence, day_results
from sim.runner import Progress, map_tasks, simulate_replications

SWEEP_METRICS = ("service_level", "asa_s", "abandoned_share", "occupancy", "cost",
                 "operator_cost", "bot_cost")


def scaled(scenario: Scenario, pool: str, operator_factor: float, automation_share: float,
           containment: float | None = None, channels: Sequence[str] | None = None
           ) -> Scenario:
    """The scenario with `pool`'s operators scaled and a bot share on `channels`.

    `channels` defaults to all of the pool's channels.
    """
    base = scenario.scheduled(scenario.pool(pool))
    operators = tuple(math.floor(n * operator_factor + 0.5) for n in base)  # half rounds up
    members = tuple(channels) if channels else tuple(
        c.name for c in scenario.channels if c.pool == pool)
    return scenario.with_pool_operators(pool, operators).with_automation(
        automation_share, containment, members)


def _cell(scenario: Scenario, replications: int, seed: int, curve: WaitNpsCurve | None
          ) -> pl.DataFrame:
    records = simulate_replications(scenario, range(replications), seed)
    summary = confidence(day_results(records, scenario, replications=range(replications)),
                         SWEEP_METRICS)
    if curve is not None:
        in_day = records.filter(~pl.col("warmup"))
        summary = summary.with_columns(**{k: pl.lit(v) for k, v in predict(in_day,
                                                                           curve).items()})
    return summary


def sweep(scenario: Scenario, pool: str, operator_factors: Sequence[float],
          automation_shares: Sequence[float], containment: float | None = None,
          replications: int = 5, seed: int = 0, executor: Executor | None = None,
          curve: WaitNpsCurve | None = None, progress: Progress | None = None,
          channels: Sequence[str] | None = None) -> pl.DataFrame:
    """One row per (operator factor, automation share) with CIs, and a frontier flag."""
    cells = [(float(f), float(a)) for f in operator_factors for a in automation_shares]
    mixes = [scaled(scenario, pool, f, a, containment, channels) for f, a in cells]
    summaries = map_tasks(_cell, [(mix, replications, seed, curve) for mix in mixes],
                          executor, progress, "Sweep mixes")
    rows = [summary.with_columns(
        operator_factor=pl.lit(factor), automation_share=pl.lit(share),
        operator_hours=pl.lit(sum(mix.scheduled(mix.pool(pool))) * mix.interval_minutes / 60))
        for (factor, share), mix, summary in zip(cells, mixes, summaries, strict=True)]
    grid = pl.concat(rows, how="diagonal")
    return with_frontier(grid).select("operator_factor", "automation_share", "operator_hours",
                                      pl.exclude("operator_factor", "automation_share",
                                                 "operator_hours"))


def with_frontier(grid: pl.DataFrame) -> pl.DataFrame:
    """Flag mixes on the cost/service-level Pareto frontier (no other mix is cheaper and better)."""
    cost = grid["cost"].to_numpy()
    level = grid["service_level"].to_numpy()
    dominated = np.zeros(grid.height, dtype=bool)
    for i in range(grid.height):
        better = (cost <= cost[i]) & (level >= level[i]) & ((cost < cost[i])
                                                            | (level > level[i]))
        dominated[i] = bool(better.any())
    return grid.with_columns(on_frontier=pl.Series(~dominated))
